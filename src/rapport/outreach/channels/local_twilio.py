"""A local stand-in for the part of Twilio's Messages API that Rapport uses — it sends nothing.

For tests, benchmarks and trying Rapport offline: point ``RAPPORT_TWILIO_API_BASE`` at :attr:`LocalTwilio.url`
and the real twilio-python client talks to this server instead of ``api.twilio.com``. It checks what
Twilio checks first (HTTP Basic auth with the account SID and auth token, the required fields, an E.164
'To' number) and answers in Twilio's shapes (the Message resource, Twilio's JSON errors with their
codes, the paged list), keeps every accepted request, and can be told to fail the next sends the way
Twilio does (:meth:`LocalTwilio.fail_next`). No message ever reaches a phone; no status callback is made.

Messages it accepts answer ``queued`` (as Twilio does) and are listed afterwards as ``sent``, with the
send date set to the creation time, so a search by send date finds them. Times come from
:func:`rapport.clock.now`, so a test that fixes the clock sees consistent dates.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import secrets
import socket
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from pydantic import SecretStr

from rapport import clock
from rapport.outreach.settings import OutreachSettings

API_VERSION = "2010-04-01"
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
#: GSM 03.38 basic set and extension: a body of only these is 160 characters a segment, else 70 (UCS-2).
_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)


class LocalTwilio:
    """Twilio's Messages API on a local port, in a background thread (a context manager)."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None, host: str = "127.0.0.1") -> None:
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self._host = host
        self._lock = threading.Lock()
        self._requests: list[dict[str, str]] = []
        self._stored: list[dict[str, Any]] = []
        self._failures: deque[tuple[int, int, str, int | None]] = deque()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        #: Stall the next create: (after accepting it?) — for killing a worker mid-send in tests.
        self._stall: bool | None = None
        #: Set when a create reaches the stall; the request then waits for :meth:`release`.
        self.stalled = threading.Event()
        self._released = threading.Event()

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> LocalTwilio:
        server = _Server((self._host, 0), _Handler)
        server.twilio = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-twilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.connections_lock:
            open_connections = list(server.connections)
        for conn in open_connections:  # wake handler threads waiting on kept-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalTwilio:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to use instead of https://api.twilio.com."""
        if self._server is None:
            raise RuntimeError("LocalTwilio is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def settings(self, **extra: Any) -> OutreachSettings:
        """Outreach settings that send SMS and WhatsApp here (``extra`` overrides or adds fields)."""
        values: dict[str, Any] = {
            "twilio_account_sid": self.account_sid,
            "twilio_auth_token": SecretStr(self.auth_token),
            "twilio_api_base": self.url,
        }
        values.update(extra)
        return OutreachSettings(**values)

    # -- what tests look at and steer ----------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, str]]:
        """Every accepted create request, as its form fields (To, From, Body, StatusCallback, ...), oldest first."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def fail_next(
        self, status: int, code: int, message: str, times: int = 1, *, retry_after: int | None = None
    ) -> None:
        """Answer the next ``times`` create calls with this Twilio error (and a Retry-After header, if given)."""
        with self._lock:
            self._failures.extend([(status, code, message, retry_after)] * times)

    def stall_next(self, *, after_accepting: bool) -> None:
        """Make the next create call hang — before it is accepted (the provider never got the message)
        or after (the provider has it, the caller never hears so) — until :meth:`release`; ``stalled``
        is set when it gets there. For killing a worker at exactly that point."""
        with self._lock:
            self._stall = after_accepting
            self.stalled.clear()
            self._released.clear()

    def release(self) -> None:
        """Let a stalled request go on (its client may be long gone)."""
        self._released.set()

    def _maybe_stall(self, accepted: bool) -> None:
        with self._lock:
            if self._stall is None or self._stall != accepted:
                return
            self._stall = None
        self.stalled.set()
        self._released.wait(timeout=60)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._stored.clear()
            self._failures.clear()

    # -- the API -------------------------------------------------------------------------------

    def handle(self, request: _Handler, method: str) -> None:
        parts = urlsplit(request.path)
        match = _MESSAGES.match(parts.path)
        if not match:
            request.reply(404, _error(404, 20404, f"The requested resource {parts.path} was not found"))
            return
        if not self._authorised(request.headers.get("Authorization", "")):
            request.reply(401, _error(401, 20003, "Authenticate"))
            return
        if match.group(1) != self.account_sid:
            request.reply(404, _error(404, 20404, f"The requested resource {parts.path} was not found"))
            return
        if method == "POST":
            length = int(request.headers.get("Content-Length") or 0)
            form = _single(parse_qs(request.rfile.read(length).decode("utf-8"), keep_blank_values=True))
            self._create(request, form)
        else:
            self._list(request, _single(parse_qs(parts.query, keep_blank_values=True)))

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(password, self.auth_token)

    def _create(self, request: _Handler, form: dict[str, str]) -> None:
        self._maybe_stall(accepted=False)
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            status, code, message, retry_after = failure
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            request.reply(status, _error(status, code, message), headers)
            return
        problem = _invalid(form)
        if problem is not None:
            code, message = problem
            request.reply(400, _error(400, code, message))
            return
        now = clock.now().astimezone(UTC)
        sid = "SM" + secrets.token_hex(16)
        service = form.get("MessagingServiceSid") or None
        sender = form.get("From") or None
        body = form.get("Body", "") if not form.get("ContentSid") else ""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        resource: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": format_datetime(now),
            "date_sent": None,
            "date_updated": format_datetime(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
            "to": form["To"],
            "uri": f"{base}.json",
        }
        listed = dict(resource, status="sent", date_sent=resource["date_created"], _sent_at=now)
        with self._lock:
            self._requests.append(form)
            self._stored.append(listed)
        self._maybe_stall(accepted=True)
        request.reply(201, resource)

    def _list(self, request: _Handler, query: dict[str, str]) -> None:
        try:
            after = _bound(query.get("DateSent>"), upper=False)
            before = _bound(query.get("DateSent<"), upper=True)
            on = query.get("DateSent")
            size = max(1, min(1000, int(query.get("PageSize", "50"))))
            page = max(0, int(query.get("Page", "0")))
        except ValueError as exc:
            request.reply(400, _error(400, 20001, f"Invalid filter: {exc}"))
            return
        with self._lock:
            stored = list(self._stored)
        found = [
            m
            for m in reversed(stored)  # newest first, as Twilio lists them
            if ("To" not in query or m["to"] == query["To"])
            and ("From" not in query or m["from"] == query["From"])
            and (after is None or m["_sent_at"] >= after)
            and (before is None or m["_sent_at"] <= before)
            and (on is None or m["_sent_at"].date().isoformat() == on[:10])
        ]
        chunk = found[page * size : (page + 1) * size]
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        kept = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(n: int) -> str:
            return f"{path}?{urlencode({**kept, 'PageSize': size, 'Page': n})}"

        more = len(found) > (page + 1) * size
        request.reply(
            200,
            {
                "messages": [{k: v for k, v in m.items() if not k.startswith("_")} for m in chunk],
                "end": page * size + max(len(chunk) - 1, 0),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": page * size,
                "uri": page_uri(page),
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    twilio: LocalTwilio

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the twilio client reuses its connections
    disable_nagle_algorithm = True
    timeout = 60
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def _dispatch(self, method: str) -> None:
        try:
            self.server.twilio.handle(self, method)
        except Exception as exc:  # answer like a server error rather than dropping the connection
            self.reply(500, _error(500, 20500, f"Internal server error: {type(exc).__name__}: {exc}"))

    def reply(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark pushes thousands of requests through."""


def _single(values: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in values.items()}


def _error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _invalid(form: dict[str, str]) -> tuple[int, str] | None:
    """Twilio's checks on a new message, in Twilio's order, as (error code, message)."""
    to = form.get("To", "")
    sender = form.get("From", "")
    if not to:
        return 21604, "A 'To' phone number is required."
    if not sender and not form.get("MessagingServiceSid"):
        return 21603, "A 'From' phone number is required."
    if not (form.get("Body") or form.get("ContentSid") or form.get("MediaUrl")):
        return 21602, "Message body is required."
    if not _E164.match(to.removeprefix("whatsapp:")):
        return 21211, f"Invalid 'To' Phone Number: {to}"
    if sender and to.startswith("whatsapp:") != sender.startswith("whatsapp:"):
        return 21910, "Invalid From and To pair. From and To should be of the same channel"
    if len(form.get("Body", "")) > 1600:
        return 21617, "The concatenated message body exceeds the 1600 character limit."
    return None


def _segments(body: str) -> int:
    if not body:
        return 1
    single, part = (160, 153) if all(c in _GSM7 for c in body) else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // part)


def _bound(value: str | None, *, upper: bool) -> datetime | None:
    """A DateSent filter value (a day, or an ISO 8601 instant in UTC) as an instant, inclusive."""
    if not value:
        return None
    if len(value) == 10:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        return day + timedelta(days=1) - timedelta(microseconds=1) if upper else day
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
