"""Identity resolution: which one client a set of identifiers belongs to, on every write.

Deterministic: normalised email, E.164 phone and (source system, id) pairs are unique to one
client. A record whose identifiers belong to several clients merges them — unless both carry
a *different verified email*, which says two people (a couple sharing a phone): then the
record goes to the strongest match and the pair goes to human review instead.

Works a batch at a time. New clients are staged with temporary negative ids and written with
multi-row inserts by :meth:`Resolver.flush`, so a batch of a thousand records costs a handful
of statements rather than thousands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.customers.models import Customer
from rapport.db import allocate_ids, bulk_insert, insert_for, one_of, table_of
from rapport.identity import merge
from rapport.identity.models import Identifier, MatchCandidate
from rapport.identity.normalize import phone_search_key

Key = tuple[str, str, str]  # (kind, namespace, value)
IDENT = table_of(Identifier)
CUSTOMER = table_of(Customer)

#: Which identifier decides when a record's identifiers point at two different people.
STRENGTH = {"external": 3, "email": 2, "phone": 1}


def email_key(address: str) -> Key:
    return ("email", "", address)


def phone_key(e164: str) -> Key:
    return ("phone", "", e164)


def external_key(source: str, ext_id: str) -> Key:
    return ("external", source, ext_id)


#: The PostgreSQL advisory lock that serialises batches of client records (an arbitrary constant).
IDENTITY_LOCK = 0x52415050  # "RAPP"


#: ``session.info`` key set by a bulk import's units of work (see :meth:`Resolver.take_turns_if_new`).
BULK_IMPORT = "rapport_bulk_import"


def serialise_client_batches(session: Session) -> None:
    """Hold, until this transaction ends, the lock that lets one batch of client records resolve at a time.

    Client records share identifiers across systems all the time (the same email from the web
    shop and the till, in two batches posted at once). Two such batches resolving side by side
    would each stage the same new client, and one would be refused by the unique identifier key
    and start over; under steady concurrent load they refuse each other batch after batch. Taking
    turns costs less. SQLite writers take turns already (BEGIN IMMEDIATE); orders and events,
    which mostly name clients that exist, still run side by side and retry on the rare clash.
    """
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import text

        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IDENTITY_LOCK})


@dataclass
class Claim:
    """An identifier a record asserts for its client."""

    key: Key
    verified: bool = False


@dataclass
class Staged:
    """A client created in this batch, not yet written."""

    temp_id: int
    profile: dict[str, Any]
    redirect: int | None = None  # folded into another client in this batch


@dataclass
class Resolution:
    customer_id: int  # temporary (< 0) until flushed
    created: bool
    merged: list[int] = field(default_factory=list)
    conflict: str | None = None
    claimed: int = 0  # identifiers newly attached to the client


class Resolver:
    """One unit of work's view of who owns which identifier."""

    def __init__(self, session: Session, *, actor: str = "system") -> None:
        self.session = session
        self.actor = actor
        self.owner: dict[Key, int] = {}
        self.verified: dict[Key, bool] = {}
        self._loaded: set[Key] = set()
        self.staged: dict[int, Staged] = {}
        self.new_identifiers: list[dict[str, Any]] = []
        self.candidates: list[tuple[int, int, int, list[str]]] = []
        self._next_temp = -1
        self.real_ids: dict[int, int] = {}
        self._stored_verified: dict[int, set[str]] = {}
        self._claimed_verified: dict[int, set[str]] = {}
        #: Merges decided in this batch, written together by :meth:`apply_merges`.
        self.pending_merges: list[tuple[int, int, str]] = []
        self.merged_into: dict[int, int] = {}

    # -- reading -------------------------------------------------------------------------
    def prefetch(self, keys: Iterable[Key], *, verified_emails: bool = True) -> None:
        """Load owners of the given identifiers in a few queries (call once per batch).

        ``verified_emails``: also load the verified emails of every client found (the two-people
        rule needs them before merging); a caller that mostly finds one known client per record
        (events) skips it, and the few that need resolving read theirs on demand.
        """
        wanted = [k for k in dict.fromkeys(keys) if k not in self._loaded]
        groups: dict[tuple[str, str], list[str]] = {}
        for kind, namespace, value in wanted:
            groups.setdefault((kind, namespace), []).append(value)
        # One indexed look-up per (kind, namespace): "value = ANY(...)" on the unique
        # (kind, namespace, value) index; row-value IN lists plan badly on PostgreSQL.
        for (kind, namespace), values in groups.items():
            rows = self.session.execute(
                select(IDENT.c.value, IDENT.c.customer_id, IDENT.c.verified).where(
                    IDENT.c.kind == kind, IDENT.c.namespace == namespace, one_of(self.session, IDENT.c.value, values)
                )
            )
            owner, verified_by_key = self.owner, self.verified
            for value, customer_id, verified in rows.all():
                owner[(kind, namespace, value)] = customer_id
                verified_by_key[(kind, namespace, value)] = verified
        self._loaded.update(wanted)
        # The verified emails of every client just found, for the two-people rule, in one query.
        found = sorted({self.owner[k] for k in wanted if k in self.owner} - self._stored_verified.keys())
        if found and verified_emails:
            for cid in found:
                self._stored_verified[cid] = set()
            emails = self.session.execute(
                select(IDENT.c.customer_id, IDENT.c.value).where(
                    one_of(self.session, IDENT.c.customer_id, found),
                    IDENT.c.kind == "email",
                    IDENT.c.verified.is_(True),
                )
            )
            for cid, value in emails.all():
                self._stored_verified[cid].add(value)

    def take_turns_if_new(self, keys: Iterable[Key]) -> bool:
        """Before staging new clients: take turns with other client-creating batches (PostgreSQL).

        Orders and events mostly name clients that exist and run side by side. When some of
        ``keys`` (already prefetched) are unknown, this batch would create clients that a
        concurrent batch may be creating too (a first-time buyer in two webhook batches): one of
        them would be refused by the unique identifier key, retry, and under load fall back to
        record-by-record writes. So such a batch takes the client lock
        (:func:`serialise_client_batches`) and reads the unknown keys again — a batch that got
        there first has committed them. Returns whether it had to.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return False  # SQLite writers take turns already
        if self.session.info.get(BULK_IMPORT):
            return False  # a bulk import's lanes keep each client in one process (ingest/parallel.py)
        unknown = [k for k in dict.fromkeys(keys) if k not in self.owner]
        if not unknown:
            return False
        serialise_client_batches(self.session)
        self._loaded.difference_update(unknown)
        self.prefetch(unknown)
        return True

    def follow(self, customer_id: int) -> int:
        """Where a client now lives: staged clients folded into others, merges decided in this batch."""
        while True:
            nxt = self.staged[customer_id].redirect if customer_id < 0 else self.merged_into.get(customer_id)
            if nxt is None:
                return customer_id
            customer_id = nxt

    def owners(self, claims: list[Claim]) -> list[tuple[int, Claim]]:
        loaded = self._loaded
        if any(c.key not in loaded for c in claims):
            self.prefetch(c.key for c in claims)
        if len(claims) == 1:  # the common case (an event naming its client one way), without sorting
            owner = self.owner.get(claims[0].key)
            return [] if owner is None else [(self.follow(owner), claims[0])]
        found: dict[int, Claim] = {}
        for claim in sorted(claims, key=lambda c: -STRENGTH[c.key[0]]):
            owner = self.owner.get(claim.key)
            if owner is not None:
                found.setdefault(self.follow(owner), claim)
        return list(found.items())

    # -- deciding ------------------------------------------------------------------------
    def resolve(
        self,
        claims: list[Claim],
        *,
        source: str,
        profile: dict[str, Any] | None = None,
        create: bool = True,
        reason: str = "",
    ) -> Resolution | None:
        """The client these identifiers belong to; staged as new when nobody owns any of them."""
        owned = self.owners(claims)
        merged: list[int] = []
        conflict = None
        # A different verified email is a different person: a client reached only through a shared
        # phone or email, whose verified emails are not this record's, is someone else.
        mine = {c.key[2] for c in claims if c.key[0] == "email" and c.verified}
        others: list[tuple[int, Claim]] = []
        if mine:
            kept = []
            for owner, claim in owned:
                theirs = self._verified_emails(owner)
                if claim.key[0] != "external" and theirs and theirs.isdisjoint(mine):
                    others.append((owner, claim))
                else:
                    kept.append((owner, claim))
            owned = kept
        if not owned:
            if not create:
                return None
            temp = self._stage(profile or {})
            self._claim(temp, claims, source)
            for other, claim in others:
                conflict = f"different verified emails ({min(mine)} / {min(self._verified_emails(other))})"
                self._queue_review(temp, other, [conflict, f"share {claim.key[0]} {claim.key[2]}"])
            return Resolution(temp, created=True, conflict=conflict)
        target = owned[0][0]  # strongest identifier's owner
        for other, claim in owned[1:]:
            problem = self._two_people(target, other)
            if problem:
                conflict = problem
                self._queue_review(target, other, [problem, f"both claimed by {source} record ({claim.key[0]})"])
                continue
            target = self._unify(target, other, reason or f"{source} record shares {claim.key[0]} {claim.key[2]}")
            merged.append(other)
        for other, claim in others:
            conflict = f"different verified emails ({min(mine)} / {min(self._verified_emails(other))})"
            self._queue_review(target, other, [conflict, f"share {claim.key[0]} {claim.key[2]}"])
        claimed = self._claim(target, claims, source)
        return Resolution(self.follow(target), created=False, merged=merged, conflict=conflict, claimed=claimed)

    def _stage(self, profile: dict[str, Any]) -> int:
        temp = self._next_temp
        self._next_temp -= 1
        self.staged[temp] = Staged(temp, profile)
        return temp

    def _claim(self, customer_id: int, claims: list[Claim], source: str) -> int:
        now = clock.now()
        added = 0
        for claim in claims:
            if claim.key in self.owner:
                continue  # owned by someone else after a refused merge, or already ours
            added += 1
            kind, namespace, value = claim.key
            if kind == "email" and claim.verified:
                self._claimed_verified.setdefault(customer_id, set()).add(value)
            self.owner[claim.key] = customer_id
            self.verified[claim.key] = claim.verified
            self.new_identifiers.append(
                {
                    "customer_id": customer_id,
                    "kind": kind,
                    "namespace": namespace,
                    "value": value,
                    "search_key": phone_search_key(value) if kind == "phone" else value,
                    "verified": claim.verified,
                    "source": source,
                    "created_at": now,
                }
            )
        return added

    def _verified_emails(self, customer_id: int) -> set[str]:
        """Verified emails of a client: stored ones (read once) plus those claimed in this batch."""
        customer_id = self.follow(customer_id)
        if customer_id > 0 and customer_id not in self._stored_verified:
            self._stored_verified[customer_id] = set(
                self.session.scalars(
                    select(IDENT.c.value).where(
                        IDENT.c.customer_id == customer_id, IDENT.c.kind == "email", IDENT.c.verified.is_(True)
                    )
                )
            )
        return self._stored_verified.get(customer_id, set()) | self._claimed_verified.get(customer_id, set())

    def _two_people(self, a: int, b: int) -> str | None:
        ea, eb = self._verified_emails(a), self._verified_emails(b)
        if ea and eb and ea.isdisjoint(eb):
            return f"different verified emails ({min(ea)} / {min(eb)})"
        return None

    def _queue_review(self, a: int, b: int, reasons: list[str]) -> None:
        self.candidates.append((a, b, 90, reasons))

    def _unify(self, a: int, b: int, reason: str) -> int:
        """Make ``a`` and ``b`` one client; return the survivor."""
        if a < 0 and b < 0:  # both new in this batch: fold in memory
            keep, fold = max(a, b), min(a, b)  # the earlier-staged survives
            self._fold_staged(fold, keep)
            return keep
        if a < 0 or b < 0:  # a new one folds into the existing client
            real, temp = (a, b) if a > 0 else (b, a)
            self._fold_staged(temp, real)
            return real
        survivor, loser = min(a, b), max(a, b)  # the longer-known record survives
        self._verified_emails(survivor), self._verified_emails(loser)  # read before the rows move
        self.pending_merges.append((survivor, loser, reason))
        self.merged_into[loser] = survivor
        for emails in (self._stored_verified, self._claimed_verified):
            if loser in emails:
                emails.setdefault(survivor, set()).update(emails.pop(loser))
        for key, owner in self.owner.items():
            if owner == loser:
                self.owner[key] = survivor
        for row in self.new_identifiers:
            if row["customer_id"] == loser:
                row["customer_id"] = survivor
        return survivor

    def _fold_staged(self, temp: int, into: int) -> None:
        staged = self.staged[temp]
        staged.redirect = into
        self._claimed_verified.setdefault(into, set()).update(self._claimed_verified.pop(temp, set()))
        if into < 0:
            target = self.staged[into].profile
            for name, value in staged.profile.items():
                if target.get(name) in (None, "", [], {}) and value not in (None, "", [], {}):
                    target[name] = value
        else:
            self.pending_updates.setdefault(into, {}).update(
                {k: v for k, v in staged.profile.items() if v not in (None, "", [], {})}
            )

    @property
    def pending_updates(self) -> dict[int, dict[str, Any]]:
        """Profile values for existing clients that absorbed a staged one (filled only where empty)."""
        if not hasattr(self, "_pending_updates"):
            self._pending_updates: dict[int, dict[str, Any]] = {}
        return self._pending_updates

    # -- writing -------------------------------------------------------------------------
    def apply_merges(self) -> None:
        """Write the merges decided so far (set-based, see :func:`merge.merge_many`).

        Callers that read clients' stored rows after resolving call this first, so they see each
        survivor with everything it absorbed; :meth:`flush` calls it too.
        """
        if self.pending_merges:
            merge.merge_many(self.session, self.pending_merges, actor=self.actor)
            self.pending_merges = []

    def flush(self) -> dict[int, int]:
        """Write merges, staged clients and new identifiers; return temporary (and merged) id -> real id."""
        self.apply_merges()
        now = clock.now()
        roots = [s for s in self.staged.values() if s.redirect is None and s.temp_id not in self.real_ids]
        if roots:
            rows = [
                {**_blank_profile(), **s.profile, "status": "active", "created_at": now, "updated_at": now}
                for s in roots
            ]
            ids = allocate_ids(self.session, CUSTOMER, len(rows))
            bulk_insert(self.session, CUSTOMER, [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)])
            for staged, real in zip(roots, ids, strict=True):
                self.real_ids[staged.temp_id] = real
        for temp in self.staged:
            root = self.follow(temp)
            if root < 0:
                self.real_ids[temp] = self.real_ids[root]
            else:
                self.real_ids[temp] = root
        if self.pending_updates:
            self._fill_gaps()
        if self.new_identifiers:
            rows = [{**r, "customer_id": self.real(r["customer_id"])} for r in self.new_identifiers]
            bulk_insert(self.session, IDENT, rows)
            self.new_identifiers = []
        for key, owner in list(self.owner.items()):
            if owner < 0:
                self.owner[key] = self.real(owner)
        if self.candidates:
            self._write_candidates()
        out = dict(self.real_ids)
        for loser in self.merged_into:
            out[loser] = self.follow(loser)
        return out

    def real(self, customer_id: int) -> int:
        return self.real_ids[customer_id] if customer_id < 0 else customer_id

    def _fill_gaps(self) -> None:
        from sqlalchemy import update

        for folded_into, values in self.pending_updates.items():
            customer_id = self.follow(folded_into)  # it may have been merged since
            row = self.session.execute(select(CUSTOMER).where(CUSTOMER.c.id == customer_id)).mappings().first()
            if row is None:
                continue
            fill = {k: v for k, v in values.items() if k in CUSTOMER.c and row[k] in (None, "", [], {})}
            if fill:
                self.session.execute(update(CUSTOMER).where(CUSTOMER.c.id == customer_id).values(**fill))
        self.pending_updates.clear()

    def _write_candidates(self) -> None:
        now = clock.now()
        rows = []
        for a, b, score, reasons in self.candidates:
            a, b = sorted((self.real(self.follow(a)), self.real(self.follow(b))))
            if a != b:
                rows.append(
                    {
                        "customer_id": a,
                        "other_customer_id": b,
                        "score": score,
                        "reasons": reasons,
                        "status": "pending",
                        "created_at": now,
                    }
                )
        if rows:
            stmt = insert_for(self.session, table_of(MatchCandidate)).on_conflict_do_nothing(
                index_elements=["customer_id", "other_customer_id"]
            )
            self.session.execute(stmt, rows)
        self.candidates = []


def _blank_profile() -> dict[str, Any]:
    return {
        "first_name": None, "last_name": None, "first_name_key": None, "last_name_key": None,
        "birth_date": None, "language": None, "city": None, "country": None, "home_location_id": None,
        "assigned_associate_id": None, "tier": None, "tags": [], "preferences": {}, "sizes": {},
        "merged_into_id": None,
    }  # fmt: skip
