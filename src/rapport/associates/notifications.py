"""The associate's in-app notification feed, with optional email delivery.

A notification is a row in the caller's unit of work: it exists exactly when the change that
caused it (a client assigned, a client handed over) was committed. Email is a second, optional
delivery: messages are queued on the session and sent by SMTP only *after* the commit — an email
is never sent for a change that was rolled back, and an SMTP failure (server down, refused
login, a bad address) is logged and never undoes or loses the in-app notification.

Email is off unless ``RAPPORT_NOTIFY_EMAIL=true``; the SMTP server and credentials come from
the environment too (see :class:`EmailSettings`).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import Associate, Notification
from rapport.db import table_of
from rapport.errors import InvalidRecord, NotFound

log = logging.getLogger(__name__)

NOTIFICATION = table_of(Notification)
ASSOCIATE = table_of(Associate)

DEFAULT_LIMIT = 30
MAX_LIMIT = 100
_OUTBOX = "rapport.notification_emails"


class EmailSettings(BaseSettings):
    """How notifications reach an associate's inbox (environment prefix ``RAPPORT_``)."""

    model_config = SettingsConfigDict(env_prefix="RAPPORT_", env_file=".env", extra="ignore")

    notify_email: bool = Field(default=False, description="Also send each notification by email.")
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="'starttls' upgrades a plain connection; 'tls' connects over TLS (port 465)."
    )
    smtp_timeout: float = Field(default=10.0, gt=0)
    mail_from: str = "Rapport <rapport@localhost>"
    public_url: str = Field(default="http://127.0.0.1:8000", description="Base of the links written in emails.")


_email_settings: EmailSettings | None = None


@lru_cache(maxsize=1)
def _from_environment() -> EmailSettings:
    return EmailSettings()


def get_email_settings() -> EmailSettings:
    return _email_settings or _from_environment()


def set_email_settings(settings: EmailSettings | None) -> None:
    """Replace the email settings for the whole process (tests; None goes back to the environment)."""
    global _email_settings
    _email_settings = settings


@dataclass
class NotificationView:
    id: int
    associate_id: int
    kind: str
    title: str
    body: str
    link: str | None
    customer_id: int | None
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class Outgoing:
    """One notification to write: who gets it and what it says."""

    associate_id: int
    kind: str
    title: str
    body: str = ""
    link: str | None = None
    customer_id: int | None = None


# -- writing -----------------------------------------------------------------------------------


def notify(
    session: Session,
    associate_id: int,
    kind: str,
    title: str,
    body: str = "",
    link: str | None = None,
    customer_id: int | None = None,
) -> int:
    """Put one item in an associate's feed (and their inbox after commit, when enabled); its id."""
    return notify_many(session, [Outgoing(associate_id, kind, title, body, link, customer_id)])[0]


def notify_many(session: Session, items: Sequence[Outgoing]) -> list[int]:
    """Several notifications in one INSERT (one per associate after a bulk assignment); their ids in order."""
    if not items:
        return []
    wanted = sorted({i.associate_id for i in items})
    people = {
        r.id: r
        for r in session.execute(
            select(ASSOCIATE.c.id, ASSOCIATE.c.email, ASSOCIATE.c.display_name, ASSOCIATE.c.active).where(
                ASSOCIATE.c.id.in_(wanted)
            )
        )
    }
    missing = [a for a in wanted if a not in people]
    if missing:
        raise NotFound(f"associate {missing[0]} not found")
    now = clock.now()
    rows = [
        {
            "associate_id": i.associate_id,
            "kind": i.kind[:50],
            "title": i.title[:200],
            "body": i.body[:2000],
            "link": i.link[:500] if i.link else None,
            "customer_id": i.customer_id,
            "created_at": now,
            "read_at": None,
        }
        for i in items
    ]
    ids = list(session.scalars(insert(NOTIFICATION).returning(NOTIFICATION.c.id, sort_by_parameter_order=True), rows))
    settings = get_email_settings()
    if settings.notify_email:
        messages = [
            _message(settings, nid, item, people[item.associate_id], now)
            for nid, item in zip(ids, items, strict=True)
            if people[item.associate_id].active and people[item.associate_id].email
        ]
        _queue_after_commit(session, settings, messages)
    return ids


def mark_read(session: Session, associate_id: int, notification_ids: Sequence[int] | None = None) -> int:
    """Mark some (or, with None, all) of this associate's unread notifications read; how many changed.

    Ids belonging to another associate are left alone: one person cannot clear another's feed.
    """
    n = NOTIFICATION
    stmt = update(n).where(n.c.associate_id == associate_id, n.c.read_at.is_(None)).values(read_at=clock.now())
    if notification_ids is not None:
        if not notification_ids:
            return 0
        stmt = stmt.where(n.c.id.in_(list(notification_ids)))
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


# -- reading -----------------------------------------------------------------------------------


def get(session: Session, notification_id: int) -> NotificationView:
    row = session.execute(select(NOTIFICATION).where(NOTIFICATION.c.id == notification_id)).first()
    if row is None:
        raise NotFound(f"notification {notification_id} not found")
    return _view(row)


def list_for(
    session: Session, associate_id: int, *, unread_only: bool = False, limit: int = DEFAULT_LIMIT
) -> list[NotificationView]:
    """The associate's feed, newest first."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRecord.one("limit", f"must be between 1 and {MAX_LIMIT}")
    n = NOTIFICATION
    stmt = select(n).where(n.c.associate_id == associate_id)
    if unread_only:
        stmt = stmt.where(n.c.read_at.is_(None))
    stmt = stmt.order_by(n.c.created_at.desc(), n.c.id.desc()).limit(limit)
    return [_view(r) for r in session.execute(stmt)]


def unread_count(session: Session, associate_id: int) -> int:
    n = NOTIFICATION
    stmt = select(func.count()).where(n.c.associate_id == associate_id, n.c.read_at.is_(None))
    return int(session.execute(stmt).scalar_one())


def _view(r: Any) -> NotificationView:
    return NotificationView(
        id=r.id,
        associate_id=r.associate_id,
        kind=r.kind,
        title=r.title,
        body=r.body,
        link=r.link,
        customer_id=r.customer_id,
        created_at=r.created_at,
        read_at=r.read_at,
    )


# -- email -------------------------------------------------------------------------------------


def _message(settings: EmailSettings, nid: int, item: Outgoing, person: Any, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = item.title
    msg["From"] = settings.mail_from
    msg["To"] = Address(display_name=person.display_name or "", addr_spec=person.email)
    msg["Date"] = format_datetime(now)
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(idstring=f"notification.{nid}", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to a robot
    msg["X-Rapport-Notification"] = f"{nid} {item.kind}"
    text = item.body
    if item.link:
        url = f"{settings.public_url.rstrip('/')}{item.link}" if item.link.startswith("/") else item.link
        text = f"{text}\n\n{url}" if text else url
    msg.set_content(text or item.title)
    return msg


def _queue_after_commit(session: Session, settings: EmailSettings, messages: list[EmailMessage]) -> None:
    if not messages:
        return
    box: list[tuple[EmailSettings, EmailMessage]] | None = session.info.get(_OUTBOX)
    if box is None:
        box = session.info[_OUTBOX] = []
        event.listen(session, "after_commit", _deliver)
        event.listen(session, "after_rollback", _discard)
    box.extend((settings, m) for m in messages)


def _discard(session: Session) -> None:
    session.info.get(_OUTBOX, []).clear()


def _deliver(session: Session) -> None:
    box: list[tuple[EmailSettings, EmailMessage]] = session.info.get(_OUTBOX, [])
    pending, box[:] = list(box), []
    by_server: dict[int, tuple[EmailSettings, list[EmailMessage]]] = {}
    for settings, message in pending:
        by_server.setdefault(id(settings), (settings, []))[1].append(message)
    for settings, messages in by_server.values():
        send_emails(settings, messages)


def send_emails(settings: EmailSettings, messages: Sequence[EmailMessage]) -> int:
    """Send over one SMTP connection; failures are logged, never raised. How many were accepted."""
    sent = 0
    try:
        with _connect(settings) as smtp:
            for message in messages:
                try:
                    smtp.send_message(message)
                    sent += 1
                except smtplib.SMTPException as exc:
                    log.warning("notification email to %s refused: %s", message["To"], exc)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning(
            "notification emails not sent (%d) via %s:%s: %s",
            len(messages),
            settings.smtp_host,
            settings.smtp_port,
            exc,
        )
    return sent


def _connect(settings: EmailSettings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    if settings.smtp_security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
    except BaseException:
        smtp.close()
        raise
    return smtp
