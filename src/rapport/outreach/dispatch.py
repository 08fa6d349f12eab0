"""Sending queued messages: the job handler for the ``outreach.send`` queue.

Each message goes through three short steps, so a worker killed at any point loses nothing and
sends nothing twice, except in the one window no system can close:

1. **mark** (own transaction): re-check that the client still allows the channel (a STOP may have
   arrived since), then ``status = 'sending'``, ``sending_at = now``. A worker killed before this
   commit leaves the message ``queued``: the next worker sends it.
2. **hand over** (no transaction open): the adapter calls the provider.
3. **record** (own transaction): the provider's id and ``sent`` (or the failure), and the job done.

A worker killed between 2 and 3 leaves a message ``sending`` — *in doubt*: the provider may have
taken it. The next worker does not resend at once: it waits ``in_doubt_grace_seconds`` for the
provider's status callback (which carries our idempotency key and settles it), asks the provider
when the adapter can (:meth:`Channel.find_accepted`), and only then sends again. The window is
the few milliseconds of one provider call.

Provider errors: transient ones retry with backoff (the job's attempts), permanent ones fail the
message with the reason, shown in the thread, and notify its author.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import case, exists, func, or_, select, update

from rapport import clock
from rapport.associates import notifications
from rapport.associates.notifications import get_email_settings
from rapport.customers.models import Consent, Customer
from rapport.db import Database, defer_wal_flush, table_of
from rapport.jobs import service as jobs
from rapport.jobs.service import Claimed
from rapport.jobs.worker import JobRunner
from rapport.outreach import courtesy, signing
from rapport.outreach.channels.base import Attachment, Envelope, PermanentFailure, Receipt, TransientFailure
from rapport.outreach.channels.registry import channel_for
from rapport.outreach.models import Message
from rapport.outreach.settings import get_outreach_settings

log = logging.getLogger(__name__)

MESSAGE = table_of(Message)
CONSENT = table_of(Consent)
CUSTOMER = table_of(Customer)
#: Messages one process sends at once: each spends most of its time waiting for the database or
#: the provider (measured: 2 workers x 4 reach the queue target; x 1 did not).
SEND_CONCURRENCY = 4
#: The client still allows the message's channel (system messages answer the client: always allowed).
_ALLOWED = or_(
    MESSAGE.c.associate_id.is_(None),
    exists().where(
        CONSENT.c.customer_id == MESSAGE.c.customer_id,
        CONSENT.c.channel == MESSAGE.c.channel,
        CONSENT.c.granted.is_(True),
    ),
)
FINAL = ("sent", "delivered", "read", "failed", "undelivered", "cancelled", "outbox", "received")


def send_job(db: Database, job: Claimed, worker: str) -> None:
    """Handle one ``outreach.send`` job (see the module docstring)."""
    settings = get_outreach_settings()
    message_id = int(job.payload["message_id"])
    now = clock.now()
    with db.write() as session:
        # The usual case in one statement: a queued message whose client still allows the channel.
        row = session.execute(
            update(MESSAGE)
            .where(MESSAGE.c.id == message_id, MESSAGE.c.status.in_(("queued", "held")), _ALLOWED)
            .values(status="sending", sending_at=now, attempts=MESSAGE.c.attempts + 1, status_at=now)
            .returning(*MESSAGE.c)
        ).first()
        if row is not None:
            adapter = channel_for(row.channel, settings)
            envelope = _envelope(row, settings)
    if row is not None:
        _hand_over(db, job, worker, message_id, adapter, envelope)
        return
    with db.write() as session:
        row = session.execute(select(MESSAGE).where(MESSAGE.c.id == message_id).with_for_update()).first()
        if row is None or row.status in FINAL:
            jobs.complete(session, job, worker)
            return
        now = clock.now()
        adapter = channel_for(row.channel, settings)
        envelope = _envelope(row, settings)
        in_doubt = row.status == "sending"
        if in_doubt:
            due = (row.sending_at or now) + timedelta(seconds=settings.in_doubt_grace_seconds)
            if now < due:
                # Give the provider's status callback time to say it was accepted.
                jobs.retry(session, job, worker, "in doubt: waiting for the provider's status",
                           delay_seconds=(due - now).total_seconds())  # fmt: skip
                return
        else:
            refusal = _still_allowed(session, row)
            if refusal is not None:
                session.execute(
                    update(MESSAGE)
                    .where(MESSAGE.c.id == message_id)
                    .values(status="cancelled", error=refusal[:500], status_at=now)
                )
                jobs.complete(session, job, worker)
                return
            session.execute(
                update(MESSAGE)
                .where(MESSAGE.c.id == message_id)
                .values(status="sending", sending_at=now, attempts=MESSAGE.c.attempts + 1, status_at=now)
            )
    if in_doubt:
        receipt = adapter.find_accepted(envelope)
        if receipt is not None:
            _record_sent(db, job, worker, message_id, receipt, adapter.delivers)
            return
        with db.write() as session:
            session.execute(
                update(MESSAGE)
                .where(MESSAGE.c.id == message_id)
                .values(sending_at=clock.now(), attempts=MESSAGE.c.attempts + 1)
            )
    _hand_over(db, job, worker, message_id, adapter, envelope)


def _hand_over(db: Database, job: Claimed, worker: str, message_id: int, adapter: Any, envelope: Envelope) -> None:
    """The provider call, with no transaction open, and its outcome recorded at once."""
    try:
        receipt = adapter.send(envelope)
    except TransientFailure as exc:
        _record_transient(db, job, worker, message_id, exc)
        return
    except PermanentFailure as exc:
        _record_failed(db, job, worker, message_id, exc.reason, exc.code)
        return
    _record_sent(db, job, worker, message_id, receipt, adapter.delivers)


def _still_allowed(session: Any, row: Any) -> str | None:
    """Why this message may no longer go (consent withdrawn since it was written), or None."""
    if row.associate_id is None:
        return None  # system messages (a STOP confirmation) answer the client; no consent needed
    granted = session.scalar(
        select(CONSENT.c.granted).where(CONSENT.c.customer_id == row.customer_id, CONSENT.c.channel == row.channel)
    )
    if not granted:
        name = session.scalar(select(CUSTOMER.c.first_name).where(CUSTOMER.c.id == row.customer_id)) or "The client"
        return f"not sent: {name} withdrew consent to {courtesy.CHANNEL_WORDS[row.channel]} meanwhile"
    return None


def _envelope(row: Any, settings: Any) -> Envelope:
    email = get_email_settings()
    base = email.public_url.rstrip("/")
    data = row.data or {}
    unsubscribe = None
    reply_to = None
    if row.channel == "email":
        unsubscribe = f"{base}/u/{signing.unsubscribe_token(row.customer_id, 'email')}"
        reply_to = signing.reply_address(row.customer_id, settings.reply_domain)
    body = row.body
    if row.channel == "email" and row.associate_id is not None:
        body = f"{body}\n\n--\nTo stop receiving these emails: {unsubscribe}"
    return Envelope(
        message_id=row.id,
        idempotency_key=row.idempotency_key,
        channel=row.channel,
        sender=row.business_address,
        recipient=row.client_address,
        body=body,
        subject=row.subject,
        sender_name=data.get("sender_name"),
        reply_to=reply_to,
        message_id_header=data.get("message_id_header") or _message_id_header(row, settings),
        in_reply_to=data.get("in_reply_to"),
        unsubscribe_url=unsubscribe,
        template_id=data.get("provider_template_id") if row.channel == "whatsapp" else None,
        template_variables=data.get("template_variables") or {},
        status_callback=f"{base}/api/v1/webhooks/twilio/status?key={row.idempotency_key}",
        attempt_started_at=row.sending_at,
        attachments=tuple(
            Attachment(a["filename"], a["content_type"], a["content"]) for a in data.get("attachments") or ()
        ),
    )


def _message_id_header(row: Any, settings: Any) -> str | None:
    if row.channel != "email":
        return None
    return f"<rapport.{row.id}.{row.idempotency_key[:32]}@{settings.reply_domain}>"


def _record_sent(db: Database, job: Claimed, worker: str, message_id: int, receipt: Receipt, delivers: bool) -> None:
    now = clock.now()
    with db.write() as session:
        # Safe not to wait for the disk: if a crash lost this commit, the message would be back to
        # "sending" — in doubt — and settled by the status callback or the provider's records, never
        # sent twice. The "sending" mark before the call, by contrast, is committed durably.
        defer_wal_flush(session)
        # A status callback may have arrived first (delivered): then keep its status and add the id.
        pending = MESSAGE.c.status.in_(("sending", "queued", "held"))
        session.execute(
            update(MESSAGE)
            .where(MESSAGE.c.id == message_id)
            .values(
                status=case((pending, "sent" if delivers else "outbox"), else_=MESSAGE.c.status),
                status_at=case((pending, now), else_=MESSAGE.c.status_at),
                error=case((pending, None), else_=MESSAGE.c.error),
                sent_at=func.coalesce(MESSAGE.c.sent_at, now),
                provider_message_id=func.coalesce(MESSAGE.c.provider_message_id, receipt.provider_message_id[:255]),
            )
        )
        jobs.complete(session, job, worker)


def _record_transient(db: Database, job: Claimed, worker: str, message_id: int, exc: TransientFailure) -> None:
    with db.write() as session:
        outcome = jobs.retry(session, job, worker, exc.reason, delay_seconds=exc.retry_after)
        now = clock.now()
        if outcome == "failed":
            _fail(session, message_id, f"gave up after {job.attempts} tries: {exc.reason}", None, now)
        else:
            session.execute(
                update(MESSAGE)
                .where(MESSAGE.c.id == message_id, MESSAGE.c.status == "sending")
                .values(status="queued", error=f"retrying: {exc.reason}"[:500], status_at=now)
            )


def _record_failed(db: Database, job: Claimed, worker: str, message_id: int, reason: str, code: str | None) -> None:
    with db.write() as session:
        _fail(session, message_id, reason, code, clock.now())
        jobs.complete(session, job, worker)


def _fail(session: Any, message_id: int, reason: str, code: str | None, now: Any) -> None:
    row = session.execute(
        select(MESSAGE.c.customer_id, MESSAGE.c.associate_id, MESSAGE.c.channel, MESSAGE.c.data).where(
            MESSAGE.c.id == message_id
        )
    ).one()
    session.execute(
        update(MESSAGE)
        .where(MESSAGE.c.id == message_id)
        .values(status="failed", error=reason[:500], status_at=now, data={**(row.data or {}), "error_code": code})
    )
    if row.associate_id is not None:
        notifications.notify(
            session, row.associate_id, "message_failed", f"A {courtesy.CHANNEL_WORDS[row.channel]} was not sent",
            body=reason[:2000], link=f"/clients/{row.customer_id}/conversation", customer_id=row.customer_id,
        )  # fmt: skip


def register(handlers: dict[str, Any]) -> None:
    """Add this module's handler to a job runner's table."""
    from rapport.outreach.service import SEND_QUEUE

    handlers[SEND_QUEUE] = send_job


def outreach_runner(db_provider: Callable[[], Database], **options: Any) -> JobRunner:
    """A job runner that sends messages (the app's background thread, or `rapport worker`)."""
    handlers: dict[str, Any] = {}
    register(handlers)
    options.setdefault("concurrency", SEND_CONCURRENCY)
    return JobRunner(db_provider, handlers, **options)
