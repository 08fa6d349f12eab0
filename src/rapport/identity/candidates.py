"""Probable duplicates for a human to confirm: never merged silently.

Deterministic matching only joins records that share an identifier. People also arrive twice
with a typo in the name, a phone with one digit off, or no shared identifier at all. For each
new client we look, with indexed queries only, at clients who share a birth date, a postal
code, or the exact name, then score the pair on name similarity and the supporting evidence
(same birth date, same street address, a phone or email one typo apart). Pairs that score
high enough land on the review list with their reasons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein
from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from rapport import clock
from rapport.customers.models import Address, Customer
from rapport.db import insert_for, table_of
from rapport.identity.models import Identifier, MatchCandidate

CUSTOMER, ADDRESS, IDENT = table_of(Customer), table_of(Address), table_of(Identifier)
#: Pairs scoring at least this go to review.
THRESHOLD = 70
#: Names must be at least this alike (rapidfuzz token-sort ratio, 0-100) to be considered.
NAME_FLOOR = 80
#: At most this many proposals per new client (the best-scoring ones).
PER_CLIENT = 3
_POOL_LIMIT = 2000


@dataclass
class _Person:
    id: int
    name: str
    birth_date: date | None
    addresses: set[tuple[str, str, str]] = field(default_factory=set)  # (country, postal, line1)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)


def _chunks(values: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _load(session: Session, ids: Iterable[int]) -> dict[int, _Person]:
    wanted = sorted(set(ids))
    people: dict[int, _Person] = {}
    for chunk in _chunks(wanted):
        for cid, first, last, born in session.execute(
            select(CUSTOMER.c.id, CUSTOMER.c.first_name_key, CUSTOMER.c.last_name_key, CUSTOMER.c.birth_date).where(
                CUSTOMER.c.id.in_(chunk), CUSTOMER.c.status == "active"
            )
        ):
            people[cid] = _Person(cid, " ".join(p for p in (first, last) if p), born)
        for cid, country, postal, line1 in session.execute(
            select(ADDRESS.c.customer_id, ADDRESS.c.country, ADDRESS.c.postal_code, ADDRESS.c.line1).where(
                ADDRESS.c.customer_id.in_(chunk)
            )
        ):
            if cid in people and postal:
                people[cid].addresses.add((country or "", postal.replace(" ", "").upper(), (line1 or "").lower()))
        for cid, kind, value in session.execute(
            select(IDENT.c.customer_id, IDENT.c.kind, IDENT.c.value).where(
                IDENT.c.customer_id.in_(chunk), IDENT.c.kind.in_(("phone", "email"))
            )
        ):
            if cid in people:
                (people[cid].phones if kind == "phone" else people[cid].emails).add(value)
    return people


def _pool(session: Session, new: dict[int, _Person]) -> set[int]:
    """Clients worth comparing with: same birth date, same postal code, or the same name."""
    found: set[int] = set()
    births = sorted({p.birth_date for p in new.values() if p.birth_date})
    for chunk in _chunks(births):
        found.update(
            session.scalars(
                select(CUSTOMER.c.id)
                .where(CUSTOMER.c.birth_date.in_(chunk), CUSTOMER.c.status == "active")
                .limit(_POOL_LIMIT)
            )
        )
    postals = sorted({a[1] for p in new.values() for a in p.addresses})
    for chunk in _chunks(postals):
        found.update(
            session.scalars(select(ADDRESS.c.customer_id).where(ADDRESS.c.postal_code.in_(chunk)).limit(_POOL_LIMIT))
        )
    names = sorted({tuple(p.name.split(" ", 1)) for p in new.values() if " " in p.name})
    for chunk in _chunks(names):
        found.update(
            session.scalars(
                select(CUSTOMER.c.id)
                .where(tuple_(CUSTOMER.c.first_name_key, CUSTOMER.c.last_name_key).in_(chunk))
                .where(CUSTOMER.c.status == "active")
                .limit(_POOL_LIMIT)
            )
        )
    return found


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def score_pair(a: _Person, b: _Person) -> tuple[int, list[str]]:
    """0-99 and the reasons a reviewer reads. Names alike are necessary, never sufficient."""
    if not a.name or not b.name:
        return 0, []
    similarity = fuzz.token_sort_ratio(a.name, b.name)
    if similarity < NAME_FLOOR:
        return 0, []
    reasons = [f"names {a.name!r} and {b.name!r} are {similarity:.0f}% alike"]
    evidence = 0
    if a.birth_date and a.birth_date == b.birth_date:
        evidence += 1
        reasons.append(f"same birth date {a.birth_date.isoformat()}")
    for country, postal, line1 in a.addresses:
        match = next(
            (x for x in b.addresses if x[0] == country and x[1] == postal and fuzz.ratio(x[2], line1) >= 85), None
        )
        if match is not None:
            evidence += 1
            reasons.append(f"same address {line1}, {postal} {country}".strip())
            break
    phone_pair = next(
        (
            (p, q)
            for p in a.phones
            for q in b.phones
            if (p != q and Levenshtein.distance(_digits(p), _digits(q), weights=(1, 1, 1)) <= 1)
            or (p != q and _transposed(_digits(p), _digits(q)))
        ),
        None,
    )
    if phone_pair:
        evidence += 1
        reasons.append(f"phones {phone_pair[0]} and {phone_pair[1]} differ by one digit")
    email_pair = next(
        (
            (e, f)
            for e in a.emails
            for f in b.emails
            if e != f and e.split("@")[1] == f.split("@")[1] and Levenshtein.distance(e, f) <= 2
        ),
        None,
    )
    if email_pair:
        evidence += 1
        reasons.append(f"emails {email_pair[0]} and {email_pair[1]} one typo apart")
    if evidence == 0:
        return 0, []
    score = min(99, round(similarity * 0.6) + 20 * evidence)
    return score, reasons


def _transposed(p: str, q: str) -> bool:
    if len(p) != len(q):
        return False
    diff = [i for i, (x, y) in enumerate(zip(p, q, strict=True)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and p[diff[0]] == q[diff[1]] and p[diff[1]] == q[diff[0]]


def _blocks(person: _Person) -> list[tuple[Any, ...]]:
    """The keys two records must share before they are compared at all (blocking)."""
    keys: list[tuple[Any, ...]] = []
    if person.birth_date:
        keys.append(("born", person.birth_date))
    keys.extend(("postal", country, postal) for country, postal, _ in person.addresses)
    if " " in person.name:
        keys.append(("name", person.name))
    return keys


def scan(session: Session, customer_ids: Iterable[int]) -> int:
    """Look for probable duplicates of these clients; add new pairs to the review list. Returns how many.

    Only records sharing a blocking key (birth date, postal code, exact name) are compared, so the
    work grows with the size of those groups, not with the square of the batch.
    """
    new = _load(session, customer_ids)
    if not new:
        return 0
    everyone = {**_load(session, _pool(session, new)), **new}
    groups: dict[tuple[Any, ...], list[_Person]] = defaultdict(list)
    for person in everyone.values():
        for key in _blocks(person):
            groups[key].append(person)
    pairs: dict[tuple[int, int], tuple[int, list[str]]] = {}
    for person in new.values():
        compared: set[int] = {person.id}
        found: list[tuple[int, int, list[str]]] = []
        for key in _blocks(person):
            for other in groups[key]:
                if other.id in compared:
                    continue
                compared.add(other.id)
                pair = (min(person.id, other.id), max(person.id, other.id))
                if pair in pairs:
                    continue
                score, reasons = score_pair(person, other)
                if score >= THRESHOLD:
                    found.append((score, other.id, reasons))
        for score, other_id, reasons in sorted(found, key=lambda f: (-f[0], f[1]))[:PER_CLIENT]:
            pairs[(min(person.id, other_id), max(person.id, other_id))] = (score, reasons)
    if not pairs:
        return 0
    now = clock.now()
    rows = [
        {
            "customer_id": a,
            "other_customer_id": b,
            "score": score,
            "reasons": reasons,
            "status": "pending",
            "created_at": now,
        }
        for (a, b), (score, reasons) in pairs.items()
    ]
    stmt = insert_for(session, table_of(MatchCandidate)).on_conflict_do_nothing(
        index_elements=["customer_id", "other_customer_id"]
    )
    result = session.execute(stmt.returning(table_of(MatchCandidate).c.id), rows).all()
    return len(result)


def pending_for(session: Session, customer_ids: Sequence[int]) -> dict[int, list[MatchCandidate]]:
    out: dict[int, list[MatchCandidate]] = defaultdict(list)
    if not customer_ids:
        return out
    rows = session.scalars(
        select(MatchCandidate).where(
            MatchCandidate.status == "pending",
            or_(MatchCandidate.customer_id.in_(customer_ids), MatchCandidate.other_customer_id.in_(customer_ids)),
        )
    )
    for c in rows:
        out[c.customer_id].append(c)
        out[c.other_customer_id].append(c)
    return out


__all__ = ["THRESHOLD", "pending_for", "scan", "score_pair"]
