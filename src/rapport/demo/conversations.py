"""The demo's conversations: business lines for each store, starter templates, and this morning's threads.

Each store gets an SMS/WhatsApp number and a reply address; a few clients of each store associate
have written in (some asked about an item, one replied STOP) and their associate answered. All
through the services the app uses (inbound filing, ``send_message``) and sent through the local
outbox — nothing leaves the machine. One associate is out of office this week, so the store's
shared inbox has something in it. Deterministic per seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

import phonenumbers
from sqlalchemy import select, update

from rapport import clock
from rapport.associates.models import Associate
from rapport.associates.permissions import load_actor
from rapport.customers.edits import Editor
from rapport.customers.models import Consent, Customer
from rapport.db import Database
from rapport.errors import RapportError
from rapport.identity.models import Identifier
from rapport.inventory.models import Location
from rapport.outreach import message_templates, service
from rapport.outreach.dispatch import outreach_runner
from rapport.outreach.inbound import Inbound, receive

THREADS_PER_ASSOCIATE = 3
QUESTIONS = (
    "Hi! Is the camel coat back in my size?",
    "Thank you for yesterday, I love the scarf.",
    "Could you put the black loafers aside for Saturday?",
    "Do you have the new fragrance in 100 ml?",
    "I saw the look on Instagram, is it in store?",
)
ANSWERS = (
    "Hello {first_name}, yes it is! I can set it aside for you until Saturday.",
    "So glad you like it, {first_name}. See you soon!",
    "Done, {first_name}: they are waiting for you at the counter.",
    "Hello {first_name}, we have it. Shall I keep one for you?",
)


@dataclass
class ConversationReport:
    threads: int = 0
    messages: int = 0


def _line(country: str, n: int) -> str | None:
    """A believable business number for a store (the region's example mobile number, varied)."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return None
    digits = str(example.national_number)
    example.national_number = int(digits[:-2] + f"{n % 100:02d}")
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def stage_conversations(db: Database, seed: int) -> ConversationReport:
    rng = random.Random(f"conversations:{seed}")
    report = ConversationReport()
    with db.write() as session:
        message_templates.ensure_default_templates(session)
        stores = session.execute(
            select(Location.id, Location.code, Location.country).where(Location.kind == "store").order_by(Location.id)
        ).all()
        for i, s in enumerate(stores):
            number = _line(s.country, 10 + i)
            session.execute(
                update(Location)
                .where(Location.id == s.id)
                .values(sms_number=number, whatsapp_number=number,
                        email_address=f"{s.code.lower()}@maison-rapport.example")
            )  # fmt: skip
        staff = session.execute(
            select(Associate.id, Associate.display_name, Associate.home_location_id, Location.sms_number)
            .join(Location, Location.id == Associate.home_location_id)
            .where(Associate.role == "associate", Associate.active.is_(True))
            .order_by(Associate.id)
        ).all()
        agreed = select(Consent.customer_id).where(Consent.channel == "sms", Consent.granted.is_(True))
        clients = session.execute(
            select(Customer.assigned_associate_id, Customer.id, Identifier.value)
            .join(Identifier, (Identifier.customer_id == Customer.id) & (Identifier.kind == "phone"))
            .where(Customer.status == "active", Customer.assigned_associate_id.in_([a.id for a in staff]),
                   Customer.id.in_(agreed))
            .order_by(Customer.id)
        ).all()  # fmt: skip
    by_owner: dict[int, list[tuple[int, str]]] = {}
    for owner, cid, phone in clients:
        if owner is not None:
            by_owner.setdefault(owner, []).append((cid, phone))
    now = clock.now()
    for a in staff:
        mine = list(dict.fromkeys(by_owner.get(a.id, [])))
        for k, (cid, phone) in enumerate(rng.sample(mine, min(THREADS_PER_ASSOCIATE, len(mine)))):
            question = rng.choice(QUESTIONS)
            try:
                receive(db, Inbound("sms", "outbox", f"demo-{seed}-{a.id}-{cid}", phone, [a.sms_number or ""],
                                    question, received_at=now - timedelta(minutes=rng.randint(20, 600))))  # fmt: skip
                report.messages += 1
                report.threads += 1
                if k == 0:
                    continue  # one waiting for an answer
                with db.write() as session:
                    actor = load_actor(session, a.id)
                    if actor is None:
                        continue
                    service.send_message(
                        session, Editor(actor, a.display_name), cid, channel="sms", body=rng.choice(ANSWERS),
                        idempotency_key=f"demo-{seed}-{a.id}-{cid}-answer",
                    )  # fmt: skip
                report.messages += 1
            except RapportError:
                continue
    if staff:
        away = staff[min(1, len(staff) - 1)]
        with db.write() as session:
            session.execute(update(Associate).where(Associate.id == away.id).values(away_until=now + timedelta(days=5)))
        for cid, phone in by_owner.get(away.id, [])[:1]:
            receive(db, Inbound("sms", "outbox", f"demo-{seed}-away-{cid}", phone, [away.sms_number or ""],
                                "Hello, are you in the store on Thursday?"))  # fmt: skip
            report.messages += 1
    # One thread and a fixed worker name: the same seed gives the same rows.
    outreach_runner(lambda: db, worker_id="demo-loader", concurrency=1).drain(max_seconds=60)
    return report
