"""Finding a client from a few typed characters — a name, an email or a phone fragment — despite typos.

An associate types "Micheal Jonson", "jonh@exa" or "555 1234" with the client in front of them;
the right person must come first, fast, on every keystroke. Nothing here scans the client table:

* **Names.** Each process keeps a vocabulary of the distinct name keys (``first_name_key`` /
  ``last_name_key``, split into tokens) and of email addresses. Typed tokens are matched in
  memory — rapidfuzz for whole tokens, a one-edit neighbourhood looked up by bisection for
  tokens still being typed — and the database is asked with indexed ``IN (...)`` look-ups. An
  exact prefix query runs alongside, so a client created a second ago is found before the
  vocabulary has caught up. Candidates are ranked with rapidfuzz on the full name.
* **Emails.** ``Identifier.search_key`` is the lower-case address: an index range query for
  the typed prefix, plus the addresses one typo away found in the vocabulary.
* **Phones.** ``Identifier.search_key`` holds the reversed digits, so the end of a number
  ("555 1234") is an index prefix; a number typed with its country code is a prefix of the
  E.164 ``value``; a full number in any format is normalised and matched exactly.

The vocabulary catches up with new clients on every search (rows with ids above the last one
seen — one indexed query each for names and emails) and is rebuilt every few minutes to pick up
renamed clients. Prefix ranges use ``key >= p AND key < p || U+10FFFF``: index-friendly on both
engines with byte-order (C) collation, which Rapport's PostgreSQL databases use.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import Engine, and_, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rapport.commerce.models import Order
from rapport.customers.models import Customer
from rapport.customers.views import LocationRef
from rapport.db import one_of
from rapport.errors import InvalidRecord
from rapport.identity.models import Identifier
from rapport.identity.normalize import IdentifierError, digits, name_key, normalize_phone
from rapport.inventory.models import Location
from rapport.settings import get_settings

log = logging.getLogger(__name__)

CUSTOMER = Customer.__table__
IDENTIFIER = Identifier.__table__
ORDER = Order.__table__
LOCATION = Location.__table__

MIN_CHARS = 2
MIN_PHONE_DIGITS = 3
DEFAULT_LIMIT = 20
MAX_LIMIT = 50
#: Rows fetched per matcher before ranking in Python.
CANDIDATE_ROWS = 200
#: The vocabulary is rebuilt this often (seconds) so renamed clients become typo-findable.
REBUILD_SECONDS = 300.0
#: Whole-token similarity (rapidfuzz ratio, 0-100) for a name token to count as a typo of another.
TOKEN_CUTOFF = 75.0
#: Keys beyond this in one prefix range are left to the SQL prefix query.
PREFIX_EXPANSION = 30
TOP = "\U0010ffff"  # sorts after every character: ``p + TOP`` bounds the keys starting with ``p``

_PHONE_TEXT = re.compile(r"\+?[\d\s().\-/]+\.*")


@dataclass
class SearchHit:
    id: int
    name: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    home_store: LocationRef | None
    last_purchase_at: datetime | None
    tier: str | None
    #: 0-100, higher is closer; results are sorted by it.
    score: int
    matched_on: str  # name | email | phone
    #: What matched, in words an associate can check at a glance.
    reason: str


@dataclass
class _Match:
    customer_id: int
    score: float
    matched_on: str
    reason: str


# -- entry point -------------------------------------------------------------------------------


def search_clients(session: Session, q: str | None, *, limit: int = DEFAULT_LIMIT) -> list[SearchHit]:
    """Active clients matching ``q`` by name, email or phone fragment, best first."""
    text = " ".join((q or "").split())
    if len(text.replace(" ", "")) < MIN_CHARS:
        raise InvalidRecord.one("q", f"type at least {MIN_CHARS} characters of a name, email or phone number")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRecord.one("limit", f"must be between 1 and {MAX_LIMIT}")

    vocabulary = vocabulary_for(session).current(session)
    matches: list[_Match]
    if _PHONE_TEXT.fullmatch(text) and digits(text):
        if len(digits(text)) < MIN_PHONE_DIGITS:
            raise InvalidRecord.one("q", f"type at least {MIN_PHONE_DIGITS} digits of a phone number")
        matches = _phone_matches(session, text)
    elif "@" in text:
        matches = _email_matches(session, vocabulary, text.lower().replace(" ", ""), in_name_search=False)
    else:
        matches = _name_matches(session, vocabulary, text)
        if " " not in text and len(text) >= 3:  # "jsmith" may be how their address starts
            matches += _email_matches(session, vocabulary, text.lower(), in_name_search=True)

    best: dict[int, _Match] = {}
    for m in matches:
        if m.customer_id not in best or m.score > best[m.customer_id].score:
            best[m.customer_id] = m
    ranked = sorted(best.values(), key=lambda m: (-m.score, m.customer_id))[:limit]
    return _hits(session, ranked)


# -- names -------------------------------------------------------------------------------------


def _name_matches(session: Session, vocab: _Snapshot, text: str) -> list[_Match]:
    key = name_key(text)
    tokens = (key or "").split()[:4]
    if not tokens:
        return []
    c = CUSTOMER
    per_token: list[ColumnElement[bool]] = []
    for token in tokens:
        keys = vocab.keys_near(token)
        # Each column is asked only for the keys it holds: a list of surnames put to the first-name
        # index would only mislead the planner's estimate (and send it to a table scan).
        firsts, lasts = sorted(keys & vocab.first_keys), sorted(keys & vocab.last_keys)
        options: list[ColumnElement[bool]] = []
        if firsts:
            options.append(one_of(session, c.c.first_name_key, firsts))
        if lasts:
            options.append(one_of(session, c.c.last_name_key, lasts))
        if not vocab.knows_every_key_starting(token):
            # A short start ("ma") begins too many names to list: the index range says it in two bounds.
            options += [_prefix(c.c.first_name_key, token), _prefix(c.c.last_name_key, token)]
        per_token.append(or_(*options) if options else false())

    def fetch(condition: ColumnElement[bool]) -> list[Any]:
        stmt = (
            select(c.c.id, c.c.first_name_key, c.c.last_name_key)
            .where(c.c.status == "active", condition)
            .limit(CANDIDATE_ROWS)
        )
        return list(session.execute(stmt))

    rows = fetch(and_(*per_token))  # every typed word matches some part of the name
    if not rows and len(per_token) > 1:
        rows = fetch(or_(*per_token))  # a word too garbled to match: settle for the others
    out = []
    for row in rows:
        full = " ".join(k for k in (row.first_name_key, row.last_name_key) if k)
        parts = full.replace("-", " ").split()
        score, prefixed = _name_score(tokens, parts)
        if score <= 0:
            continue
        if all(word in parts for word in tokens):
            reason = f"name matches '{text}'"
        elif prefixed:
            reason = f"name begins with '{text}'"
        else:
            reason = f"name is close to '{text}'"
        out.append(_Match(row.id, score, "name", reason))
    return out


def _name_score(typed: list[str], name: list[str]) -> tuple[float, bool]:
    """Mean over typed words of the best similarity to a word of the name; a typed word may be unfinished.

    Also says whether every typed word begins some word of the name (no typo involved).
    """
    if not name:
        return 0.0, False
    total = 0.0
    exact = True
    for word in typed:
        best = 0.0
        for part in name:
            score = fuzz.ratio(word, part)
            if len(word) < len(part):  # still typing: compare with the part's beginning
                score = max(score, 0.95 * fuzz.ratio(word, part[: len(word)]))
            best = max(best, score)
        exact = exact and any(part.startswith(word) for part in name)
        total += best
    return total / len(typed), exact


# -- emails ------------------------------------------------------------------------------------


def _email_matches(session: Session, vocab: _Snapshot, typed: str, *, in_name_search: bool) -> list[_Match]:
    i, c = IDENTIFIER, CUSTOMER
    near = vocab.emails_near(typed) if len(typed) >= 4 else {}
    options: list[ColumnElement[bool]] = [_prefix(i.c.search_key, typed)]
    if near:
        options.append(i.c.search_key.in_(sorted(near)))
    rows = session.execute(
        select(i.c.customer_id, i.c.search_key)
        .select_from(i.join(c, c.c.id == i.c.customer_id))
        .where(i.c.kind == "email", c.c.status == "active", or_(*options))
        .limit(CANDIDATE_ROWS)
    )
    out = []
    for customer_id, address in rows:
        if address == typed:
            score, reason = 100.0, f"email is {address}"
        elif address.startswith(typed):
            score, reason = 95.0, f"email {address} begins with '{typed}'"
        else:
            score, reason = 85.0, f"email {address} is one typo from '{typed}'"
        if in_name_search:  # a plain word: a name match, if any, says more
            score -= 15.0
        out.append(_Match(customer_id, score, "email", reason))
    return out


# -- phones ------------------------------------------------------------------------------------


def _phone_matches(session: Session, text: str) -> list[_Match]:
    i, c = IDENTIFIER, CUSTOMER
    typed = digits(text)
    international = text.startswith("+") or typed.startswith("00")
    e164_prefix = "+" + (typed[2:] if typed.startswith("00") and not text.startswith("+") else typed)
    suffixes = {typed}
    if not international and typed.startswith("0") and len(typed.lstrip("0")) >= MIN_PHONE_DIGITS:
        suffixes.add(typed.lstrip("0"))  # a national trunk prefix ("06 12 ...") is not in E.164
    exact = None
    if len(typed) >= 6:
        try:
            exact = normalize_phone(text.rstrip("."), get_settings().default_region)
        except IdentifierError:
            exact = None

    options: list[ColumnElement[bool]] = [_prefix(i.c.search_key, s[::-1]) for s in sorted(suffixes)]
    if international:
        options.append(and_(i.c.namespace == "", _prefix(i.c.value, e164_prefix)))
    if exact:
        options.append(and_(i.c.namespace == "", i.c.value == exact))
    rows = session.execute(
        select(i.c.customer_id, i.c.value)
        .select_from(i.join(c, c.c.id == i.c.customer_id))
        .where(i.c.kind == "phone", c.c.status == "active", or_(*options))
        .limit(CANDIDATE_ROWS)
    )
    out = []
    for customer_id, number in rows:
        if number == exact:
            score, reason = 100.0, f"phone is {number}"
        elif international and number.startswith(e164_prefix):
            score, reason = 95.0 if len(typed) >= 7 else 90.0, f"phone {number} begins with {e164_prefix}"
        else:
            tail = max((s for s in suffixes if number.endswith(s)), key=len, default=typed)
            score, reason = 95.0 if len(tail) >= 7 else 90.0, f"phone {number} ends in {tail}"
        out.append(_Match(customer_id, score, "phone", reason))
    return out


# -- the result rows ---------------------------------------------------------------------------


def _hits(session: Session, ranked: list[_Match]) -> list[SearchHit]:
    if not ranked:
        return []
    c, i, o, home = CUSTOMER, IDENTIFIER, ORDER, LOCATION.alias("home")

    def first_identifier(kind: str) -> Any:
        return (
            select(i.c.value)
            .where(i.c.customer_id == c.c.id, i.c.kind == kind)
            .order_by(i.c.verified.desc(), i.c.id)
            .limit(1)
            .scalar_subquery()
        )

    last_purchase = (
        select(func.max(o.c.placed_at)).where(o.c.customer_id == c.c.id, o.c.status != "cancelled").scalar_subquery()
    )
    stmt = (
        select(
            c.c.id,
            c.c.first_name,
            c.c.last_name,
            c.c.city,
            c.c.country,
            c.c.tier,
            c.c.home_location_id,
            home.c.code.label("home_code"),
            home.c.name.label("home_name"),
            first_identifier("email").label("email"),
            first_identifier("phone").label("phone"),
            last_purchase.label("last_purchase_at"),
        )
        .select_from(c.outerjoin(home, home.c.id == c.c.home_location_id))
        .where(c.c.id.in_([m.customer_id for m in ranked]), c.c.status == "active")
    )
    rows = {row.id: row for row in session.execute(stmt)}
    hits = []
    for m in ranked:
        row = rows.get(m.customer_id)
        if row is None:  # merged away since the candidates were read
            continue
        home_store = None
        if row.home_location_id is not None and row.home_code is not None:
            home_store = LocationRef(row.home_location_id, row.home_code, row.home_name)
        hits.append(
            SearchHit(
                id=row.id,
                name=" ".join(p for p in (row.first_name, row.last_name) if p) or f"Client #{row.id}",
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                phone=row.phone,
                city=row.city,
                country=row.country,
                home_store=home_store,
                last_purchase_at=row.last_purchase_at,
                tier=row.tier,
                score=round(m.score),
                matched_on=m.matched_on,
                reason=m.reason,
            )
        )
    return hits


def _prefix(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as an index range (see the module docstring on collation)."""
    return and_(column >= prefix, column < prefix + TOP)


# -- the per-process vocabulary ----------------------------------------------------------------


def _tokens(key: str) -> set[str]:
    parts = set(key.replace("-", " ").split())
    parts.add(key)
    return parts


def _edits(word: str, alphabet: str) -> Iterator[str]:
    """Words one edit (transposition, deletion, substitution, insertion) away, likeliest first.

    Edits at the very end are left out: a wrong last character is what the next keystroke fixes,
    and the prefix query already covers the shorter word.
    """
    n = len(word)
    for k in range(n - 1):
        if word[k] != word[k + 1]:
            yield word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    for k in range(n - 1):
        yield word[:k] + word[k + 1 :]
    for k in range(n):
        for ch in alphabet:
            if ch != word[k]:
                yield word[:k] + ch + word[k + 1 :]
    for k in range(1, n):
        for ch in alphabet:
            yield word[:k] + ch + word[k:]


def _starting_with(keys: list[str], prefix: str) -> tuple[int, int]:
    return bisect_left(keys, prefix), bisect_left(keys, prefix + TOP)


def _neighbours(word: str, keys: list[str], alphabet: str, *, per_edit: int, total: int) -> set[str]:
    """Keys that start with a word one edit away from ``word`` (looked up by bisection, not scanned)."""
    found: set[str] = set()
    for variant in dict.fromkeys(_edits(word, alphabet)):
        lo, hi = _starting_with(keys, variant)
        if lo < hi:
            found.update(keys[lo : min(hi, lo + per_edit)])
            if len(found) >= total:
                break
    return found


@dataclass
class _Snapshot:
    """What one process knows of the names and addresses in the database; replaced, never edited in place."""

    tokens: list[str] = field(default_factory=list)  # sorted distinct name words
    keys_by_token: dict[str, tuple[str, ...]] = field(default_factory=dict)  # word -> full name keys
    first_keys: frozenset[str] = frozenset()  # the keys found as a first name
    last_keys: frozenset[str] = frozenset()  # ... and as a last name
    token_alphabet: str = ""
    emails: list[str] = field(default_factory=list)  # sorted distinct addresses
    email_alphabet: str = ""
    customer_high: int = 0
    identifier_high: int = 0
    built_at: float = 0.0

    def knows_every_key_starting(self, token: str) -> bool:
        """Whether :meth:`keys_near` lists every name key with a word starting with ``token``.

        Then the query needs no prefix range, which (ORed with the key lists) would lead the
        planner to read the whole client table rather than probe the name indexes. The vocabulary
        catches up with new clients on every search; a client renamed in the last few minutes is
        found by its new name once it is rebuilt.
        """
        lo, hi = _starting_with(self.tokens, token)
        return hi - lo <= PREFIX_EXPANSION and self.customer_high > 0

    def keys_near(self, token: str) -> set[str]:
        """Full name keys with a word equal to, starting with, or a typo of ``token``."""
        words: set[str] = set()
        lo, hi = _starting_with(self.tokens, token)
        if hi - lo <= PREFIX_EXPANSION:
            words.update(self.tokens[lo:hi])
        if len(token) >= 3 and self.tokens:
            for word, _score, _index in process.extract(
                token, self.tokens, scorer=fuzz.ratio, score_cutoff=TOKEN_CUTOFF, limit=10
            ):
                words.add(word)
        if len(token) >= 4:
            words |= _neighbours(token, self.tokens, self.token_alphabet, per_edit=5, total=PREFIX_EXPANSION)
        keys: set[str] = set()
        for word in words:
            keys.update(self.keys_by_token.get(word, ()))
        return keys

    def emails_near(self, typed: str) -> set[str]:
        return _neighbours(typed, self.emails, self.email_alphabet, per_edit=10, total=60)

    def with_new(
        self, names: Iterable[tuple[int, str | None, str | None]], emails: Iterable[tuple[int, str]]
    ) -> _Snapshot:
        """A copy that also knows these rows (those above the ids already seen)."""
        tokens, by_token = self.tokens, self.keys_by_token
        customer_high, identifier_high = self.customer_high, self.identifier_high
        new_keys: set[str] = set()
        new_firsts: set[str] = set()
        new_lasts: set[str] = set()
        for id_, first, last in names:
            if id_ > self.customer_high:
                customer_high = max(customer_high, id_)
                new_keys.update(k for k in (first, last) if k)
                if first and first not in self.first_keys:
                    new_firsts.add(first)
                if last and last not in self.last_keys:
                    new_lasts.add(last)
        if new_keys:
            by_token = dict(by_token)
            for key in new_keys:
                for token in _tokens(key):
                    known = by_token.get(token, ())
                    if key not in known:
                        by_token[token] = (*known, key)
            tokens = sorted(by_token)
        addresses = self.emails
        fresh: set[str] = set()
        for id_, address in emails:
            if id_ > self.identifier_high:
                identifier_high = max(identifier_high, id_)
                fresh.add(address)
        if fresh:
            addresses = sorted(set(addresses) | fresh)
        return _Snapshot(
            tokens=tokens,
            keys_by_token=by_token,
            first_keys=self.first_keys | new_firsts if new_firsts else self.first_keys,
            last_keys=self.last_keys | new_lasts if new_lasts else self.last_keys,
            token_alphabet=_alphabet(self.token_alphabet, new_keys),
            emails=addresses,
            email_alphabet=_alphabet(self.email_alphabet, fresh),
            customer_high=customer_high,
            identifier_high=identifier_high,
            built_at=self.built_at,
        )


def _alphabet(known: str, words: Iterable[str]) -> str:
    chars = set(known)
    chars.update("".join(words))
    chars.discard(" ")
    return "".join(sorted(chars))


class Vocabulary:
    """The name and email vocabulary of one database, shared by the threads of a process.

    Built by the first search (or :func:`warm_vocabulary` at start-up); later rebuilds run in a
    background thread while searches go on with the previous snapshot.
    """

    def __init__(self) -> None:
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._rebuilding = False

    def current(self, session: Session) -> _Snapshot:
        snap = self._snapshot
        if snap is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = _build(session)
                return self._snapshot
        if time.monotonic() - snap.built_at > REBUILD_SECONDS:
            self._rebuild_soon(_engine(session))
        return self._catch_up(session, snap)

    def _rebuild_soon(self, engine: Engine) -> None:
        with self._lock:
            if self._rebuilding:
                return
            self._rebuilding = True
        threading.Thread(target=self._rebuild, args=(engine,), name="rapport-search-vocabulary", daemon=True).start()

    def _rebuild(self, engine: Engine) -> None:
        try:
            with Session(engine) as session:
                fresh = _build(session)
            with self._lock:
                self._snapshot = fresh
        except Exception:  # the old snapshot keeps serving; the next search tries again
            log.exception("rebuilding the client search vocabulary failed")
        finally:
            self._rebuilding = False

    def _catch_up(self, session: Session, snap: _Snapshot) -> _Snapshot:
        c, i = CUSTOMER, IDENTIFIER
        names = session.execute(
            select(c.c.id, c.c.first_name_key, c.c.last_name_key).where(c.c.id > snap.customer_high)
        ).all()
        emails = session.execute(
            select(i.c.id, i.c.search_key).where(i.c.id > snap.identifier_high, i.c.kind == "email")
        ).all()
        if not names and not emails:
            return snap
        with self._lock:
            base = self._snapshot or snap
            newer = base.with_new(((r[0], r[1], r[2]) for r in names), ((r[0], r[1]) for r in emails))
            self._snapshot = newer
            return newer


def _build(session: Session) -> _Snapshot:
    c, i = CUSTOMER, IDENTIFIER
    customer_high = session.scalar(select(func.max(c.c.id))) or 0
    identifier_high = session.scalar(select(func.max(i.c.id))) or 0
    # fetchall: row-by-row fetching costs more
    firsts = frozenset(session.execute(select(c.c.first_name_key).distinct()).scalars().all()) - {None}
    lasts = frozenset(session.execute(select(c.c.last_name_key).distinct()).scalars().all()) - {None}
    keys = sorted(firsts | lasts)
    by_token: dict[str, list[str]] = {}
    for key in keys:
        for token in _tokens(key):
            by_token.setdefault(token, []).append(key)
    emails = sorted(set(session.execute(select(i.c.search_key).where(i.c.kind == "email")).scalars().all()))
    return _Snapshot(
        tokens=sorted(by_token),
        keys_by_token={t: tuple(v) for t, v in by_token.items()},
        first_keys=firsts,
        last_keys=lasts,
        token_alphabet=_alphabet("", keys),
        emails=emails,
        email_alphabet=_alphabet("", emails),
        customer_high=customer_high,
        identifier_high=identifier_high,
        built_at=time.monotonic(),
    )


_vocabularies: weakref.WeakKeyDictionary[Engine, Vocabulary] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def vocabulary_for(session: Session) -> Vocabulary:
    engine = _engine(session)
    with _registry_lock:
        vocab = _vocabularies.get(engine)
        if vocab is None:
            vocab = _vocabularies[engine] = Vocabulary()
        return vocab


def warm_vocabulary(session: Session) -> None:
    """Build the search vocabulary now (at start-up), so the first search does not pay for it."""
    vocabulary_for(session).current(session)


def forget_vocabularies() -> None:
    """Drop every cached vocabulary (tests that empty the database, or after a bulk rename)."""
    with _registry_lock:
        _vocabularies.clear()
