"""Alicia, in Ana's book at the Paris store, who agreed to email, SMS and WhatsApp: the outreach tests' shop."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from rapport.associates.models import Associate
from rapport.associates.permissions import Actor
from rapport.customers.edits import Editor
from rapport.customers.models import Customer
from rapport.db import Database
from rapport.outreach import service
from tests.factories import alicia, ingest, ok, seed_reference

ALL_CONSENT = [{"channel": c, "granted": True} for c in ("email", "sms", "whatsapp")]


def open_shop(db: Database) -> dict[str, Any]:
    """The Paris store and Ana (seed_reference), Alicia in Ana's book; ids by name."""
    seed_reference(db)
    ok(ingest(db, "customers", alicia(consent=ALL_CONSENT, home_store="PAR", assigned_associate="ANA")))
    with db.read() as session:
        person = session.execute(select(Associate.id, Associate.home_location_id).where(Associate.code == "ANA")).one()
        cid = session.scalar(select(Customer.id).where(Customer.first_name == "Alicia"))
    return {"cid": cid, "ana": person.id, "paris": person.home_location_id}


def ana(shop: dict[str, Any]) -> Editor:
    return Editor(Actor.associate(shop["ana"], "associate", {shop["paris"]}), "Ana")


def send(db: Database, shop: dict[str, Any], **kw: Any) -> service.Queued:
    """Ana writes to Alicia (an SMS saying hello unless told otherwise)."""
    with db.write() as session:
        return service.send_message(session, ana(shop), shop["cid"], **{"channel": "sms", "body": "Hello!", **kw})
