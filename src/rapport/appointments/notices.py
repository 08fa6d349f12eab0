"""What an appointment sends, as jobs on the ``appointments.notice`` queue: the client's confirmation
(with the .ics invitation and the links to move or cancel), the reminder a day before, the cancellation,
and the associate's brief the day before.

Each job carries the appointment's version: a job for a version the appointment has since left (it
was moved or cancelled) does nothing. Client notices go through outreach (:func:`send_notice`): only
on channels the client agreed to, held for their quiet hours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.appointments.invitation import InvitationFacts, invitation
from rapport.appointments.links import manage_token
from rapport.appointments.models import Appointment, AppointmentType
from rapport.associates import notifications
from rapport.associates.models import Associate
from rapport.associates.notifications import get_email_settings
from rapport.customers.models import Customer
from rapport.db import Database, table_of
from rapport.identity.models import Identifier
from rapport.inventory.models import Location
from rapport.jobs import service as jobs
from rapport.jobs.service import Claimed
from rapport.outreach.service import send_notice
from rapport.outreach.settings import get_outreach_settings

APPOINTMENT = table_of(Appointment)
TYPE = table_of(AppointmentType)
LOCATION = table_of(Location)
CUSTOMER = table_of(Customer)
ASSOCIATE = table_of(Associate)
IDENTIFIER = table_of(Identifier)


def notice_job(db: Database, job: Claimed, worker: str) -> None:
    with db.write() as session:
        row = session.execute(select(APPOINTMENT).where(APPOINTMENT.c.id == int(job.payload["id"]))).first()
        what = str(job.payload.get("what"))
        if row is not None and row.version == int(job.payload.get("version", row.version)):
            if what == "brief":
                _brief(session, row)
            elif what == "cancelled" or row.status == "booked":
                _client_notice(session, row, what)
        jobs.complete(session, job, worker)


def when_text(starts_at: datetime, zone: ZoneInfo) -> str:
    local = starts_at.astimezone(zone)
    return f"{local:%A %d %B} at {local:%H:%M}"


def _facts(session: Session, row: Any) -> dict[str, Any]:
    t = session.execute(select(TYPE.c.name, TYPE.c.virtual).where(TYPE.c.id == row.type_id)).one()
    store = session.execute(
        select(LOCATION.c.name, LOCATION.c.timezone, LOCATION.c.address_line1, LOCATION.c.city,
               LOCATION.c.email_address).where(LOCATION.c.id == row.location_id)
    ).one()  # fmt: skip
    client = session.execute(
        select(CUSTOMER.c.first_name, CUSTOMER.c.last_name).where(CUSTOMER.c.id == row.customer_id)
    ).one()
    email = session.scalar(
        select(IDENTIFIER.c.value)
        .where(IDENTIFIER.c.customer_id == row.customer_id, IDENTIFIER.c.kind == "email")
        .order_by(IDENTIFIER.c.verified.desc(), IDENTIFIER.c.id.desc())
        .limit(1)
    )
    who = session.scalar(select(ASSOCIATE.c.display_name).where(ASSOCIATE.c.id == row.associate_id))
    zone = ZoneInfo(store.timezone or "UTC")
    where = "Video call" if t.virtual else ", ".join(p for p in (store.name, store.address_line1, store.city) if p)
    return {"type": t.name, "store": store.name, "zone": zone, "where": where, "first_name": client.first_name or "",
            "full_name": " ".join(p for p in (client.first_name, client.last_name) if p), "email": email,
            "with": who, "store_email": store.email_address}  # fmt: skip


def manage_url(row: Any) -> str:
    base = get_email_settings().public_url.rstrip("/")
    return f"{base}/book/manage/{manage_token(row.id, row.version, row.starts_at)}"


def _client_notice(session: Session, row: Any, what: str) -> None:
    f = _facts(session, row)
    when = when_text(row.starts_at, f["zone"])
    link = manage_url(row)
    hello = f"Hello {f['first_name']}," if f["first_name"] else "Hello,"
    with_whom = f" with {f['with']}" if f["with"] else ""
    if what == "cancelled":
        subject = f"Cancelled: your {f['type'].lower()} on {when}"
        body = f"{hello}\n\nYour {f['type'].lower()} at {f['store']} on {when} is cancelled. We hope to see you soon."
    elif what == "remind":
        subject = f"See you tomorrow: {f['type'].lower()} at {when}"
        body = (f"{hello}\n\nA reminder of your {f['type'].lower()}{with_whom} on {when}.\n{f['where']}\n\n"
                f"To move or cancel it: {link}")  # fmt: skip
    else:
        subject = f"Confirmed: {f['type'].lower()} on {when}"
        body = (f"{hello}\n\nYour {f['type'].lower()}{with_whom} is booked for {when}.\n{f['where']}\n\n"
                f"To move or cancel it: {link}\n\nThe invitation is attached for your calendar.")  # fmt: skip
    settings = get_outreach_settings()
    organizer = f["store_email"] or settings.client_mail_from.partition("<")[2].rstrip(">") or "store@localhost"
    ics = invitation(
        InvitationFacts(
            appointment_id=row.id, version=row.version, title=f"{f['type']} at {f['store']}", starts_at=row.starts_at,
            ends_at=row.ends_at, location=f["where"], description=f"To move or cancel: {link}",
            organizer_email=organizer,
            organizer_name=f["store"], attendee_email=f["email"], attendee_name=f["full_name"],
            domain=settings.reply_domain, cancelled=what == "cancelled", url=link,
        ),
        now=clock.now(),
    )  # fmt: skip
    method = "CANCEL" if what == "cancelled" else "REQUEST"
    attachments = [] if what == "remind" else [
        {"filename": "appointment.ics", "content_type": f"text/calendar; method={method}", "content": ics.decode()}
    ]  # fmt: skip
    send_notice(
        session, row.customer_id, subject=subject, body=body, key=f"appointment:{row.id}:v{row.version}:{what}",
        location_id=row.location_id, attachments=attachments,
    )  # fmt: skip


def _brief(session: Session, row: Any) -> None:
    if row.associate_id is None or row.status != "booked":
        return
    f = _facts(session, row)
    when = when_text(row.starts_at, f["zone"])
    reason = f": {row.reason[:300]}" if row.reason else ""
    notifications.notify(
        session, row.associate_id, "appointment_brief", f"Tomorrow: {f['full_name']}, {f['type'].lower()} at {when}",
        body=f"{f['type']} at {f['store']}{reason}\nThe brief is ready: why they come, their history, items to pull.",
        link=f"/appointments/{row.id}", customer_id=row.customer_id,
    )  # fmt: skip


def register(handlers: dict[str, Any]) -> None:
    from rapport.appointments.booking import NOTICE_QUEUE

    handlers[NOTICE_QUEUE] = notice_job
