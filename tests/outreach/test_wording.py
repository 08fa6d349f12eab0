"""Personalisation: fields filled per client, unknown and missing fields, SMS segments.

The team (tests/associates/staff.py): Ana (associate, Paris), Mia (online expert, US, no store),
Max (store manager, Paris), Ada (head office). Alicia is a French-speaking Paris client who bought
a camel coat and a silk scarf and sent the scarf back; Dan, in New York, never bought anything.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rapport.errors import InvalidRecord
from rapport.outreach import wording
from tests.associates.staff import Team, cheap_hashing, team
from tests.outreach.clients import ALICIA_VALUES, customers, product_id
from tests.statements import statements


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
