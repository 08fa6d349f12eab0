"""Message templates: fields filled per client, the rules a template is saved under, and the preview.

The team (tests/associates/staff.py): Ana (associate, Paris), Mia (online expert, US, no store),
Max (store manager, Paris), Ada (head office). Alicia is a French-speaking Paris client who bought
a camel coat and a silk scarf and sent the scarf back; Dan, in New York, never bought anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from rapport.associates.models import AuditEvent
from rapport.catalog.models import Product
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord
from rapport.outreach import wording
from tests.associates.staff import Team, cheap_hashing, team
from tests.statements import statements
from tests.web.shop import accepted, client, coats

ALICIA_VALUES = {"first_name": "Alicia", "last_name": "Moreau", "full_name": "Alicia Moreau"}
SID = "HX" + "0123456789abcdef" * 2


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def staff(db) -> Team:
    return team(db)


@pytest.fixture
def people(db, staff) -> dict[str, int]:
    coats(db)
    alicia = client(db, "alicia", "Alicia", "Moreau", home_store="PAR", language="fr", associate="ana@maison.example")
    dan = client(db, "dan", "Dan", "Brown", home_store="NYC")
    accepted(
        db,
        "orders",
        {"source": "pos", "id": "o1", "channel": "store", "store": "PAR", "currency": "EUR",
         "placed_at": "2026-10-31T23:30:00+00:00", "customer": {"source": "web", "id": "alicia"},
         "lines": [{"sku": "COAT", "quantity": 1, "unit_price": "1200.00"}]},
        {"source": "pos", "id": "o2", "channel": "store", "store": "PAR", "currency": "EUR",
         "placed_at": "2026-11-10T10:00:00+00:00", "customer": {"source": "web", "id": "alicia"},
         "lines": [{"sku": "SCARF", "quantity": 1, "unit_price": "80.00"}]},
    )  # fmt: skip
    accepted(
        db,
        "returns",
        {"source": "pos", "id": "r1", "order_id": "o2", "channel": "store", "store": "PAR", "currency": "EUR",
         "returned_at": "2026-11-12T10:00:00+00:00", "lines": [{"sku": "SCARF", "quantity": 1}]},
    )  # fmt: skip
    return {"alicia": alicia, "dan": dan}


def product_id(db: Database, sku: str) -> int:
    with db.read() as session:
        found = session.scalar(select(Product.id).where(Product.sku == sku))
    assert found is not None
    return found


def refused(exc: pytest.ExceptionInfo[InvalidRecord]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def new(db: Database, actor: int | None, **values: object) -> wording.TemplateView:
    fields: dict[str, object] = {"name": "Thank you", "channel": None, "subject": None, "body": "Hello {first_name}"}
    fields.update(values)
    with db.write() as session:
        return wording.create_template(session, actor, **fields)  # type: ignore[arg-type]


# -- rendering -----------------------------------------------------------------------------------------


def test_render_fills_each_field_and_keeps_doubled_braces_as_literal_braces() -> None:
    text = "Hello {first_name} {last_name}, {{first_name}} stays as typed: {{ }} {{{first_name}}}"
    assert wording.render(text, ALICIA_VALUES) == "Hello Alicia Moreau, {first_name} stays as typed: { } {Alicia}"


def test_a_value_is_put_in_as_it_is_never_read_as_a_field() -> None:
    assert wording.render("Hi {first_name}", {"first_name": "{last_name}"}) == "Hi {last_name}"


def test_an_unknown_field_is_refused_naming_it_and_the_known_ones() -> None:
    with pytest.raises(InvalidRecord) as exc:
        wording.render("Your size: {shoe_size}", ALICIA_VALUES)
    message = exc.value.errors[0].message
    assert exc.value.errors[0].field == "body"
    assert message.startswith("unknown field {shoe_size}; known: {first_name}, {last_name}, {full_name}")
    with pytest.raises(InvalidRecord) as typo:
        wording.render("Hello {frist_name}", ALICIA_VALUES)
    assert "did you mean {first_name}?" in typo.value.errors[0].message


def test_a_known_field_without_a_value_is_refused_in_the_composers_words() -> None:
    with pytest.raises(InvalidRecord) as exc:
        wording.render("Are you enjoying your {last_purchase}?", ALICIA_VALUES)
    assert exc.value.errors[0].message == "Alicia has no purchase yet: remove {last_purchase}"
    with pytest.raises(InvalidRecord) as nameless:
        wording.render("Hello {first_name}", {})
    assert nameless.value.errors[0].message == "This client has no first name on record: remove {first_name}"


def test_lenient_rendering_leaves_a_visible_placeholder_for_a_missing_value() -> None:
    text = "Enjoying your {last_purchase}, {first_name}? {product_link}"
    shown = wording.render(text, ALICIA_VALUES, strict=False)
    assert shown == "Enjoying your [last purchase], Alicia? [product link]"
    with pytest.raises(InvalidRecord):  # an unknown field is wrong in a preview too
        wording.render("{shoe_size}", ALICIA_VALUES, strict=False)


def test_fields_used_and_the_check_made_when_a_template_is_saved() -> None:
    assert wording.fields_used("Hi {first_name}, {{store_name}} {shoe_size}") == {"first_name", "shoe_size"}
    wording.check_template_text("Hi {first_name}, see {{this}}")
    with pytest.raises(InvalidRecord) as unknown:
        wording.check_template_text("Hi {shoe_size}", where="subject")
    assert unknown.value.errors[0].field == "subject" and "{shoe_size}" in unknown.value.errors[0].message
    with pytest.raises(InvalidRecord) as lone:
        wording.check_template_text("Hi :} there")
    assert "write }} for a brace" in lone.value.errors[0].message


# -- SMS segments ---------------------------------------------------------------------------------------


def test_gsm_7_text_fits_160_characters_in_one_sms_and_153_in_each_part_after() -> None:
    assert len(wording.GSM_BASIC) == 127  # GSM 03.38's basic table, less the escape
    assert wording.sms_count("").segments == 0
    assert wording.sms_count("a" * 160) == wording.SmsCount("GSM-7", 160, 1)
    assert wording.sms_count("a" * 161) == wording.SmsCount("GSM-7", 161, 2)
    assert wording.sms_count("é" * 306).segments == 2
    assert wording.sms_count("a" * 307).segments == 3


def test_a_gsm_extension_character_counts_two_and_is_never_split_between_parts() -> None:
    assert wording.sms_count("€" + "a" * 158) == wording.SmsCount("GSM-7", 160, 1)
    assert wording.sms_count("€" + "a" * 159) == wording.SmsCount("GSM-7", 161, 2)
    # 152 septets, then an escaped "[" that would straddle the first part: it moves whole to the second.
    assert wording.sms_count("a" * 152 + "[" + "a" * 152).segments == 3
    assert wording.sms_count("a" * 151 + "[" + "a" * 153).segments == 2


def test_one_character_outside_gsm_makes_it_ucs_2_with_70_then_67_per_part() -> None:
    assert wording.sms_count("ł" * 70) == wording.SmsCount("UCS-2", 70, 1)
    assert wording.sms_count("ł" * 71) == wording.SmsCount("UCS-2", 71, 2)
    assert wording.sms_count("a" * 133 + "ł").segments == 2
    assert wording.sms_count("a" * 134 + "ł").segments == 3
    assert wording.sms_count("Merci 🙂") == wording.SmsCount("UCS-2", 8, 1)  # an emoji is two UTF-16 units
    assert wording.sms_count("🙂" * 35).segments == 1
    assert wording.sms_count("🙂" * 36).segments == 2
    # 134 units would fill two parts exactly, but the emoji is not cut in half between the first and the second.
    assert wording.sms_count("a" * 66 + "🙂" + "a" * 66) == wording.SmsCount("UCS-2", 134, 3)
    assert wording.sms_count("a" * 67 + "🙂" + "a" * 65) == wording.SmsCount("UCS-2", 134, 2)


# -- what the fields become ------------------------------------------------------------------------------


def test_personal_values_for_a_client_from_their_associate(db, staff, people) -> None:
    coat = product_id(db, "COAT")
    with db.read() as session, statements(db) as sent:
        values = wording.personal_values(
            session, customer_id=people["alicia"], associate_id=staff.ana, product_id=coat,
            extra={"product_link": "https://rapport.example/r/abc123"},
        )  # fmt: skip
    assert values == {
        **ALICIA_VALUES,
        "associate_name": "Ana Duval",
        "associate_first_name": "Ana",
        "store_name": "Paris Saint-Honoré",
        "last_purchase": "Camel coat",  # the scarf came back
        "last_purchase_date": "31 octobre 2026",  # in Alicia's language
        "product": "Camel coat",
        "product_link": "https://rapport.example/r/abc123",
    }
    assert len(sent) <= 4


def test_without_a_store_of_their_own_the_associate_writes_from_the_clients_store(db, staff, people) -> None:
    with db.read() as session:
        values = wording.personal_values(session, customer_id=people["dan"], associate_id=staff.mia)
    assert values["store_name"] == "New York Madison" and values["associate_first_name"] == "Mia"
    assert "last_purchase" not in values and "product" not in values


def test_preview_shows_what_the_client_receives_and_lists_missing_fields(db, staff, people) -> None:
    with db.read() as session:
        seen = wording.preview(
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
        seen = wording.preview(
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
        assert wording.get_template(session, saved.id) == saved
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
        wording.retire_template(session, staff.ada, first.id)
    with pytest.raises(InvalidRecord) as retired:
        new(db, staff.max, name="Back in stock")
    assert "already exists (retired)" in refused(retired)["name"]


def test_changing_a_template_checks_it_whole_and_audits_the_fields_changed(db, staff) -> None:
    saved = new(db, staff.ada, name="Invite", channel="email", subject="Hello", body="Hello {first_name}")
    other = new(db, staff.ada, name="Other")
    with db.write() as session:
        changed = wording.update_template(session, staff.max, saved.id, body="Bonjour {first_name}", language="fr")
    assert (changed.body, changed.language, changed.subject) == ("Bonjour {first_name}", "fr", "Hello")
    with pytest.raises(InvalidRecord) as exc, db.write() as session:
        wording.update_template(session, staff.max, saved.id, channel="sms")  # the subject would be left over
    assert "subject" in refused(exc)
    with pytest.raises(InvalidRecord) as taken, db.write() as session:
        wording.update_template(session, staff.max, other.id, name="invite")
    assert "already exists" in refused(taken)["name"]
    with pytest.raises(InvalidRecord) as unknown, db.write() as session:
        wording.update_template(session, staff.max, saved.id, active=False)
    assert refused(unknown) == {"active": "cannot be changed"}
    with db.read() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "template.updated")).all()
    assert [(e.actor_id, e.detail["fields"]) for e in events] == [(staff.max, ["body", "language"])]


def test_a_retired_template_leaves_the_lists_is_kept_and_cannot_change(db, staff) -> None:
    sms = new(db, staff.ada, name="Back in stock", channel="sms")
    anywhere = new(db, staff.ada, name="Birthday")
    email = new(db, staff.ada, name="Invitation", channel="email")
    with db.read() as session:
        assert [t.name for t in wording.templates_for(session, "sms")] == ["Back in stock", "Birthday"]
        assert [t.name for t in wording.templates_for(session, "email")] == ["Birthday", "Invitation"]
        assert len(wording.templates_for(session, None)) == 3
    with db.write() as session:
        retired = wording.retire_template(session, staff.ada, sms.id)
        again = wording.retire_template(session, staff.ada, sms.id)
    assert retired.active is False and again == retired
    with db.read() as session:
        assert [t.id for t in wording.templates_for(session, "sms")] == [anywhere.id]
        assert wording.get_template(session, sms.id).active is False
        assert len(wording.list_templates(session, include_retired=True)) == 3
        retirements = session.scalars(select(AuditEvent).where(AuditEvent.action == "template.retired")).all()
    assert len(retirements) == 1 and email.active
    with pytest.raises(Conflict), db.write() as session:
        wording.update_template(session, staff.ada, sms.id, body="Hello again")


def test_starter_templates_are_valid_and_added_once_by_name(db, staff, people) -> None:
    new(db, staff.ada, name="Birthday wishes", body="Our own birthday note, {first_name}")
    with db.write() as session:
        added = wording.ensure_default_templates(session)
    with db.write() as session:
        again = wording.ensure_default_templates(session)
    assert (added, again) == (len(wording.DEFAULT_TEMPLATES) - 1, 0)
    with db.read() as session:
        found = {t.name: t for t in wording.list_templates(session)}
        for t in found.values():  # each previews for a real client without an unknown field
            wording.preview(session, template_id=t.id, body=None, subject=None, customer_id=people["alicia"],
                            associate_id=staff.ana)  # fmt: skip
    assert found["Birthday wishes"].body == "Our own birthday note, {first_name}"  # not overwritten
    invitation = found["Private appointment invitation"]
    assert invitation.subject and invitation.channel == "email"
    approved = [t for t in found.values() if t.whatsapp_approved]
    assert len(approved) == 1 and wording.CONTENT_SID.match(approved[0].provider_template_id or "")
    assert {"product", "product_link"} <= set(found["Back in stock"].fields)
    assert "look_link" in found["New season look"].fields
