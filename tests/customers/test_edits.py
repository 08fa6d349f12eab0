"""What an associate changes on a client: checked against the edit rules, validated field by field,
and written with a timeline entry and an audit row in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from rapport.associates.models import AuditEvent
from rapport.associates.permissions import Actor
from rapport.customers import edits
from rapport.customers.models import Consent, Customer, Milestone, Note, Relationship, TimelineEntry
from rapport.customers.read import client_360
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord, NotFound, PermissionDenied
from rapport.identity.merge import merge_customers
from tests.associates.staff import cheap_hashing
from tests.conftest import TEST_NOW
from tests.customers.clientele import Clientele, clientele


@pytest.fixture
def people(db: Database) -> Iterator[Clientele]:
    with cheap_hashing():
        yield clientele(db)


def editor(db: Database, associate_id: int, name: str = "Someone") -> edits.Editor:
    from rapport.associates.permissions import load_actor

    with db.read() as session:
        actor = load_actor(session, associate_id)
    assert actor is not None
    return edits.Editor(actor, name, "203.0.113.7", "pytest")


def ana(db: Database, people: Clientele) -> edits.Editor:
    return editor(db, people.team.ana, "Ana Duval")


def change(db: Database, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with db.write() as session:
        return fn(session, *args, **kwargs)


def rows(db: Database, model: Any, **where: Any) -> list[Any]:
    with db.read() as session:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return list(session.scalars(stmt))


def entries(db: Database, customer_id: int, kind: str | None = None) -> list[TimelineEntry]:
    found = rows(db, TimelineEntry, customer_id=customer_id)
    return [e for e in found if kind is None or e.kind == kind]


def edit_audits(db: Database, customer_id: int) -> list[AuditEvent]:
    return rows(db, AuditEvent, customer_id=customer_id, action="client.edited")


# -- notes -------------------------------------------------------------------------------------------


def test_a_note_is_signed_stored_put_on_the_timeline_and_audited(db, people):
    added = change(db, edits.add_note, ana(db, people), people.alicia, "  Loves the camel coat;\r\nask about L  ")
    assert added.body == "Loves the camel coat;\nask about L"
    assert (added.author_associate_id, added.source, added.created_at) == (
        people.team.ana, f"associate:{people.team.ana}", TEST_NOW,
    )  # fmt: skip
    [note] = [n for n in rows(db, Note, customer_id=people.alicia) if n.id == added.id]
    assert note.body == added.body and note.author_associate_id == people.team.ana
    [entry] = entries(db, people.alicia, "note")
    assert (entry.actor_kind, entry.actor_id, entry.ref_type, entry.ref_id) == (
        "associate", people.team.ana, "note", added.id,
    )  # fmt: skip
    assert entry.summary == "Note: Loves the camel coat; ask about L"
    assert entry.occurred_at == TEST_NOW and entry.source == f"associate:{people.team.ana}"
    [event] = edit_audits(db, people.alicia)
    assert (event.actor_kind, event.actor_id, event.ip, event.detail) == (
        "associate", people.team.ana, "203.0.113.7", {"change": "note"},
    )  # fmt: skip
    with db.read() as session:
        view = client_360(session, people.alicia)
    assert view.notes[0].body == added.body and view.notes[0].author.name == "Ana Duval"


def test_a_long_note_is_quoted_short_on_the_timeline(db, people):
    change(db, edits.add_note, ana(db, people), people.alicia, "word " * 200)
    [entry] = entries(db, people.alicia, "note")
    assert len(entry.summary) <= len("Note: ") + edits.NOTE_EXCERPT and entry.summary.endswith("…")


@pytest.mark.parametrize(
    ("body", "message"),
    [("", "empty"), ("   \n ", "empty"), ("x" * 5001, "at most 5,000 characters; this one has 5,001")],
)
def test_an_empty_or_over_long_note_is_refused_naming_the_field(db, people, body, message):
    with pytest.raises(InvalidRecord) as refused:
        change(db, edits.add_note, ana(db, people), people.alicia, body)
    assert refused.value.errors[0].field == "body" and message in refused.value.errors[0].message
    assert entries(db, people.alicia, "note") == [] and edit_audits(db, people.alicia) == []


def test_a_note_of_exactly_five_thousand_characters_is_kept(db, people):
    added = change(db, edits.add_note, ana(db, people), people.alicia, "x" * 5000)
    assert len(added.body) == 5000


# -- who may edit ------------------------------------------------------------------------------------


def test_an_associate_cannot_edit_another_stores_client_and_nothing_is_written(db, people):
    ben = editor(db, people.team.ben, "Ben Carter")  # New York; Alicia is a Paris client in Ana's book
    before = len(entries(db, people.alicia))
    attempts = [
        (edits.add_note, (people.alicia, "hello")),
        (edits.update_profile, (people.alicia,), {"sizes": {"coats": "L"}}),
        (edits.set_consent, (people.alicia, "sms", True)),
        (edits.add_milestone, (people.alicia,), {"kind": "other", "month": 1, "day": 2}),
        (edits.add_relationship, (people.alicia,), {"relation": "friend"}),
    ]
    for fn, args, *kwargs in attempts:
        with pytest.raises(PermissionDenied, match="another store's clients"):
            change(db, fn, ben, *args, **(kwargs[0] if kwargs else {}))
    assert len(entries(db, people.alicia)) == before and edit_audits(db, people.alicia) == []
    assert rows(db, Customer, id=people.alicia)[0].sizes == {"coats": "M", "shoes": "38"}
    # ... but the New York client is his to edit
    change(db, edits.add_note, ben, people.bob, "Came in for a tie")


def test_the_edit_rule_follows_roles_and_books(db, people):
    mia = editor(db, people.team.mia)  # online expert: her book only (Olivia)
    change(db, edits.add_note, mia, people.olivia, "Sent the autumn look")
    with pytest.raises(PermissionDenied):
        change(db, edits.add_note, mia, people.bob, "no")
    manager = editor(db, people.team.max)  # Paris manager: Paris clients
    change(db, edits.add_note, manager, people.alicia, "VIP dinner invite")
    with pytest.raises(PermissionDenied):
        change(db, edits.add_note, manager, people.bob, "no")
    admin = editor(db, people.team.ada)
    change(db, edits.add_note, admin, people.bob, "Head office says hello")


def test_an_integration_with_write_scope_edits_and_one_with_read_only_does_not(db, people):
    writer = edits.Editor(Actor.token(9, ["write"]), "crm-sync")
    added = change(db, edits.add_note, writer, people.bob, "From the CRM")
    assert added.author_associate_id is None and added.source == "token:9"
    [entry] = entries(db, people.bob, "note")
    assert (entry.actor_kind, entry.actor_id) == ("integration", 9)
    with pytest.raises(PermissionDenied):
        change(db, edits.add_note, edits.Editor(Actor.token(10, ["read"]), "reader"), people.bob, "no")


def test_an_unknown_client_is_not_found(db, people):
    with pytest.raises(NotFound, match="client 424242 not found"):
        change(db, edits.add_note, ana(db, people), 424242, "hello")


def test_a_merged_away_id_edits_the_survivor(db, people):
    with db.write() as session:
        merge_customers(session, people.alicia, people.bob, reason="same person")
    admin = editor(db, people.team.ada)
    added = change(db, edits.add_note, admin, people.bob, "After the merge")
    assert added.customer_id == people.alicia
    assert entries(db, people.alicia, "note")[0].ref_id == added.id


# -- sizes and preferences ---------------------------------------------------------------------------


def test_sizes_are_set_and_removed_and_the_timeline_says_what_moved(db, people):
    changed = change(
        db, edits.update_profile, ana(db, people), people.alicia, sizes={"Coats": "L", "shoes": None, "ring": " 52 "}
    )
    assert changed.sizes == {"coats": "L", "ring": "52"}
    assert rows(db, Customer, id=people.alicia)[0].sizes == {"coats": "L", "ring": "52"}
    [entry] = entries(db, people.alicia, "profile")
    assert entry.summary == "Sizes: coats M → L, ring 52, shoes 38 removed"
    assert entry.data["sizes"]["coats"] == {"from": "M", "to": "L"} and entry.data["change"] == "sizes"
    assert [e.detail for e in edit_audits(db, people.alicia)] == [{"change": "sizes"}]


def test_saving_the_same_sizes_again_writes_nothing(db, people):
    changed = change(db, edits.update_profile, ana(db, people), people.alicia, sizes={"coats": "M"})
    assert changed.changed == [] and entries(db, people.alicia, "profile") == []
    assert edit_audits(db, people.alicia) == []


def test_preferences_take_lists_or_comma_separated_text_without_duplicates(db, people):
    changed = change(
        db, edits.update_profile, ana(db, people), people.alicia,
        preferences={"colours": "camel, navy,  camel ,", "brands": ["Maison", "Atelier"]},
    )  # fmt: skip
    assert changed.preferences == {"colours": ["camel", "navy"], "brands": ["Maison", "Atelier"]}
    [entry] = entries(db, people.alicia, "profile")
    assert entry.summary == "Preferences: brands Maison, Atelier, colours camel, navy"
    change(db, edits.update_profile, ana(db, people), people.alicia, preferences={"colours": ""})
    assert rows(db, Customer, id=people.alicia)[0].preferences == {"brands": ["Maison", "Atelier"]}


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"sizes": {"coats": "x" * 21}}, "sizes.coats", "at most 20 characters"),
        ({"sizes": {"": "M"}}, "sizes.(blank)", "name what the size"),
        ({"sizes": {"k" * 41: "M"}}, "sizes." + "k" * 41, "at most 40 characters"),
        ({"preferences": {"colours": [f"c{n}" for n in range(21)]}}, "preferences.colours", "at most 20 values"),
        ({"preferences": {"styles": ["x" * 101]}}, "preferences.styles", "at most 100 characters"),
    ],
)
def test_bad_sizes_and_preferences_are_refused_naming_the_field(db, people, kwargs, field, message):
    with pytest.raises(InvalidRecord) as refused:
        change(db, edits.update_profile, ana(db, people), people.alicia, **kwargs)
    assert refused.value.errors[0].field == field and message in refused.value.errors[0].message
    assert rows(db, Customer, id=people.alicia)[0].sizes == {"coats": "M", "shoes": "38"}


def test_a_client_has_a_bounded_number_of_sizes(db, people):
    with pytest.raises(InvalidRecord, match="at most 30 sizes"):
        change(db, edits.update_profile, ana(db, people), people.alicia, sizes={f"item {n}": "M" for n in range(30)})


# -- milestones and relationships --------------------------------------------------------------------


def test_a_milestone_is_added_shown_in_the_360_and_removed(db, people):
    added = change(
        db, edits.add_milestone, ana(db, people), people.alicia, kind="child_birthday", label=" Léo ", month=12, day=3
    )
    assert (added.kind, added.label, added.year, added.source) == (
        "child_birthday", "Léo", None, f"associate:{people.team.ana}",
    )  # fmt: skip
    with db.read() as session:
        upcoming = [(m.kind, m.days_until) for m in client_360(session, people.alicia).milestones]
    assert ("child_birthday", 10) in upcoming
    change(db, edits.remove_milestone, ana(db, people), people.alicia, added.id)
    assert [m.kind for m in rows(db, Milestone, customer_id=people.alicia)] == ["anniversary"]
    summaries = [e.summary for e in entries(db, people.alicia, "profile")]
    assert sorted(summaries) == [
        "Milestone added: child birthday (Léo) on 3 December",
        "Milestone removed: child birthday (Léo) on 3 December",
    ]


def test_the_same_milestone_twice_is_a_conflict(db, people):
    with pytest.raises(Conflict, match="already has a anniversary \\(wedding\\)"):
        change(db, edits.add_milestone, ana(db, people), people.alicia, kind="anniversary", label="wedding",
               month=7, day=1)  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "party", "month": 1, "day": 1}, "kind"),
        ({"kind": "other", "month": 2, "day": 30}, "date"),
        ({"kind": "other", "month": 13, "day": 1}, "date"),
        ({"kind": "other", "month": 1, "day": 1, "year": 1800}, "date"),
        ({"kind": "other", "label": "x" * 101, "month": 1, "day": 1}, "label"),
    ],
)
def test_a_bad_milestone_is_refused_naming_the_field(db, people, kwargs, field):
    with pytest.raises(InvalidRecord) as refused:
        change(db, edits.add_milestone, ana(db, people), people.alicia, **kwargs)
    assert refused.value.errors[0].field == field


def test_29_february_is_a_fine_milestone_and_dates_parse_with_or_without_a_year():
    assert edits.parse_milestone_date("2015-06-20") == (2015, 6, 20)
    assert edits.parse_milestone_date("--02-29") == (None, 2, 29)
    for bad in ("20/06/2015", "2015-02-30", "", "--13-01"):
        with pytest.raises(InvalidRecord, match="date"):
            edits.parse_milestone_date(bad)


def test_someone_elses_milestone_cannot_be_removed_through_this_client(db, people):
    [theirs] = rows(db, Milestone, customer_id=people.alicia)
    admin = editor(db, people.team.ada)
    with pytest.raises(NotFound, match=f"milestone {theirs.id} not found for client {people.bob}"):
        change(db, edits.remove_milestone, admin, people.bob, theirs.id)
    assert rows(db, Milestone, id=theirs.id)


def test_a_relationship_is_added_and_removed(db, people):
    added = change(db, edits.add_relationship, ana(db, people), people.alicia, relation="husband", name="Marc",
                   note="works in Milan", related_customer_id=None)  # fmt: skip
    assert (added.relation, added.name, added.note) == ("husband", "Marc", "works in Milan")
    change(db, edits.remove_relationship, ana(db, people), people.alicia, added.id)
    assert [r.relation for r in rows(db, Relationship, customer_id=people.alicia)] == ["sister"]
    assert sorted(e.summary for e in entries(db, people.alicia, "profile")) == [
        "Relationship added: husband Marc (works in Milan)", "Relationship removed: husband Marc",
    ]  # fmt: skip


def test_a_relationship_may_point_at_another_client(db, people):
    admin = editor(db, people.team.ada)
    added = change(db, edits.add_relationship, admin, people.alicia, relation="friend", related_customer_id=people.bob)
    assert added.related_customer_id == people.bob
    with db.read() as session:
        [_, friend] = client_360(session, people.alicia).relationships
    assert friend.related_customer_name == "Bob Stone"
    with pytest.raises(InvalidRecord, match="client 999 not found"):
        change(db, edits.add_relationship, admin, people.alicia, relation="friend", related_customer_id=999)
    with pytest.raises(InvalidRecord, match="not their own relation"):
        change(db, edits.add_relationship, admin, people.alicia, relation="self", related_customer_id=people.alicia)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"relation": "  "}, "relation"), ({"relation": "x" * 51}, "relation"),
     ({"relation": "friend", "note": "x" * 501}, "note")],
)  # fmt: skip
def test_a_bad_relationship_is_refused_naming_the_field(db, people, kwargs, field):
    with pytest.raises(InvalidRecord) as refused:
        change(db, edits.add_relationship, ana(db, people), people.alicia, **kwargs)
    assert refused.value.errors[0].field == field


# -- consent -----------------------------------------------------------------------------------------


def test_consent_is_recorded_per_channel_with_the_associate_as_source(db, people):
    done = change(db, edits.set_consent, ana(db, people), people.alicia, "sms", True)
    assert (done.granted, done.source, done.recorded_at, done.changed) == (
        True, f"associate:{people.team.ana}", TEST_NOW, True,
    )  # fmt: skip
    [sms] = rows(db, Consent, customer_id=people.alicia, channel="sms")
    assert (sms.granted, sms.source, sms.recorded_at) == (True, f"associate:{people.team.ana}", TEST_NOW)
    change(db, edits.set_consent, ana(db, people), people.alicia, "whatsapp", False)  # a channel never asked
    [whatsapp] = rows(db, Consent, customer_id=people.alicia, channel="whatsapp")
    assert whatsapp.granted is False
    mine = [e for e in entries(db, people.alicia, "consent") if e.actor_kind == "associate"]
    assert sorted((e.channel, e.summary) for e in mine) == [
        ("sms", "Consent to be contacted by sms granted (recorded by Ana Duval)"),
        ("whatsapp", "Consent to be contacted by whatsapp withdrawn (recorded by Ana Duval)"),
    ]


def test_saying_the_same_again_changes_nothing(db, people):
    done = change(db, edits.set_consent, ana(db, people), people.alicia, "email", True)
    assert done.changed is False and done.source == "shopify"
    assert [e for e in entries(db, people.alicia, "consent") if e.actor_kind == "associate"] == []


def test_an_unknown_channel_is_refused_naming_the_field(db, people):
    with pytest.raises(InvalidRecord) as refused:
        change(db, edits.set_consent, ana(db, people), people.alicia, "pigeon", True)
    assert refused.value.errors[0].field == "channel"
