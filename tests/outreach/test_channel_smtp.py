"""Client email through a real (local) SMTP server: the message as it arrives, TLS and login, refusals."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from rapport.associates.notifications import EmailSettings
from rapport.outreach.channels.base import Envelope, PermanentFailure, TransientFailure
from rapport.outreach.channels.smtp import SmtpChannel, plain_to_html


@dataclass
class Inbox:
    """An SMTP server's handler that keeps what it is sent, who logged in, and over how many connections."""

    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    peers: set[Any] = field(default_factory=set)
    #: Recipient -> the reply the server gives at RCPT TO ("550 5.1.1 no such mailbox").
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        self.peers.add(session.peer)
        return "250 Message accepted for delivery"

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        """aiosmtpd's authenticator: one account, rapport / s3cret."""
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"rapport", b"s3cret")
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(inbox: Inbox, port: int, **options: Any) -> Controller:
    options.setdefault("auth_require_tls", False)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=inbox, **options)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = _server(inbox, port)
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it through SSL_CERT_FILE)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server_context(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def channels() -> Iterator[list[SmtpChannel]]:
    """Channels made by a test, closed after it (a kept connection is a socket)."""
    made: list[SmtpChannel] = []
    yield made
    for channel in made:
        channel.close()


def channel_to(made: list[SmtpChannel], port: int, **extra: Any) -> SmtpChannel:
    channel = SmtpChannel(EmailSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=5, **extra))
    made.append(channel)
    return channel


def envelope(**changes: Any) -> Envelope:
    values: dict[str, Any] = {
        "message_id": 41,
        "idempotency_key": "msg-41-7f3a",
        "channel": "email",
        "sender": "paris@maison.example",
        "sender_name": "Jordan at Maison Rapport Paris",
        "recipient": "alicia@example.com",
        "subject": "Your alterations are ready",
        "body": "Dear Alicia,\n\nYour jacket is ready.\nCome by any time.\n\nJordan",
    }
    values.update(changes)
    return Envelope(**values)


def text(part: Any) -> str:
    """A part's text with the wire's CRLF line ends read back as newlines."""
    return str(part.get_content()).replace("\r\n", "\n")


def test_an_email_arrives_with_its_addresses_threading_and_unsubscribe_headers(smtp, channels):
    inbox, port = smtp
    receipt = channel_to(channels, port).send(
        envelope(
            reply_to="reply+t0k3n@reply.maison.example",
            in_reply_to="<CAF1234@mail.example.com>",
            unsubscribe_url="https://rapport.maison.example/u/abc123",
        )
    )
    ((sender, recipients, message),) = inbox.messages
    assert sender == "paris@maison.example" and recipients == ["alicia@example.com"]
    assert message["From"] == "Jordan at Maison Rapport Paris <paris@maison.example>"
    assert message["To"] == "alicia@example.com"
    assert message["Subject"] == "Your alterations are ready"
    assert message["Date"] == "Mon, 23 Nov 2026 15:00:00 +0000"
    assert message["Reply-To"] == "reply+t0k3n@reply.maison.example"
    assert message["In-Reply-To"] == "<CAF1234@mail.example.com>"
    assert message["References"] == "<CAF1234@mail.example.com>"
    assert message["List-Unsubscribe"] == "<https://rapport.maison.example/u/abc123>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Rapport-Message"] == "msg-41-7f3a"
    assert message["Message-ID"].endswith("@maison.example>")
    assert receipt.provider_message_id == message["Message-ID"] and receipt.status == "sent"


def test_an_email_carries_a_plain_part_and_an_html_alternative(smtp, channels):
    inbox, port = smtp
    channel_to(channels, port).send(envelope(html="<p>Dear Alicia, <b>your jacket</b> is ready.</p>"))
    ((_, _, message),) = inbox.messages
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert text(plain) == "Dear Alicia,\n\nYour jacket is ready.\nCome by any time.\n\nJordan\n"
    assert text(rich) == "<p>Dear Alicia, <b>your jacket</b> is ready.</p>\n"


def test_without_html_the_plain_body_is_escaped_into_paragraphs(smtp, channels):
    inbox, port = smtp
    channel_to(channels, port).send(envelope(body='Hello <script>alert("x")</script> & welcome\nline two\n\nBye'))
    ((_, _, message),) = inbox.messages
    rich = message.get_body(preferencelist=("html",))
    assert rich is not None
    html = text(rich)
    assert "<script>" not in html
    assert "<p>Hello &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; welcome<br>\nline two</p>" in html
    assert "<p>Bye</p>" in html
    assert message.get_body(preferencelist=("plain",)).get_content().startswith("Hello <script>")  # type: ignore[union-attr]


def test_plain_to_html_makes_paragraphs_and_line_breaks():
    assert "<p>a<br>\nb</p>\n<p>c</p>" in plain_to_html("a\r\nb\r\n\r\n  \r\nc\n")


def test_a_given_message_id_is_used_and_returned_as_the_receipt(smtp, channels):
    inbox, port = smtp
    receipt = channel_to(channels, port).send(envelope(message_id_header="thread-7.msg-41@reply.maison.example"))
    ((_, _, message),) = inbox.messages
    assert message["Message-ID"] == "<thread-7.msg-41@reply.maison.example>"
    assert receipt.provider_message_id == "<thread-7.msg-41@reply.maison.example>"


def test_a_subject_with_line_breaks_cannot_inject_headers(smtp, channels):
    inbox, port = smtp
    channel_to(channels, port).send(envelope(subject="Hello\r\nBcc: everyone@example.com"))
    ((_, recipients, message),) = inbox.messages
    assert message["Subject"] == "Hello Bcc: everyone@example.com"
    assert message["Bcc"] is None and recipients == ["alicia@example.com"]


def test_one_connection_carries_many_messages(smtp, channels):
    inbox, port = smtp
    channel = channel_to(channels, port)
    for n in range(5):
        channel.send(envelope(idempotency_key=f"k{n}"))
    assert [m["X-Rapport-Message"] for _, _, m in inbox.messages] == ["k0", "k1", "k2", "k3", "k4"]
    assert len(inbox.peers) == 1


def test_a_connection_the_server_dropped_is_replaced_and_the_message_goes_once(channels):
    inbox, port = Inbox(), _free_port()
    channel = channel_to(channels, port)
    controller = _server(inbox, port)
    channel.send(envelope(idempotency_key="before"))
    controller.stop()  # the server restarts: the kept connection is dead
    controller = _server(inbox, port)
    try:
        channel.send(envelope(idempotency_key="after"))
    finally:
        channel.close()
        controller.stop()
    assert [m["X-Rapport-Message"] for _, _, m in inbox.messages] == ["before", "after"]
    assert len(inbox.peers) == 2


def test_starttls_and_login_use_the_configured_credentials(tls_server_context, channels):
    inbox, port = Inbox(), _free_port()
    controller = _server(inbox, port, tls_context=tls_server_context, require_starttls=True, auth_require_tls=True)
    channel = channel_to(channels, port, smtp_security="starttls", smtp_username="rapport", smtp_password="s3cret")
    try:
        channel.send(envelope())
    finally:
        channel.close()  # before the server stops, which would leave its side of a TLS connection unclosed
        controller.stop()
    assert inbox.logins == ["rapport"] and len(inbox.messages) == 1


def test_implicit_tls_connects_over_tls(tls_server_context, channels):
    inbox, port = Inbox(), _free_port()
    controller = _server(inbox, port, ssl_context=tls_server_context)
    channel = channel_to(channels, port, smtp_security="tls")
    try:
        channel.send(envelope())
    finally:
        channel.close()
        controller.stop()
    assert len(inbox.messages) == 1


def test_a_refused_login_is_a_transient_failure_naming_the_account(smtp, channels):
    inbox, port = smtp
    channel = channel_to(channels, port, smtp_username="rapport", smtp_password="wrong")
    with pytest.raises(TransientFailure, match="refused the login for rapport: 535"):
        channel.send(envelope())
    assert inbox.messages == []


def test_a_refused_recipient_is_a_permanent_failure_naming_the_address_and_reply(smtp, channels):
    inbox, port = smtp
    inbox.refuse["nobody@example.com"] = "550 5.1.1 no such mailbox"
    channel = channel_to(channels, port)
    with pytest.raises(PermanentFailure) as refused:
        channel.send(envelope(recipient="nobody@example.com"))
    assert "nobody@example.com" in refused.value.reason and "550 5.1.1 no such mailbox" in refused.value.reason
    assert refused.value.code == "550"
    channel.send(envelope())  # the same connection carries on after the refusal
    assert [r for _, r, _ in inbox.messages] == [["alicia@example.com"]] and len(inbox.peers) == 1


def test_a_greylisted_recipient_is_a_transient_failure(smtp, channels):
    inbox, port = smtp
    inbox.refuse["alicia@example.com"] = "450 4.2.0 greylisted, try again later"
    with pytest.raises(TransientFailure, match=r"450 4\.2\.0 greylisted"):
        channel_to(channels, port).send(envelope())


def test_a_server_that_is_down_is_a_transient_failure(channels):
    port = _free_port()  # nobody listens there
    with pytest.raises(TransientFailure, match=f"cannot reach the SMTP server 127.0.0.1:{port}"):
        channel_to(channels, port).send(envelope())


def test_an_address_that_is_not_an_email_is_a_permanent_failure(smtp, channels):
    inbox, port = smtp
    with pytest.raises(PermanentFailure, match="not an email address"):
        channel_to(channels, port).send(envelope(recipient="+33612345678"))
    assert inbox.messages == []


def test_smtp_cannot_say_whether_it_took_a_message(smtp, channels):
    _, port = smtp
    assert channel_to(channels, port).find_accepted(envelope()) is None


def test_names_subjects_and_bodies_beyond_ascii_arrive_intact(smtp, channels):
    inbox, port = smtp
    channel_to(channels, port).send(
        envelope(
            sender_name="Zoé chez Maison Rapport", subject="Vos retouches sont prêtes", body="Très bien — à bientôt ✨"
        )
    )
    ((_, _, message),) = inbox.messages
    assert message["From"] == "Zoé chez Maison Rapport <paris@maison.example>"
    assert message["Subject"] == "Vos retouches sont prêtes"
    assert text(message.get_body(preferencelist=("plain",))) == "Très bien — à bientôt ✨\n"


def test_sends_from_several_threads_share_the_connection_one_at_a_time(smtp, channels):
    inbox, port = smtp
    channel = channel_to(channels, port)

    def send_five(worker: int) -> None:
        for n in range(5):
            channel.send(envelope(idempotency_key=f"w{worker}-{n}"))

    threads = [threading.Thread(target=send_five, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = sorted(m["X-Rapport-Message"] for _, _, m in inbox.messages)
    assert keys == sorted(f"w{w}-{n}" for w in range(4) for n in range(5))
    assert len(inbox.peers) == 1
