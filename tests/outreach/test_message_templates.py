"""Saved message templates: the rules a template is saved under, retiring, starters, and the preview.

The team and clients as in test_wording.py (tests/outreach/clients.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from rapport.associates.models import AuditEvent
from rapport.errors import Conflict, InvalidRecord
from rapport.outreach import message_templates
from tests.associates.staff import Team, cheap_hashing, team
from tests.outreach.clients import SID, customers, new, refused


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def staff(db) -> Team:
    return team(db)


@pytest.fixture
def people(db, staff) -> dict[str, int]:
    return customers(db)


def test_preview_shows_what_the_client_receives_and_lists_missing_fields(db, staff, people) -> None:
    with db.read() as session:
        seen = message_templates.preview(
            session, template_id=None, body="Hello {first_name}, enjoying your {last_purchase}? {product}",
            subject=None, customer_id=people["dan"], associate_id=staff.ana,
        )  # fmt: skip
    assert seen.body == "Hello Dan, enjoying your [last purchase]? [product]"
    assert seen.missing == ["last_purchase", "product"]
    assert seen.missing_messages[0] == "Dan has no purchase yet: remove {last_purchase}"
    assert (seen.length, seen.sms_segments, seen.sms_encoding) == (len(seen.body), 1, "GSM-7")


def test_preview_of_a_saved_email_template_fills_its_subject_too(db, staff, people) -> None:
    saved = new(db, staff.max, name="Invitation", channel="email", subject="{first_name}, an invitation",
                body="Dear {full_name},\nsee you at {store_name}. {associate_name}")  # fmt: skip
    with db.read() as session:
        seen = message_templates.preview(
            session, template_id=saved.id, body=None, subject=None, customer_id=people["alicia"], associate_id=staff.ana
        )
    assert seen.subject == "Alicia, an invitation"
    assert seen.body == "Dear Alicia Moreau,\nsee you at Paris Saint-Honoré. Ana Duval"
    assert seen.missing == [] and seen.channel == "email"


# -- templates -------------------------------------------------------------------------------------------


def test_a_template_is_saved_with_its_fields_and_an_audit_row(db, staff) -> None:
    saved = new(db, staff.max, body="Hello {first_name}, {{not a field}} from {store_name}")
    assert (saved.name, saved.channel, saved.language, saved.active) == ("Thank you", None, "en", True)
    assert saved.fields == ["first_name", "store_name"] and saved.created_by_id == staff.max
    with db.read() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "template.created")).one()
        assert message_templates.get_template(session, saved.id) == saved
    assert (event.actor_id, event.actor_label, event.detail["template_id"]) == (staff.max, "associate:Max Laurent",
                                                                              saved.id)  # fmt: skip


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"name": "  "}, "name", "give the template a name"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"channel": "pigeon"}, "channel", "one of email, sms, whatsapp"),
        ({"body": ""}, "body", "write the message"),
        ({"channel": "sms", "body": "a" * 1601}, "body", "at most 1,600 characters for sms"),
        ({"channel": None, "body": "a" * 1601}, "body", "usable on SMS and WhatsApp"),
        ({"channel": "email", "body": "a" * 20_001}, "body", "at most 20,000"),
        ({"channel": "sms", "subject": "Hello"}, "subject", "only email templates"),
        ({"channel": "email", "subject": "s" * 301}, "subject", "at most 300"),
        ({"channel": "email", "subject": "Hi {shoe_size}"}, "subject", "unknown field {shoe_size}"),
        ({"body": "Your size {shoe_size}"}, "body", "unknown field {shoe_size}"),
        ({"language": "klingon"}, "language", "a language code"),
        ({"channel": "email", "whatsapp_approved": True}, "whatsapp_approved", "only WhatsApp"),
        ({"channel": "whatsapp", "whatsapp_approved": True}, "provider_template_id", "needs its Content SID"),
        ({"channel": "whatsapp", "whatsapp_approved": True, "provider_template_id": "HX123"},
         "provider_template_id", "HX and 32 hexadecimal digits"),
        ({"channel": "whatsapp", "provider_template_id": SID}, "provider_template_id", "only for WhatsApp-approved"),
    ],
)  # fmt: skip
def test_a_template_breaking_a_rule_is_refused_naming_the_field(db, values, field, words) -> None:
    with pytest.raises(InvalidRecord) as exc:
        new(db, None, **values)
    assert words in refused(exc).get(field, ""), exc.value.errors


def test_long_email_bodies_and_approved_whatsapp_templates_with_a_content_sid_are_accepted(db, staff) -> None:
    email = new(db, staff.ada, name="Long letter", channel="email", subject="News", body="a" * 20_000)
    approved = new(db, staff.ada, name="Reopen", channel="whatsapp", whatsapp_approved=True,
                   provider_template_id=SID, language="fr-CA")  # fmt: skip
    assert len(email.body) == 20_000 and email.subject == "News"
    assert (approved.whatsapp_approved, approved.provider_template_id, approved.language) == (True, SID, "fr-CA")


def test_a_duplicate_name_is_refused_clearly_even_in_other_case_or_once_retired(db, staff) -> None:
    first = new(db, staff.ada, name="Back in stock")
    with pytest.raises(InvalidRecord) as exc:
        new(db, staff.max, name="back in STOCK")
    assert refused(exc) == {"name": "a template named “Back in stock” already exists: pick another name"}
    with db.write() as session:
        message_templates.retire_template(session, staff.ada, first.id)
    with pytest.raises(InvalidRecord) as retired:
        new(db, staff.max, name="Back in stock")
    assert "already exists (retired)" in refused(retired)["name"]


def test_changing_a_template_checks_it_whole_and_audits_the_fields_changed(db, staff) -> None:
    saved = new(db, staff.ada, name="Invite", channel="email", subject="Hello", body="Hello {first_name}")
    other = new(db, staff.ada, name="Other")
    with db.write() as session:
        changed = message_templates.update_template(
            session, staff.max, saved.id, body="Bonjour {first_name}", language="fr"
        )
    assert (changed.body, changed.language, changed.subject) == ("Bonjour {first_name}", "fr", "Hello")
    with pytest.raises(InvalidRecord) as exc, db.write() as session:
        message_templates.update_template(session, staff.max, saved.id, channel="sms")  # the subject would be left over
    assert "subject" in refused(exc)
    with pytest.raises(InvalidRecord) as taken, db.write() as session:
        message_templates.update_template(session, staff.max, other.id, name="invite")
    assert "already exists" in refused(taken)["name"]
    with pytest.raises(InvalidRecord) as unknown, db.write() as session:
        message_templates.update_template(session, staff.max, saved.id, active=False)
    assert refused(unknown) == {"active": "cannot be changed"}
    with db.read() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "template.updated")).all()
    assert [(e.actor_id, e.detail["fields"]) for e in events] == [(staff.max, ["body", "language"])]


def test_a_retired_template_leaves_the_lists_is_kept_and_cannot_change(db, staff) -> None:
    sms = new(db, staff.ada, name="Back in stock", channel="sms")
    anywhere = new(db, staff.ada, name="Birthday")
    email = new(db, staff.ada, name="Invitation", channel="email")
    with db.read() as session:
        assert [t.name for t in message_templates.templates_for(session, "sms")] == ["Back in stock", "Birthday"]
        assert [t.name for t in message_templates.templates_for(session, "email")] == ["Birthday", "Invitation"]
        assert len(message_templates.templates_for(session, None)) == 3
    with db.write() as session:
        retired = message_templates.retire_template(session, staff.ada, sms.id)
        again = message_templates.retire_template(session, staff.ada, sms.id)
    assert retired.active is False and again == retired
    with db.read() as session:
        assert [t.id for t in message_templates.templates_for(session, "sms")] == [anywhere.id]
        assert message_templates.get_template(session, sms.id).active is False
        assert len(message_templates.list_templates(session, include_retired=True)) == 3
        retirements = session.scalars(select(AuditEvent).where(AuditEvent.action == "template.retired")).all()
    assert len(retirements) == 1 and email.active
    with pytest.raises(Conflict), db.write() as session:
        message_templates.update_template(session, staff.ada, sms.id, body="Hello again")


def test_starter_templates_are_valid_and_added_once_by_name(db, staff, people) -> None:
    new(db, staff.ada, name="Birthday wishes", body="Our own birthday note, {first_name}")
    with db.write() as session:
        added = message_templates.ensure_default_templates(session)
    with db.write() as session:
        again = message_templates.ensure_default_templates(session)
    assert (added, again) == (len(message_templates.DEFAULT_TEMPLATES) - 1, 0)
    with db.read() as session:
        found = {t.name: t for t in message_templates.list_templates(session)}
        for t in found.values():  # each previews for a real client without an unknown field
            message_templates.preview(session, template_id=t.id, body=None, subject=None, customer_id=people["alicia"],
                            associate_id=staff.ana)  # fmt: skip
    assert found["Birthday wishes"].body == "Our own birthday note, {first_name}"  # not overwritten
    invitation = found["Private appointment invitation"]
    assert invitation.subject and invitation.channel == "email"
    approved = [t for t in found.values() if t.whatsapp_approved]
    assert len(approved) == 1 and message_templates.CONTENT_SID.match(approved[0].provider_template_id or "")
    assert {"product", "product_link"} <= set(found["Back in stock"].fields)
    assert "look_link" in found["New season look"].fields
