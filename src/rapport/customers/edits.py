"""What an associate (or an integration) changes on a client: notes, sizes, preferences, milestones,
relationships and consent.

Every function here is one unit of change and follows the same four steps, in the caller's
transaction:

1. find the client (a merged-away id acts on its survivor) — :class:`~rapport.errors.NotFound` if unknown;
2. check the edit rule (:func:`rapport.associates.permissions.require_edit_client`) —
   :class:`~rapport.errors.PermissionDenied` for another store's client;
3. validate the input — :class:`~rapport.errors.InvalidRecord` naming the field;
4. write the change, one timeline entry saying what changed (kind ``note``, ``consent`` or
   ``profile``; the associate as the actor, the client as the subject) and one audit row.

Nothing is read that the change does not need; a change that changes nothing (the same size
saved twice) writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.permissions import Actor, client_facts, require_edit_client
from rapport.customers import timeline
from rapport.customers.models import CONSENT_CHANNELS, Consent, Customer, Milestone, Note, Relationship
from rapport.db import insert_for, table_of
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound

CUSTOMER = table_of(Customer)
NOTE = table_of(Note)
MILESTONE = table_of(Milestone)
RELATIONSHIP = table_of(Relationship)
CONSENT = table_of(Consent)

NOTE_MAX = 5000
SIZE_KEY_MAX = 40
SIZE_VALUE_MAX = 20
SIZES_MAX = 30
PREFERENCE_KEY_MAX = 40
PREFERENCE_VALUE_MAX = 100
PREFERENCE_VALUES_MAX = 20
PREFERENCES_MAX = 20
MILESTONE_KINDS = ("anniversary", "wedding", "birthday", "child_birthday", "partner_birthday", "other")
MILESTONE_LABEL_MAX = 100
RELATION_MAX = 50
RELATION_NAME_MAX = 200
RELATION_NOTE_MAX = 500
#: How much of a note the timeline entry quotes.
NOTE_EXCERPT = 140
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Editor:
    """Who makes a change: the actor the permission rules judge, their name, and where they are."""

    actor: Actor
    name: str
    ip: str | None = None
    user_agent: str | None = None

    @property
    def source(self) -> str:
        """``associate:12`` or ``token:3``: recorded on each row the change writes."""
        return f"{self.actor.kind}:{self.actor.id}"

    @property
    def timeline_actor_kind(self) -> str:
        return "associate" if self.actor.is_associate else "integration"

    @property
    def audit_actor(self) -> audit.AuditActor:
        return audit.AuditActor(
            self.actor.kind, self.actor.id, f"{self.actor.kind}:{self.name}", self.ip, self.user_agent
        )


@dataclass(frozen=True)
class NoteAdded:
    id: int
    customer_id: int
    body: str
    author_associate_id: int | None
    source: str
    created_at: datetime


@dataclass(frozen=True)
class MilestoneAdded:
    id: int
    customer_id: int
    kind: str
    label: str
    month: int
    day: int
    year: int | None
    source: str


@dataclass(frozen=True)
class RelationshipAdded:
    id: int
    customer_id: int
    relation: str
    name: str | None
    note: str | None
    related_customer_id: int | None
    source: str


@dataclass(frozen=True)
class ConsentSet:
    customer_id: int
    channel: str
    granted: bool
    source: str
    recorded_at: datetime
    changed: bool


@dataclass(frozen=True)
class ProfileChanged:
    customer_id: int
    sizes: dict[str, str]
    preferences: dict[str, list[str]]
    changed: list[str]  # what moved, in words ("coats M → L")


# -- the client and the rule -------------------------------------------------------------------


def editable_client(session: Session, editor: Editor, customer_id: int) -> int:
    """The surviving id of a client ``editor`` may edit; NotFound or PermissionDenied otherwise."""
    facts = client_facts(session, customer_id)
    require_edit_client(editor.actor, facts)
    return facts.customer_id


def _record(
    session: Session,
    editor: Editor,
    cid: int,
    *,
    kind: str,
    what: str,
    summary: str,
    channel: str | None = None,
    ref: tuple[str, int] | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """The timeline entry and the audit row of one change."""
    now = clock.now()
    timeline.append(
        session,
        [
            timeline.entry(
                customer_id=cid,
                kind=kind,
                summary=summary,
                source=editor.source,
                external_id=f"{what}:{uuid.uuid4().hex}",
                occurred_at=now,
                recorded_at=now,
                channel=channel,
                actor_kind=editor.timeline_actor_kind,
                actor_id=editor.actor.id,
                ref_type=ref[0] if ref else None,
                ref_id=ref[1] if ref else None,
                data={"change": what, **(data or {})},
            )
        ],
    )
    audit.record_by(session, editor.audit_actor, audit.EDITED, customer_id=cid, detail={"change": what})


def _text(value: str | None) -> str:
    """Trimmed, with line endings made plain (a textarea sends CRLF)."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _short(value: str, limit: int) -> str:
    one_line = " ".join(value.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + "…"


# -- notes -------------------------------------------------------------------------------------


def check_note(body: str | None) -> str:
    """The note as it will be stored; InvalidRecord naming ``body`` when empty or too long."""
    text = _text(body)
    if not text:
        raise InvalidRecord.one("body", "write the note first: it is empty")
    if len(text) > NOTE_MAX:
        raise InvalidRecord.one("body", f"a note is at most {NOTE_MAX:,} characters; this one has {len(text):,}")
    return text


def add_note(session: Session, editor: Editor, customer_id: int, body: str | None) -> NoteAdded:
    """Write a note on the client's record, signed by the associate, and put it on the timeline."""
    cid = editable_client(session, editor, customer_id)
    text = check_note(body)
    now = clock.now()
    author = editor.actor.associate_id
    note_id = session.execute(
        insert(NOTE)
        .values(customer_id=cid, author_associate_id=author, body=text, source=editor.source, created_at=now)
        .returning(NOTE.c.id)
    ).scalar_one()
    _record(
        session,
        editor,
        cid,
        kind="note",
        what="note",
        ref=("note", note_id),
        summary=f"Note: {_short(text, NOTE_EXCERPT)}",
    )
    return NoteAdded(note_id, cid, text, author, editor.source, now)


# -- sizes and preferences ---------------------------------------------------------------------


def _key(field: str, raw: str, limit: int) -> str:
    key = " ".join(_text(raw).lower().split())
    if not key:
        raise InvalidRecord.one(field, "name what the size or preference is for (e.g. coats, shoes, colours)")
    if len(key) > limit:
        raise InvalidRecord.one(field, f"at most {limit} characters")
    return key


def check_sizes(changes: Mapping[str, str | None]) -> dict[str, str | None]:
    """``{"coats": "M", "shoes": None}`` cleaned: keys lower-case, values trimmed, blank means remove."""
    out: dict[str, str | None] = {}
    errors: list[FieldError] = []
    for raw_key, raw_value in changes.items():
        try:
            key = _key(f"sizes.{_text(raw_key) or '(blank)'}", raw_key, SIZE_KEY_MAX)
        except InvalidRecord as exc:
            errors += exc.errors
            continue
        value = _text(raw_value) if raw_value is not None else ""
        if len(value) > SIZE_VALUE_MAX:
            errors.append(FieldError(f"sizes.{key}", f"a size is at most {SIZE_VALUE_MAX} characters"))
            continue
        out[key] = value or None
    if errors:
        raise InvalidRecord(errors)
    return out


def check_preferences(changes: Mapping[str, Sequence[str] | str | None]) -> dict[str, list[str] | None]:
    """``{"colours": ["camel", "navy"], "styles": None}`` cleaned; a value may be comma-separated text."""
    out: dict[str, list[str] | None] = {}
    errors: list[FieldError] = []
    for raw_key, raw_values in changes.items():
        try:
            key = _key(f"preferences.{_text(raw_key) or '(blank)'}", raw_key, PREFERENCE_KEY_MAX)
        except InvalidRecord as exc:
            errors += exc.errors
            continue
        if raw_values is None:
            items: list[str] = []
        elif isinstance(raw_values, str):
            items = raw_values.split(",")
        else:
            items = [str(v) for v in raw_values]
        values = list(dict.fromkeys(v for v in (" ".join(_text(i).split()) for i in items) if v))
        field = f"preferences.{key}"
        if len(values) > PREFERENCE_VALUES_MAX:
            errors.append(FieldError(field, f"at most {PREFERENCE_VALUES_MAX} values"))
        elif any(len(v) > PREFERENCE_VALUE_MAX for v in values):
            errors.append(FieldError(field, f"each value is at most {PREFERENCE_VALUE_MAX} characters"))
        else:
            out[key] = values or None
    if errors:
        raise InvalidRecord(errors)
    return out


def update_profile(
    session: Session,
    editor: Editor,
    customer_id: int,
    *,
    sizes: Mapping[str, str | None] | None = None,
    preferences: Mapping[str, Sequence[str] | str | None] | None = None,
) -> ProfileChanged:
    """Set or remove sizes and preferences (only the keys given; ``None`` or blank removes one).

    One timeline entry lists what moved, e.g. "Sizes: coats M → L, shoes 38 removed".
    """
    cid = editable_client(session, editor, customer_id)
    size_changes = check_sizes(sizes or {})
    preference_changes = check_preferences(preferences or {})
    row = session.execute(
        select(CUSTOMER.c.sizes, CUSTOMER.c.preferences).where(CUSTOMER.c.id == cid).with_for_update()
    ).one()
    old_sizes: dict[str, str] = dict(row.sizes or {})
    old_prefs: dict[str, list[str]] = {k: list(v) for k, v in (row.preferences or {}).items()}
    new_sizes, new_prefs = dict(old_sizes), {k: list(v) for k, v in old_prefs.items()}
    for key, size in size_changes.items():
        if size is None:
            new_sizes.pop(key, None)
        else:
            new_sizes[key] = size
    for key, values in preference_changes.items():
        if values is None:
            new_prefs.pop(key, None)
        else:
            new_prefs[key] = values
    if len(new_sizes) > SIZES_MAX:
        raise InvalidRecord.one("sizes", f"a client has at most {SIZES_MAX} sizes")
    if len(new_prefs) > PREFERENCES_MAX:
        raise InvalidRecord.one("preferences", f"a client has at most {PREFERENCES_MAX} kinds of preference")

    moved_sizes = _size_changes(old_sizes, new_sizes)
    moved_prefs = _preference_changes(old_prefs, new_prefs)
    if moved_sizes or moved_prefs:
        session.execute(
            update(CUSTOMER)
            .where(CUSTOMER.c.id == cid)
            .values(sizes=new_sizes, preferences=new_prefs, updated_at=clock.now())
        )
        parts = []
        if moved_sizes:
            parts.append("Sizes: " + ", ".join(moved_sizes))
        if moved_prefs:
            parts.append("Preferences: " + ", ".join(moved_prefs))
        data: dict[str, Any] = {}
        if moved_sizes:
            data["sizes"] = {
                k: {"from": old_sizes.get(k), "to": new_sizes.get(k)}
                for k in sorted(set(old_sizes) | set(new_sizes))
                if old_sizes.get(k) != new_sizes.get(k)
            }
        if moved_prefs:
            data["preferences"] = {
                k: {"from": old_prefs.get(k), "to": new_prefs.get(k)}
                for k in sorted(set(old_prefs) | set(new_prefs))
                if old_prefs.get(k) != new_prefs.get(k)
            }
        what = "sizes" if moved_sizes and not moved_prefs else "preferences" if not moved_sizes else "profile"
        _record(session, editor, cid, kind="profile", what=what, summary="; ".join(parts), data=data)
    return ProfileChanged(cid, new_sizes, new_prefs, moved_sizes + moved_prefs)


def _size_changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None:
            out.append(f"{key} {after}")
        elif after is None:
            out.append(f"{key} {before} removed")
        else:
            out.append(f"{key} {before} → {after}")
    return out


def _preference_changes(old: dict[str, list[str]], new: dict[str, list[str]]) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        out.append(f"{key} removed" if after is None else f"{key} {', '.join(after)}")
    return out


# -- milestones --------------------------------------------------------------------------------


def check_milestone(kind: str, label: str | None, month: int, day: int, year: int | None) -> tuple[str, str]:
    kind = _text(kind)
    label = " ".join(_text(label).split())
    if kind not in MILESTONE_KINDS:
        raise InvalidRecord.one("kind", f"expected one of {', '.join(MILESTONE_KINDS)}")
    if len(label) > MILESTONE_LABEL_MAX:
        raise InvalidRecord.one("label", f"at most {MILESTONE_LABEL_MAX} characters")
    if year is not None and not 1900 <= year <= clock.now().year + 1:
        raise InvalidRecord.one("date", f"the year must be between 1900 and {clock.now().year + 1}")
    try:
        date(year or 2000, month, day)  # 2000 is a leap year: 29 February is a fine anniversary
    except (ValueError, TypeError):
        raise InvalidRecord.one("date", "not a calendar date") from None
    return kind, label


def parse_milestone_date(value: str | None) -> tuple[int | None, int, int]:
    """``YYYY-MM-DD``, or ``--MM-DD`` when the year is not known → ``(year, month, day)``.

    InvalidRecord naming ``date`` otherwise.
    """
    text = _text(value)
    parts = text.split("-")
    try:
        if text.startswith("--") and len(parts) == 4 and not parts[0] and not parts[1]:
            year, month, day = None, int(parts[2]), int(parts[3])
        elif len(parts) == 3 and len(parts[0]) == 4:
            year, month, day = int(parts[0]), int(parts[1]), int(parts[2])
        else:
            raise ValueError(text)
        date(year or 2000, month, day)
    except ValueError:
        raise InvalidRecord.one("date", "a date is YYYY-MM-DD, or --MM-DD when the year is not known") from None
    return year, month, day


def describe_milestone(kind: str, label: str, month: int, day: int, year: int | None) -> str:
    what = kind.replace("_", " ")
    when = f"{day} {MONTHS[month - 1]}" + (f" {year}" if year else "")
    return f"{what}{f' ({label})' if label else ''} on {when}"


def add_milestone(
    session: Session,
    editor: Editor,
    customer_id: int,
    *,
    kind: str,
    label: str | None = "",
    month: int,
    day: int,
    year: int | None = None,
) -> MilestoneAdded:
    """A date worth remembering; Conflict when the client already has this kind with this label."""
    cid = editable_client(session, editor, customer_id)
    kind, label = check_milestone(kind, label, month, day, year)
    taken = session.execute(
        select(MILESTONE.c.id).where(
            MILESTONE.c.customer_id == cid, MILESTONE.c.kind == kind, MILESTONE.c.label == label
        )
    ).first()
    if taken is not None:
        described = kind.replace("_", " ") + (f" ({label})" if label else "")
        raise Conflict(f"this client already has a {described}: remove it first to change its date")
    milestone_id = session.execute(
        insert(MILESTONE)
        .values(customer_id=cid, kind=kind, label=label, month=month, day=day, year=year, source=editor.source)
        .returning(MILESTONE.c.id)
    ).scalar_one()
    _record(
        session,
        editor,
        cid,
        kind="profile",
        what="milestone_added",
        ref=("milestone", milestone_id),
        summary=f"Milestone added: {describe_milestone(kind, label, month, day, year)}",
        data={"kind": kind, "label": label, "month": month, "day": day, "year": year},
    )
    return MilestoneAdded(milestone_id, cid, kind, label, month, day, year, editor.source)


def remove_milestone(session: Session, editor: Editor, customer_id: int, milestone_id: int) -> None:
    cid = editable_client(session, editor, customer_id)
    row = session.execute(
        select(MILESTONE).where(MILESTONE.c.id == milestone_id, MILESTONE.c.customer_id == cid)
    ).first()
    if row is None:
        raise NotFound(f"milestone {milestone_id} not found for client {customer_id}")
    session.execute(delete(MILESTONE).where(MILESTONE.c.id == milestone_id))
    _record(
        session,
        editor,
        cid,
        kind="profile",
        what="milestone_removed",
        ref=("milestone", milestone_id),
        summary=f"Milestone removed: {describe_milestone(row.kind, row.label, row.month, row.day, row.year)}",
        data={"kind": row.kind, "label": row.label, "month": row.month, "day": row.day, "year": row.year},
    )


# -- relationships -----------------------------------------------------------------------------


def add_relationship(
    session: Session,
    editor: Editor,
    customer_id: int,
    *,
    relation: str,
    name: str | None = None,
    note: str | None = None,
    related_customer_id: int | None = None,
) -> RelationshipAdded:
    """Someone who matters to the client ("sister Inès, lives in Lyon"), possibly a client too."""
    cid = editable_client(session, editor, customer_id)
    relation = " ".join(_text(relation).split())
    name = " ".join(_text(name).split()) or None
    note = _text(note) or None
    if not relation:
        raise InvalidRecord.one("relation", "say who they are to the client (e.g. sister, husband, friend)")
    for field, value, limit in (
        ("relation", relation, RELATION_MAX),
        ("name", name, RELATION_NAME_MAX),
        ("note", note, RELATION_NOTE_MAX),
    ):
        if value is not None and len(value) > limit:
            raise InvalidRecord.one(field, f"at most {limit} characters")
    if related_customer_id is not None:
        try:
            related_customer_id = client_facts(session, related_customer_id).customer_id
        except NotFound:
            raise InvalidRecord.one("related_customer_id", f"client {related_customer_id} not found") from None
        if related_customer_id == cid:
            raise InvalidRecord.one("related_customer_id", "a client is not their own relation")
    relationship_id = session.execute(
        insert(RELATIONSHIP)
        .values(
            customer_id=cid,
            relation=relation,
            name=name,
            note=note,
            related_customer_id=related_customer_id,
            source=editor.source,
        )
        .returning(RELATIONSHIP.c.id)
    ).scalar_one()
    who = " ".join(p for p in (relation, name) if p)
    _record(
        session,
        editor,
        cid,
        kind="profile",
        what="relationship_added",
        ref=("relationship", relationship_id),
        summary=f"Relationship added: {who}" + (f" ({_short(note, 80)})" if note else ""),
        data={"relation": relation, "name": name},
    )
    return RelationshipAdded(relationship_id, cid, relation, name, note, related_customer_id, editor.source)


def remove_relationship(session: Session, editor: Editor, customer_id: int, relationship_id: int) -> None:
    cid = editable_client(session, editor, customer_id)
    row = session.execute(
        select(RELATIONSHIP.c.relation, RELATIONSHIP.c.name).where(
            RELATIONSHIP.c.id == relationship_id, RELATIONSHIP.c.customer_id == cid
        )
    ).first()
    if row is None:
        raise NotFound(f"relationship {relationship_id} not found for client {customer_id}")
    session.execute(delete(RELATIONSHIP).where(RELATIONSHIP.c.id == relationship_id))
    who = " ".join(p for p in (row.relation, row.name) if p)
    _record(
        session,
        editor,
        cid,
        kind="profile",
        what="relationship_removed",
        ref=("relationship", relationship_id),
        summary=f"Relationship removed: {who}",
        data={"relation": row.relation, "name": row.name},
    )


# -- consent -----------------------------------------------------------------------------------


def _store_consent(session: Session, cid: int, channel: str, granted: bool, source: str) -> ConsentSet:
    """Replace the stored decision for one channel (the row locked first); unchanged when it says the same."""
    current = session.execute(
        select(CONSENT.c.granted, CONSENT.c.source, CONSENT.c.recorded_at)
        .where(CONSENT.c.customer_id == cid, CONSENT.c.channel == channel)
        .with_for_update()
    ).first()
    if current is not None and current.granted == granted:
        return ConsentSet(cid, channel, granted, current.source, current.recorded_at, changed=False)
    now = clock.now()
    stmt = insert_for(session, CONSENT).values(
        customer_id=cid, channel=channel, granted=granted, source=source, recorded_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[CONSENT.c.customer_id, CONSENT.c.channel],
            set_={"granted": granted, "source": source, "recorded_at": now},
        )
    )
    return ConsentSet(cid, channel, granted, source, now, changed=True)


def set_consent(session: Session, editor: Editor, customer_id: int, channel: str, granted: bool) -> ConsentSet:
    """The client says yes or no to being contacted on ``channel``, as the associate records it now.

    Saying the same thing again changes nothing (no timeline entry); a change replaces the stored
    decision with this one, its source (``associate:<id>``) and the time.
    """
    cid = editable_client(session, editor, customer_id)
    channel = _text(channel).lower()
    if channel not in CONSENT_CHANNELS:
        raise InvalidRecord.one("channel", f"expected one of {', '.join(CONSENT_CHANNELS)}")
    if not isinstance(granted, bool):
        raise InvalidRecord.one("granted", "expected true or false")
    stored = _store_consent(session, cid, channel, granted, editor.source)
    if not stored.changed:
        return stored
    verb = "granted" if granted else "withdrawn"
    _record(
        session,
        editor,
        cid,
        kind="consent",
        what="consent",
        channel=channel,
        summary=f"Consent to be contacted by {channel} {verb} (recorded by {editor.name})",
        data={"granted": granted},
    )
    return stored


def record_client_consent(
    session: Session, customer_id: int, channel: str, granted: bool, *, source: str, said: str
) -> ConsentSet:
    """The client themselves says yes or no (a STOP text, an unsubscribe link): no associate involved.

    ``source`` says how (``sms:keyword``, ``email:unsubscribe-link``), ``said`` what, in words, for the
    timeline ("Replied STOP by SMS"). The same answer twice changes nothing.
    """
    from rapport.identity.merge import resolve_id

    cid = resolve_id(session, customer_id)
    if channel not in CONSENT_CHANNELS:
        raise InvalidRecord.one("channel", f"expected one of {', '.join(CONSENT_CHANNELS)}")
    stored = _store_consent(session, cid, channel, granted, source)
    if not stored.changed:
        return stored
    now = stored.recorded_at
    verb = "granted" if granted else "withdrawn"
    timeline.append(
        session,
        [
            timeline.entry(
                customer_id=cid, kind="consent", channel=channel, source=source,
                summary=f"{said}: consent to {channel} {verb}", external_id=f"consent:{uuid.uuid4().hex}",
                occurred_at=now, recorded_at=now, actor_kind="client", data={"change": "consent", "granted": granted},
            )
        ],
    )  # fmt: skip
    return stored
