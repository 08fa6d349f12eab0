"""Upserting clients from any source, with identity resolution on every record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.customers import timeline
from rapport.customers.models import Address, Consent, Customer, Milestone, Note, Relationship
from rapport.db import bulk_insert, table_of
from rapport.identity import candidates
from rapport.identity.normalize import IdentifierError, name_key, normalize_phone
from rapport.identity.resolve import (
    Claim,
    Resolver,
    email_key,
    external_key,
    phone_key,
    serialise_client_batches,
)
from rapport.ingest import lookups
from rapport.ingest.outcome import Outcome
from rapport.ingest.records import CustomerRecord, CustomerRef, parse_milestone_date
from rapport.settings import get_settings

CUSTOMER = table_of(Customer)
PROFILE_FIELDS = (
    "first_name", "last_name", "first_name_key", "last_name_key", "birth_date", "language", "city",
    "country", "home_location_id", "assigned_associate_id", "tier", "tags", "preferences", "sizes",
)  # fmt: skip


def record_region(record: CustomerRecord) -> str:
    for address in record.addresses:
        if address.country:
            return address.country
    return get_settings().default_region


def claims_for(record: CustomerRecord) -> list[Claim]:
    """Identifiers a customer record asserts. Raises IdentifierError naming the field."""
    claims = [Claim(external_key(record.source, record.id), verified=True)]
    for item in record.emails:
        claims.append(Claim(email_key(item.address), item.verified))
    region = record_region(record)
    for i, phone in enumerate(record.phones):
        try:
            claims.append(Claim(phone_key(normalize_phone(phone.number, region)), phone.verified))
        except IdentifierError as exc:
            raise FieldIdentifierError(f"phones.{i}", str(exc)) from None
    for ext in record.external_ids:
        claims.append(Claim(external_key(ext.source, ext.id), verified=True))
    return claims


def claims_for_ref(ref: CustomerRef, default_source: str) -> list[Claim]:
    claims = []
    if ref.id:
        claims.append(Claim(external_key(ref.source or default_source, ref.id), verified=True))
    if ref.email:
        claims.append(Claim(email_key(ref.email)))
    if ref.phone:
        try:
            claims.append(Claim(phone_key(normalize_phone(ref.phone, ref.country or get_settings().default_region))))
        except IdentifierError as exc:
            raise FieldIdentifierError("customer.phone", str(exc)) from None
    return claims


class FieldIdentifierError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def stub_profile(ref: CustomerRef) -> dict[str, Any]:
    return {
        "first_name": ref.first_name,
        "last_name": ref.last_name,
        "first_name_key": name_key(ref.first_name),
        "last_name_key": name_key(ref.last_name),
        "country": ref.country,
    }


def upsert_customers(
    session: Session, items: Sequence[tuple[int, CustomerRecord]], *, actor: str = "integration"
) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    resolver = Resolver(session, actor=actor)

    # 1. Identifiers and references, checked before anything is written.
    claims: dict[int, list[Claim]] = {}
    for index, record in items:
        try:
            claims[index] = claims_for(record)
        except FieldIdentifierError as exc:
            outcomes[index] = Outcome.rejected(exc.field, exc.message)
    stores = lookups.location_ids(session, (r.home_store for _, r in items))
    associates = lookups.associate_ids(session, (r.assigned_associate for _, r in items))
    for index, record in items:
        if index in outcomes:
            continue
        if record.home_store and record.home_store not in stores:
            outcomes[index] = Outcome.rejected("home_store", f"unknown location {record.home_store!r}")
        elif record.assigned_associate and record.assigned_associate not in associates:
            outcomes[index] = Outcome.rejected("assigned_associate", f"unknown associate {record.assigned_associate!r}")
    good = [(i, r) for i, r in items if i not in outcomes]
    # Parsing phones and checking references above needs no turn; reading who owns what does.
    serialise_client_batches(session)
    resolver.prefetch(c.key for i, _ in good for c in claims[i])

    # 2. Who is who.
    review: dict[int, list[str]] = {}  # records that touched someone else's identifiers
    touched: dict[int, bool] = defaultdict(bool)
    target: dict[int, int] = {}
    created: set[int] = set()
    for index, record in good:
        res = resolver.resolve(claims[index], source=record.source, profile={})
        assert res is not None
        target[index] = res.customer_id
        if res.created:
            created.add(res.customer_id)
        elif res.merged or res.claimed:
            touched[res.customer_id] = True
        if res.conflict:
            review[index] = [f"not merged, sent to review: {res.conflict}"]

    # 3. Current state of existing clients and their child rows, in one query per table.
    resolver.apply_merges()  # survivors' rows include what they absorbed
    existing_ids = sorted({resolver.follow(t) for t in target.values() if resolver.follow(t) > 0})
    work: dict[int, dict[str, Any]] = {}
    before: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(existing_ids):
        for row in session.execute(select(CUSTOMER).where(CUSTOMER.c.id.in_(chunk))).mappings():
            current = {k: row[k] for k in PROFILE_FIELDS}
            before[row["id"]] = current
            work[row["id"]] = _copy(current)
    children = _existing_children(session, existing_ids)
    stored_consent = {(cid, ch) for cid, channels in children["consent"].items() for ch in channels}

    # 4. Apply each record in order onto the working state.
    now = clock.now()
    new_rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    consent_rows: dict[tuple[int, str], dict[str, Any]] = {}
    events: list[dict[str, Any]] = []
    for index, record in good:
        cid = resolver.follow(target[index])
        profile = work.setdefault(cid, _blank())
        _apply_profile(profile, record, stores, associates)
        touched[cid] |= _apply_children(cid, record, children, new_rows, consent_rows, events, now)

    # 5. Write: staged clients, changed profiles, child rows, timeline.
    for temp, staged in resolver.staged.items():
        if staged.redirect is None:
            staged.profile = work.get(temp, _blank())
    mapping = resolver.flush()

    def real(cid: int) -> int:
        return mapping.get(cid, cid)

    changed = [{"_id": cid, **work[cid], "updated_at": now} for cid in existing_ids if work[cid] != before[cid]]
    if changed:
        stmt = (
            update(CUSTOMER)
            .where(CUSTOMER.c.id == bindparam("_id"))
            .values({name: bindparam(name) for name in (*PROFILE_FIELDS, "updated_at")})
        )
        session.connection().execute(stmt, changed)
    for table, rows in new_rows.items():
        if rows:
            bulk_insert(session, _TABLES[table], [{**r, "customer_id": real(r["customer_id"])} for r in rows])
    if consent_rows:
        _write_consent(
            session,
            [{**r, "customer_id": real(r["customer_id"])} for r in consent_rows.values()],
            stored_consent,
        )
    timeline.append(session, [{**e, "customer_id": real(e["customer_id"])} for e in events])

    changed_ids = {row["_id"] for row in changed}
    fresh = {real(cid) for cid in created if resolver.follow(cid) == cid}
    candidates.queue(session, sorted(fresh | changed_ids))
    for index, _record in good:
        cid = real(resolver.follow(target[index]))
        if target[index] in created:
            status = "created"
        elif cid in changed_ids or touched[resolver.follow(target[index])] or index in review:
            status = "updated"
        else:
            status = "unchanged"
        outcomes[index] = Outcome(status, cid, warnings=review.get(index, []))
    return outcomes


def _write_consent(session: Session, rows: list[dict[str, Any]], stored: set[tuple[int, str]]) -> None:
    """New channels are bulk-inserted; changed decisions update the stored row."""
    t = table_of(Consent)
    bulk_insert(session, t, [r for r in rows if (r["customer_id"], r["channel"]) not in stored])
    changed = [
        {**r, "_cid": r["customer_id"], "_ch": r["channel"]} for r in rows if (r["customer_id"], r["channel"]) in stored
    ]
    if changed:
        stmt = (
            update(t)
            .where(t.c.customer_id == bindparam("_cid"), t.c.channel == bindparam("_ch"))
            .values(granted=bindparam("granted"), source=bindparam("source"), recorded_at=bindparam("recorded_at"))
        )
        session.connection().execute(
            stmt, [{k: v for k, v in r.items() if k not in ("customer_id", "channel")} for r in changed]
        )


_TABLES = {
    "address": table_of(Address),
    "milestone": table_of(Milestone),
    "relationship": table_of(Relationship),
    "note": table_of(Note),
}


def _blank() -> dict[str, Any]:
    return {k: ([] if k == "tags" else {} if k in ("preferences", "sizes") else None) for k in PROFILE_FIELDS}


def _copy(profile: dict[str, Any]) -> dict[str, Any]:
    out = dict(profile)
    out["tags"] = list(profile["tags"] or [])
    out["preferences"] = {k: list(v) for k, v in (profile["preferences"] or {}).items()}
    out["sizes"] = dict(profile["sizes"] or {})
    return out


def _apply_profile(p: dict[str, Any], r: CustomerRecord, stores: dict[str, int], associates: dict[str, int]) -> None:
    if r.first_name:
        p["first_name"], p["first_name_key"] = r.first_name, name_key(r.first_name)
    if r.last_name:
        p["last_name"], p["last_name_key"] = r.last_name, name_key(r.last_name)
    for name in ("birth_date", "language", "tier"):
        value = getattr(r, name)
        if value is not None:
            p[name] = value
    if r.home_store:
        p["home_location_id"] = stores[r.home_store]
    if r.assigned_associate:
        p["assigned_associate_id"] = associates[r.assigned_associate]
    if r.tags:
        p["tags"] = list(dict.fromkeys([*p["tags"], *r.tags]))
    for key, values in r.preferences.items():
        p["preferences"][key] = list(dict.fromkeys([*p["preferences"].get(key, []), *values]))
    p["sizes"].update(r.sizes)
    primary = next((a for a in r.addresses if a.primary), r.addresses[0] if r.addresses else None)
    if primary is not None and (primary.primary or not p["city"]):
        p["city"] = primary.city or p["city"]
        p["country"] = primary.country or p["country"]


def _existing_children(session: Session, ids: list[int]) -> dict[str, dict[int, set[Any]]]:
    found: dict[str, dict[int, set[Any]]] = {
        k: defaultdict(set) for k in ("address", "milestone", "relationship", "note")
    }
    consent: dict[int, dict[str, Any]] = defaultdict(dict)
    for chunk in _chunks(ids):
        a = table_of(Address)
        for row in session.execute(
            select(a.c.customer_id, a.c.kind, a.c.line1, a.c.postal_code, a.c.country).where(a.c.customer_id.in_(chunk))
        ):
            found["address"][row[0]].add(_address_key(*row[1:]))
        m = table_of(Milestone)
        for m_row in session.execute(
            select(m.c.customer_id, m.c.kind, m.c.label, m.c.year, m.c.month, m.c.day).where(m.c.customer_id.in_(chunk))
        ):
            found["milestone"][m_row[0]].add(tuple(m_row[1:]))
        rel = table_of(Relationship)
        for cid, relation, name in session.execute(
            select(rel.c.customer_id, rel.c.relation, rel.c.name).where(rel.c.customer_id.in_(chunk))
        ):
            found["relationship"][cid].add((relation.lower(), (name or "").lower()))
        n = table_of(Note)
        for cid, body in session.execute(select(n.c.customer_id, n.c.body).where(n.c.customer_id.in_(chunk))):
            found["note"][cid].add(body)
        c = table_of(Consent)
        for cid, channel, granted, recorded_at in session.execute(
            select(c.c.customer_id, c.c.channel, c.c.granted, c.c.recorded_at).where(c.c.customer_id.in_(chunk))
        ):
            consent[cid][channel] = (granted, recorded_at)
    found["consent"] = consent  # type: ignore[assignment]
    return found


def _address_key(kind: str | None, line1: str | None, postal: str | None, country: str | None) -> tuple[str, ...]:
    return (kind or "", (line1 or "").lower().strip(), (postal or "").replace(" ", "").upper(), country or "")


def _apply_children(
    cid: int,
    r: CustomerRecord,
    children: dict[str, dict[int, Any]],
    rows: dict[str, list[dict[str, Any]]],
    consent_rows: dict[tuple[int, str], dict[str, Any]],
    events: list[dict[str, Any]],
    now: Any,
) -> bool:
    """Add the record's new child rows; True when anything was new."""
    changed = False
    seen = children["address"][cid]
    has_primary = any(True for _ in seen)
    for a in r.addresses:
        key = _address_key(a.kind, a.line1, a.postal_code, a.country)
        if key in seen:
            continue
        seen.add(key)
        changed = True
        rows["address"].append({
            "customer_id": cid, "kind": a.kind, "line1": a.line1, "line2": a.line2, "city": a.city,
            "region": a.region, "postal_code": a.postal_code, "country": a.country,
            "is_primary": a.primary or not has_primary, "source": r.source, "created_at": now,
        })  # fmt: skip
        has_primary = True
    seen = children["milestone"][cid]
    for m in r.milestones:
        year, month, day = parse_milestone_date(m.date)
        if (m.kind, m.label, year, month, day) in seen:
            continue
        if any(k == m.kind and lbl == m.label for k, lbl, *_ in seen):
            continue  # a different date for the same milestone: kept as first recorded
        seen.add((m.kind, m.label, year, month, day))
        changed = True
        rows["milestone"].append(
            {
                "customer_id": cid,
                "kind": m.kind,
                "label": m.label,
                "year": year,
                "month": month,
                "day": day,
                "source": r.source,
            }
        )
    seen = children["relationship"][cid]
    for rel in r.relationships:
        key = (rel.relation.lower(), (rel.name or "").lower())
        if key in seen:
            continue
        seen.add(key)
        changed = True
        rows["relationship"].append(
            {
                "customer_id": cid,
                "relation": rel.relation,
                "name": rel.name,
                "note": rel.note,
                "related_customer_id": None,
                "source": r.source,
            }
        )
    seen = children["note"][cid]
    for body in r.notes:
        if body in seen:
            continue
        seen.add(body)
        changed = True
        rows["note"].append(
            {
                "customer_id": cid,
                "author_associate_id": None,
                "body": body,
                "source": r.source,
                "created_at": now,
            }
        )
    current = children["consent"][cid]
    for c in r.consent:
        at = c.recorded_at or now
        previous = current.get(c.channel)
        if previous is not None and (previous[1] >= at or previous[0] == c.granted):
            continue
        current[c.channel] = (c.granted, at)
        changed = True
        consent_rows[(cid, c.channel)] = {
            "customer_id": cid,
            "channel": c.channel,
            "granted": c.granted,
            "source": r.source,
            "recorded_at": at,
        }
        verb = "granted" if c.granted else "withdrawn"
        events.append(timeline.entry(
            customer_id=cid, kind="consent", channel=c.channel, occurred_at=at, source=r.source,
            external_id=f"consent:{r.id}:{c.channel}:{at.isoformat()}",
            summary=f"Consent to be contacted by {c.channel} {verb} ({r.source})",
            actor_kind="customer", data={"granted": c.granted},
        ))  # fmt: skip
    return changed


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
