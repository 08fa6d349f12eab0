"""Who hears about a fulfilment: the client's timeline and the audit log for every change, the
store team's feed when a store must act, and the client's email when their order is ready.

**Telling the client.** When a pickup is ready the client is emailed — a transactional message,
sent whatever their marketing consent — over the SMTP server of
:class:`~rapport.associates.notifications.EmailSettings`, after the commit (never for a change
rolled back), when email is switched on (``RAPPORT_NOTIFY_EMAIL``) and the client has an address.
The timeline then says what happened, honestly: told by email (the server accepted it), the email
not sent (refused, or the server unreachable), or why nobody was told ("no email address", "no
email channel configured"). SMS and WhatsApp come with outreach.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import and_, event, select, true
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate, AssociateLocation
from rapport.associates.notifications import EmailSettings, Outgoing, get_email_settings, notify_many, send_emails
from rapport.customers import timeline
from rapport.customers.models import Customer
from rapport.db import table_of
from rapport.identity.models import Identifier
from rapport.inventory.fulfilment_views import STAFF_ROLES, FulfilmentView

log = logging.getLogger(__name__)

SOURCE = "rapport"
CUSTOMER = table_of(Customer)
IDENTIFIER = table_of(Identifier)
ASSOCIATE = table_of(Associate)
ASSOCIATE_LOCATION = table_of(AssociateLocation)
_OUTBOX = "rapport.fulfilment_notices"
_LOCALE = "en_GB"


# -- recording -------------------------------------------------------------------------------------


def units_text(units: int) -> str:
    return "1 item" if units == 1 else f"{units} items"


def local_day(at: datetime, timezone: str) -> str:
    return str(format_date(at.astimezone(ZoneInfo(timezone)).date(), "EEE d MMM", locale=_LOCALE))


def entry(
    fulfilment_id: int,
    customer_id: int | None,
    what: str,
    summary: str,
    who: AuditActor,
    *,
    location_id: int | None,
    data: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    if customer_id is None:
        return []
    kind = {"associate": "associate", "token": "integration"}.get(who.kind, "system")
    return [
        timeline.entry(
            customer_id=customer_id, kind="fulfilment", summary=summary, source=SOURCE,
            external_id=f"fulfilment:{fulfilment_id}:{what}", occurred_at=clock.now(), location_id=location_id,
            actor_kind=kind, actor_id=who.id if kind == "associate" else None, ref_type="fulfilment",
            ref_id=fulfilment_id, data={"status": what, **(data or {})},
        )
    ]  # fmt: skip


def record(session: Session, view: FulfilmentView, what: str, summary: str, who: AuditActor, **data: Any) -> None:
    """The client's timeline entry and the audit row of one change."""
    place = view.to_location if view.kind == "pickup" else view.from_location
    timeline.append(
        session,
        entry(view.id, view.customer_id, what, summary, who, location_id=place.id if place else None, data=data),
    )
    audit.record_by(
        session, who, f"fulfilment.{what}", customer_id=view.customer_id,
        detail={"fulfilment": view.id, "order": view.order_id, "kind": view.kind, **data},
    )  # fmt: skip


# -- the store team ---------------------------------------------------------------------------------


def store_teams(session: Session, location_ids: Iterable[int]) -> dict[int, list[int]]:
    """The active associates and managers of each store (home store or listed), in two statements."""
    ids = sorted({i for i in location_ids if i is not None})
    found: dict[int, set[int]] = defaultdict(set)
    if not ids:
        return {}
    a, al = ASSOCIATE.c, ASSOCIATE_LOCATION.c
    staff = and_(a.active == true(), a.role.in_(STAFF_ROLES))
    for aid, lid in session.execute(select(a.id, a.home_location_id).where(staff, a.home_location_id.in_(ids))):
        found[lid].add(aid)
    for aid, lid in session.execute(
        select(al.associate_id, al.location_id)
        .join(ASSOCIATE, a.id == al.associate_id)
        .where(staff, al.location_id.in_(ids))
    ):
        found[lid].add(aid)
    return {lid: sorted(people) for lid, people in found.items()}


class Store(Protocol):
    """A store as a notification needs it (a sourcing ``Site`` or a view's ``Place``)."""

    @property
    def id(self) -> int: ...

    @property
    def code(self) -> str: ...


def tell_teams(session: Session, items: Sequence[tuple[Store, str, str, int | None]]) -> None:
    """Notify each store's team: (store, title, body, client); a store without a team is told nothing."""
    teams = store_teams(session, [site.id for site, *_ in items])
    outgoing = [
        Outgoing(aid, "fulfilment", title, body, link=f"/fulfilment?store={site.code}", customer_id=cid)
        for site, title, body, cid in items
        for aid in teams.get(site.id, [])
    ]
    notify_many(session, outgoing)


# -- telling the client their order is ready -------------------------------------------------------


@dataclass
class _Notice:
    settings: EmailSettings
    message: EmailMessage
    address: str
    fulfilment_id: int
    customer_id: int
    location_id: int | None
    order_number: str
    who: AuditActor


def _email_of(session: Session, customer_id: int) -> tuple[str, str | None] | None:
    """The client's email (verified first, then the oldest) and first name, or None."""
    i = IDENTIFIER.c
    row = session.execute(
        select(i.value, CUSTOMER.c.first_name)
        .join(CUSTOMER, CUSTOMER.c.id == i.customer_id)
        .where(i.customer_id == customer_id, i.kind == "email")
        .order_by(i.verified.desc(), i.created_at, i.id)
        .limit(1)
    ).first()
    return (row.value, row.first_name) if row is not None else None


def tell_client_ready(session: Session, view: FulfilmentView, until: str, who: AuditActor) -> None:
    if view.customer_id is None:
        return
    settings = get_email_settings()
    found = _email_of(session, view.customer_id)
    store = view.to_location
    reason = None
    if not settings.notify_email:
        reason = "no email channel configured"
    elif found is None:
        reason = "no email address"
    else:
        address, first_name = found
        try:
            message = _ready_message(settings, view, address, first_name, until)
        except (ValueError, IndexError):
            reason = "the email address on file is not valid"
        else:
            _queue(session, _Notice(settings, message, address, view.id, view.customer_id,
                                    store.id if store else None, view.order_number, who))  # fmt: skip
            return
    timeline.append(session, entry(
        view.id, view.customer_id, "ready_notice", f"Not told that order {view.order_number} is ready: {reason}", who,
        location_id=store.id if store else None, data={"channel": "email", "sent": False, "reason": reason},
    ))  # fmt: skip


def _ready_message(
    settings: EmailSettings, view: FulfilmentView, address: str, first_name: str | None, until: str
) -> EmailMessage:
    store = view.to_location
    msg = EmailMessage()
    msg["Subject"] = f"Your order {view.order_number} is ready for collection"
    msg["From"] = settings.mail_from
    msg["To"] = Address(display_name=view.client_name if view.customer_id else "", addr_spec=address)
    msg["Date"] = format_datetime(clock.now())
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(idstring=f"fulfilment.{view.id}", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Rapport-Fulfilment"] = str(view.id)
    lines = "\n".join(
        f"  {line.quantity} × {line.name}" + (f" ({line.size})" if line.size else "") for line in view.lines
    )
    hello = f"Hello {first_name}," if first_name else "Hello,"
    where = store.name if store else "the store"
    msg.set_content(
        f"{hello}\n\nYour order {view.order_number} is ready for collection at {where}:\n\n{lines}\n\n"
        f"We keep it for you until {until}. After that the items go back on sale.\n\n{where}\n"
    )
    return msg


def _queue(session: Session, notice: _Notice) -> None:
    box: list[_Notice] | None = session.info.get(_OUTBOX)
    if box is None:
        box = session.info[_OUTBOX] = []
        event.listen(session, "after_commit", _deliver)
        event.listen(session, "after_rollback", _discard)
    box.append(notice)


def _discard(session: Session) -> None:
    session.info.get(_OUTBOX, []).clear()


def _deliver(session: Session) -> None:
    """After the commit: send each notice, then say on the timeline whether it went (a new transaction)."""
    box: list[_Notice] = session.info.get(_OUTBOX, [])
    pending, box[:] = list(box), []
    if not pending:
        return
    entries: list[dict[str, Any]] = []
    for n in pending:
        sent = send_emails(n.settings, [n.message]) == 1
        summary = (
            f"Told by email that order {n.order_number} is ready ({n.address})"
            if sent
            else f"Email that order {n.order_number} is ready not sent to {n.address}: the mail server refused it or "
            "could not be reached"
        )
        entries += entry(n.fulfilment_id, n.customer_id, "ready_notice", summary, n.who, location_id=n.location_id,
                          data={"channel": "email", "sent": sent, "to": n.address})  # fmt: skip
    try:
        with Session(session.get_bind()) as writer, writer.begin():
            timeline.append(writer, entries)
    except SQLAlchemyError:
        log.exception("could not record %d ready-for-collection notices on the timeline", len(entries))
