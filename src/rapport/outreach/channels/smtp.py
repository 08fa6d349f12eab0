"""Client email through an SMTP server (the one ``RAPPORT_SMTP_*`` names, shared with associate notifications).

Each message is a proper MIME message: a plain-text part and an HTML alternative, threading headers
(Message-ID, In-Reply-To, References) so the client's mail program keeps one conversation, a per-thread
Reply-To so answers come back to Rapport, and RFC 8058 one-click unsubscribe headers.

One connection is kept open per channel and reused across sends (a lock lets one send use it at a
time): under load that saves a TCP and TLS handshake and a login per message. A connection the server
has closed meanwhile is noticed at ``MAIL FROM`` — before anything of the message went out — and
replaced once; a failure later in the transaction is reported, never blindly retried, so a message
is not delivered twice by the adapter itself.

SMTP cannot be asked whether it already took a message, so :meth:`SmtpChannel.find_accepted` says None.
"""

from __future__ import annotations

import contextlib
import email.policy
import html
import io
import re
import smtplib
import ssl
import threading
from email.errors import HeaderParseError
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from rapport import clock
from rapport.associates.notifications import EmailSettings, get_email_settings
from rapport.outreach.channels.base import Envelope, PermanentFailure, Receipt, TransientFailure


class _StaleConnection(Exception):
    """A reused connection was closed by the server before the message started: safe to send on a new one."""


class SmtpChannel:
    """Email through SMTP; delivers for real."""

    provider = "smtp"
    channels = frozenset({"email"})
    delivers = True

    def __init__(self, settings: EmailSettings | None = None) -> None:
        self.settings = settings or get_email_settings()
        self._lock = threading.Lock()
        self._smtp: smtplib.SMTP | None = None

    # -- the Channel interface ---------------------------------------------------------------

    def send(self, envelope: Envelope) -> Receipt:
        if envelope.channel != "email":
            raise PermanentFailure(f"the smtp channel carries email, not {envelope.channel}")
        message, sender, recipient = build_message(envelope)
        data, international = _flatten(message, sender, recipient)
        self._deliver(sender, recipient, data, international)
        return Receipt(provider_message_id=str(message["Message-ID"]), status="sent")

    def find_accepted(self, envelope: Envelope) -> Receipt | None:
        """SMTP has no way to ask whether a message was already taken."""
        return None

    def close(self) -> None:
        """Close the kept connection (the next send opens a new one)."""
        with self._lock:
            self._drop(polite=True)

    # -- the SMTP conversation ---------------------------------------------------------------

    def _deliver(self, sender: str, recipient: str, data: bytes, international: bool) -> None:
        s = self.settings
        server = f"{s.smtp_host}:{s.smtp_port}"
        with self._lock:
            try:
                reused = self._smtp is not None
                smtp = self._smtp or self._open()
                self._smtp = smtp
                try:
                    _transmit(smtp, sender, recipient, data, international, fresh=not reused)
                except _StaleConnection:
                    self._drop()
                    smtp = self._smtp = self._open()
                    _transmit(smtp, sender, recipient, data, international, fresh=True)
            except smtplib.SMTPRecipientsRefused as exc:
                self._drop_if_closed()
                code, reply = next(iter(exc.recipients.values()), (0, b""))
                raise _refusal(code, f"{recipient} refused by {server}: {code} {_text(reply)}") from exc
            except smtplib.SMTPSenderRefused as exc:
                self._drop_if_closed()
                reason = f"sender {sender} refused by {server}: {exc.smtp_code} {_text(exc.smtp_error)}"
                raise _refusal(exc.smtp_code, reason) from exc
            except smtplib.SMTPNotSupportedError as exc:
                self._drop_if_closed()
                raise PermanentFailure(f"{server} cannot take mail for {recipient}: {exc}") from exc
            except smtplib.SMTPServerDisconnected as exc:
                self._drop()
                raise TransientFailure(f"{server} closed the connection while sending to {recipient}: {exc}") from exc
            except smtplib.SMTPResponseException as exc:
                self._drop_if_closed()
                reason = f"message to {recipient} refused by {server}: {exc.smtp_code} {_text(exc.smtp_error)}"
                raise _refusal(exc.smtp_code, reason) from exc
            except (OSError, smtplib.SMTPException) as exc:  # timeouts, resets, TLS errors
                self._drop()
                raise TransientFailure(f"could not send to {recipient} via {server}: {_describe(exc)}") from exc

    def _open(self) -> smtplib.SMTP:
        """Connect, upgrade to TLS and log in as configured; any failure here is the server's, so transient."""
        s = self.settings
        server = f"{s.smtp_host}:{s.smtp_port}"
        try:
            if s.smtp_security == "tls":
                context = ssl.create_default_context()
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientFailure(f"cannot reach the SMTP server {server}: {_describe(exc)}") from exc
        try:
            if s.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
            else:
                smtp.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            raise TransientFailure(
                f"the SMTP server {server} refused the login for {s.smtp_username}: {reply}"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise TransientFailure(f"could not set up the SMTP session with {server}: {_describe(exc)}") from exc
        return smtp

    def _drop(self, *, polite: bool = False) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if polite and smtp.sock is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
        smtp.close()

    def _drop_if_closed(self) -> None:
        if self._smtp is not None and self._smtp.sock is None:
            self._drop()


def _transmit(
    smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes, international: bool, *, fresh: bool
) -> None:
    """One SMTP mail transaction (what ``sendmail`` does), knowing which step failed.

    A reused connection that fails at ``MAIL FROM`` (closed, or 421) had taken nothing of this message,
    so it raises :class:`_StaleConnection` for the caller to try once on a new connection.
    """
    smtp.ehlo_or_helo_if_needed()  # done when the connection opened; again only after a reset
    options: list[str] = []
    if smtp.does_esmtp:
        if smtp.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        if international:
            if not smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("the server does not accept international (SMTPUTF8) addresses")
            options += ["SMTPUTF8", "BODY=8BITMIME"]
    elif international:
        raise smtplib.SMTPNotSupportedError("the server does not accept international (SMTPUTF8) addresses")
    try:
        code, reply = smtp.mail(sender, options)
    except smtplib.SMTPServerDisconnected:
        if fresh:
            raise
        raise _StaleConnection from None
    if code != 250:
        if code == 421 and not fresh:
            smtp.close()
            raise _StaleConnection
        _abandon(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        _abandon(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = smtp.data(data)
    if code != 250:
        _abandon(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _abandon(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: reset the transaction so the connection can carry the next message (421: close)."""
    if code == 421:
        smtp.close()
        return
    try:
        smtp.rset()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _refusal(code: int, reason: str) -> PermanentFailure | TransientFailure:
    """5xx is the server's final word; 4xx (greylisting, mailbox busy, 421 closing) is worth another try."""
    if 500 <= code < 600:
        return PermanentFailure(reason, code=str(code))
    return TransientFailure(reason)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# -- the message -------------------------------------------------------------------------------


def build_message(envelope: Envelope) -> tuple[EmailMessage, str, str]:
    """The MIME message for an envelope, with the envelope sender and recipient addresses.

    Raises :class:`PermanentFailure` for an address that cannot be written in a header.
    """
    sender_name, sender = parseaddr(envelope.sender)
    recipient_name, recipient = parseaddr(envelope.recipient)
    if "@" not in sender:
        raise PermanentFailure(f"the sender {envelope.sender!r} is not an email address")
    if "@" not in recipient:
        raise PermanentFailure(f"the recipient {envelope.recipient!r} is not an email address")
    msg = EmailMessage()
    try:
        msg["From"] = Address(display_name=_one_line(envelope.sender_name or sender_name), addr_spec=sender)
        msg["To"] = Address(display_name=_one_line(recipient_name), addr_spec=recipient)
        if envelope.reply_to:
            msg["Reply-To"] = envelope.reply_to
    except (ValueError, HeaderParseError) as exc:
        raise PermanentFailure(f"cannot address the email to {envelope.recipient}: {exc}") from exc
    if envelope.subject is not None:
        msg["Subject"] = _one_line(envelope.subject)
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = _angle(envelope.message_id_header) if envelope.message_id_header else _new_msgid(sender)
    if envelope.in_reply_to:
        msg["In-Reply-To"] = _angle(envelope.in_reply_to)
        msg["References"] = _angle(envelope.in_reply_to)
    if envelope.unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Rapport-Message"] = envelope.idempotency_key
    msg.set_content(envelope.body)
    msg.add_alternative(envelope.html if envelope.html is not None else plain_to_html(envelope.body), subtype="html")
    for attachment in envelope.attachments:
        maintype, _, subtype = attachment.content_type.partition(";")[0].strip().partition("/")
        params = dict(p.strip().split("=", 1) for p in attachment.content_type.split(";")[1:] if "=" in p)
        msg.add_attachment(
            attachment.content.encode("utf-8"), maintype=maintype, subtype=subtype, filename=attachment.filename,
            params=params,
        )  # fmt: skip
    return msg, sender, recipient


def plain_to_html(text: str) -> str:
    """A safe HTML rendering of a plain-text body: everything escaped, blank lines make paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [p for p in re.split(r"\n(?:[ \t]*\n)+", text) if p.strip()]
    body = "\n".join("<p>" + "<br>\n".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html>\n<body style="font-family: sans-serif; line-height: 1.5">\n{body}\n</body>\n</html>\n'
    )


def _flatten(message: EmailMessage, sender: str, recipient: str) -> tuple[bytes, bool]:
    """The bytes to send (CRLF line ends) and whether the addresses need SMTPUTF8 (what ``send_message`` does)."""
    international = not (sender + recipient).isascii()
    policy = email.policy.SMTPUTF8 if international else email.policy.SMTP
    with io.BytesIO() as out:
        BytesGenerator(out, policy=policy).flatten(message, linesep="\r\n")
        return out.getvalue(), international


def _new_msgid(sender: str) -> str:
    domain = sender.rpartition("@")[2] or "localhost"
    return make_msgid(idstring="rapport", domain=domain)


def _angle(message_id: str) -> str:
    message_id = message_id.strip()
    return message_id if message_id.startswith("<") else f"<{message_id}>"


def _one_line(value: str) -> str:
    """Header values cannot carry line breaks (header injection); fold them into spaces."""
    return " ".join(value.split()) if ("\n" in value or "\r" in value) else value
