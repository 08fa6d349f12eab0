"""A first-time shopper at the counter: checked, searched for, then created through ingestion.

The associate types a name, an email, a phone; while they type, :func:`likely_duplicates` shows
the clients this may already be — the same email or phone number (read in the store's country,
so "06 12 34 56 78" at the Paris counter is +33 6 12 34 56 78), or a close name (typos
tolerated, through :mod:`rapport.customers.search`) — so they open the existing record instead.

:func:`register_client` checks the form (each problem named by its field), refuses to create a
second record for an email or phone number that already belongs to a client (identity resolution
would fold the new record into that client anyway), asks for a confirmation when only names are
alike, and creates the client with :func:`rapport.ingest.service.ingest_records` — so identity
resolution, the duplicate scan and consent capture apply exactly as for any other source. The
consent given at the counter is recorded per channel with its source (``store:<code>``) and time;
the timeline says who registered the client where, and the audit log records the creation.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from babel import Locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import audit
from rapport.associates.audit import AuditActor
from rapport.associates.models import Associate
from rapport.customers import timeline
from rapport.customers.models import Customer
from rapport.customers.search import search_clients
from rapport.db import Database, table_of
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound
from rapport.identity.models import Identifier
from rapport.identity.normalize import IdentifierError, digits, normalize_email, normalize_phone
from rapport.ingest.service import ingest_records
from rapport.inventory.models import Location
from rapport.settings import get_settings

IDENTIFIER = table_of(Identifier)
CUSTOMER = table_of(Customer)
LOCATION = table_of(Location)

CONSENT_CHANNELS = ("email", "sms", "whatsapp", "phone")
CONSENT_LABELS = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp", "phone": "Phone calls"}
NAME_MAX = 100
EMAIL_MAX = 254
PHONE_MAX = 40
DUPLICATE_LIMIT = 5
#: A name must be at least this close (rapidfuzz, 0-100) to be shown as a likely duplicate.
NAME_CUTOFF = 80
#: Email matches kept: exact (100), the typed start of an address (95), one typo away (85).
EMAIL_CUTOFF = 85
CREATED = "client.created"
FIELD_LABELS = {"first_name": "First name", "last_name": "Last name", "email": "Email", "phone": "Phone"}


@dataclass
class NewClient:
    """What the associate typed at the counter (raw text; :func:`check` cleans it)."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""
    #: Channels the client agreed to be contacted on (the others stay without consent).
    consent: Iterable[str] = ()


@dataclass(frozen=True)
class Counter:
    """Where the client is being registered: a store (its country reads phone numbers), or none (online)."""

    store_id: int | None
    store_code: str | None
    store_name: str | None
    region: str

    @property
    def source(self) -> str:
        if not self.store_code:
            return "rapport"
        return "store:" + (re.sub(r"[^a-z0-9_.-]", "-", self.store_code.lower())[:58] or "store")

    @property
    def region_name(self) -> str:
        return Locale("en").territories.get(self.region, self.region)


@dataclass(frozen=True)
class CleanClient:
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None  # E.164
    consent: tuple[str, ...]


@dataclass(frozen=True)
class Duplicate:
    """A client the new one may be, with enough to tell (city, last purchase, contact)."""

    id: int
    name: str
    initials: str
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    home_store: str | None
    last_purchase_at: datetime | None
    #: "email" | "phone" | "name"
    matched_on: str
    reason: str
    #: The same email or phone: this *is* that client; creating a second record is refused.
    same_identifier: bool
    score: int


class LikelyDuplicates(Conflict):
    """The new client looks like existing ones; ``blocking`` when an email or phone already belongs to one."""

    def __init__(self, duplicates: list[Duplicate]) -> None:
        self.duplicates = duplicates
        self.blocking = any(d.same_identifier for d in duplicates)
        if self.blocking:
            first = next(d for d in duplicates if d.same_identifier)
            what = "email address" if first.matched_on == "email" else "phone number"
            message = f"this {what} already belongs to {first.name}: open their record instead"
        else:
            message = "clients with a similar name exist: check them, or confirm this is someone new"
        super().__init__(message)


@dataclass
class Registered:
    customer_id: int
    #: "created", or "updated" when another process registered the same email or phone a moment before.
    status: str
    warnings: list[str] = field(default_factory=list)


# -- where ----------------------------------------------------------------------------------------


def counter_at(session: Session, store_code: str | None, fallback_region: str | None = None) -> Counter:
    """The counter of a store (NotFound for an unknown code), or — with no store — an online desk."""
    if store_code:
        row = session.execute(
            select(LOCATION.c.id, LOCATION.c.code, LOCATION.c.name, LOCATION.c.country).where(
                LOCATION.c.code == store_code
            )
        ).first()
        if row is None:
            raise NotFound(f"store {store_code!r} not found")
        return Counter(row.id, row.code, row.name, (row.country or get_settings().default_region).upper())
    return Counter(None, None, None, (fallback_region or get_settings().default_region).upper())


# -- checking -------------------------------------------------------------------------------------


def _too_long(name: str, value: str, limit: int) -> FieldError | None:
    if len(value) > limit:
        return FieldError(
            name, f"{FIELD_LABELS[name]} is too long: at most {limit} characters (this one has {len(value)})."
        )
    return None


def check(form: NewClient, counter: Counter) -> CleanClient:
    """The form cleaned (email normalised, phone in E.164); InvalidRecord naming every bad field."""
    errors: list[FieldError] = []
    first, last = " ".join(form.first_name.split()), " ".join(form.last_name.split())
    email_text, phone_text = form.email.strip(), form.phone.strip()
    for name, value in (("first_name", first), ("last_name", last)):
        problem = _too_long(name, value, NAME_MAX)
        if problem:
            errors.append(problem)
    if not first and not last:
        errors.append(FieldError("first_name", "Enter the client's first name or last name."))
    email = None
    if email_text:
        problem = _too_long("email", email_text, EMAIL_MAX)
        if problem:
            errors.append(problem)
        else:
            try:
                email = normalize_email(email_text)
            except IdentifierError as exc:
                why = str(exc).partition("': ")[2] or "check it"
                errors.append(FieldError("email", f"Email “{email_text}” is not a valid email address: {why}"))
    phone = None
    if phone_text:
        problem = _too_long("phone", phone_text, PHONE_MAX)
        if problem:
            errors.append(problem)
        else:
            try:
                phone = normalize_phone(phone_text, counter.region)
            except IdentifierError:
                errors.append(
                    FieldError(
                        "phone",
                        f"Phone “{phone_text}” is not a valid phone number for {counter.region_name}. "
                        "For a number from abroad, start with its country code (+44 …).",
                    )
                )
    unknown = [c for c in form.consent if c not in CONSENT_CHANNELS]
    if unknown:
        errors.append(FieldError("consent", f"unknown channel {unknown[0]!r}; one of {', '.join(CONSENT_CHANNELS)}"))
    if errors:
        raise InvalidRecord(errors)
    granted = tuple(c for c in CONSENT_CHANNELS if c in set(form.consent))
    return CleanClient(first or None, last or None, email, phone, granted)


# -- likely duplicates ----------------------------------------------------------------------------


def likely_duplicates(
    session: Session,
    counter: Counter,
    *,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    limit: int = DUPLICATE_LIMIT,
) -> list[Duplicate]:
    """Clients the one being typed may already be, the surest first. Tolerant of half-typed input:
    an email is looked for once it has an ``@``, a phone once it is a whole number, a name once
    there is a last name (a first name alone matches half the book)."""
    first, last = " ".join(first_name.split())[:NAME_MAX], " ".join(last_name.split())[:NAME_MAX]
    email_text, phone_text = email.strip()[:EMAIL_MAX], phone.strip()[:PHONE_MAX]
    email_key = _try(normalize_email, email_text) if "@" in email_text else None
    e164 = _try(lambda p: normalize_phone(p, counter.region), phone_text) if len(digits(phone_text)) >= 6 else None
    owners = _owners(session, email_key, e164)

    found: dict[int, Duplicate] = {}

    def consider(query: str, on: str, keep: int) -> None:
        for hit in search_clients(session, query, limit=limit * 2):
            exact = owners.get(hit.id)
            if exact is not None:
                matched_on, reason = exact, "Same email address" if exact == "email" else "Same phone number"
            elif hit.matched_on != on or hit.score < keep:
                continue  # e.g. a phone matched by its last digits only, or an address for a typed name
            elif on == "name":
                matched_on, reason = "name", "Same name" if hit.score >= 99 else "Similar name"
            else:
                matched_on, reason = "email", "Similar email address"
            current = found.get(hit.id)
            candidate = Duplicate(
                id=hit.id,
                name=hit.name,
                initials=_initials(hit.first_name, hit.last_name),
                email=hit.email,
                phone=_phone_display(hit.phone),
                city=hit.city,
                country=hit.country,
                home_store=hit.home_store.name if hit.home_store else None,
                last_purchase_at=hit.last_purchase_at,
                matched_on=matched_on,
                reason=reason,
                same_identifier=exact is not None,
                score=100 if exact is not None else hit.score,
            )
            if current is None or (candidate.same_identifier, candidate.score) > (
                current.same_identifier,
                current.score,
            ):
                found[hit.id] = candidate

    if e164:
        consider(e164, "phone", 101)  # only the number's owner
    if email_key:
        consider(email_key, "email", EMAIL_CUTOFF)
    elif "@" in email_text and len(email_text) >= 4:
        consider(email_text.lower(), "email", EMAIL_CUTOFF)
    name = " ".join(p for p in (first, last) if p)
    if last and len(name.replace(" ", "")) >= 3:
        consider(name, "name", NAME_CUTOFF)
    ranked = sorted(found.values(), key=lambda d: (not d.same_identifier, -d.score, d.id))
    return ranked[:limit]


def _try(fn: Callable[[str], str], value: str) -> str | None:
    try:
        return fn(value)
    except IdentifierError:
        return None


def _phone_display(e164: str | None) -> str | None:
    if not e164:
        return None
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def _initials(first: str | None, last: str | None) -> str:
    from rapport.customers.cards import initials

    return initials(first, last)


def _owners(session: Session, email_key: str | None, e164: str | None) -> dict[int, str]:
    """``{client id: "email" | "phone"}`` for active clients owning exactly this email or number."""
    wanted = [(kind, value) for kind, value in (("email", email_key), ("phone", e164)) if value]
    out: dict[int, str] = {}
    for kind, value in wanted:
        i, c = IDENTIFIER, CUSTOMER
        rows = session.execute(
            select(i.c.customer_id)
            .select_from(i.join(c, c.c.id == i.c.customer_id))
            .where(i.c.kind == kind, i.c.namespace == "", i.c.value == value, c.c.status == "active")
        )
        for (customer_id,) in rows:
            out.setdefault(customer_id, kind)
    return out


# -- creating -------------------------------------------------------------------------------------

#: Ingestion names fields by the record's shape; the form has one email and one phone.
_FORM_FIELDS = {"emails.0.address": "email", "emails.0": "email", "phones.0.number": "phone", "phones.0": "phone"}


def register_client(
    db: Database,
    form: NewClient,
    *,
    store_code: str | None,
    actor: AuditActor,
    assign_to: int | None = None,
    create_anyway: bool = False,
    fallback_region: str | None = None,
) -> Registered:
    """Create a first-time client registered at ``store_code``'s counter (None: online).

    Raises InvalidRecord (naming each field), LikelyDuplicates (the same email or phone is another
    client's — always; similar names — unless ``create_anyway``) or NotFound (unknown store).
    ``assign_to`` puts the client in that associate's book.
    """
    with db.read() as session:
        counter = counter_at(session, store_code, fallback_region)
        clean = check(form, counter)
        duplicates = likely_duplicates(
            session,
            counter,
            first_name=clean.first_name or "",
            last_name=clean.last_name or "",
            email=clean.email or "",
            phone=clean.phone or "",
        )
        assignee_code = None
        if assign_to is not None:
            assignee_code = session.scalar(select(Associate.code).where(Associate.id == assign_to))
            if assignee_code is None:
                raise NotFound(f"associate {assign_to} not found")
    if duplicates and (any(d.same_identifier for d in duplicates) or not create_anyway):
        raise LikelyDuplicates(duplicates)

    now = clock.now()
    record: dict[str, object] = {
        "source": counter.source,
        "id": f"counter-{uuid.uuid4().hex}",
        "first_name": clean.first_name,
        "last_name": clean.last_name,
        "emails": [clean.email] if clean.email else [],
        "phones": [clean.phone] if clean.phone else [],
        # What the client agreed to; a channel left unticked stays without consent (nothing to withdraw).
        "consent": [{"channel": c, "granted": True, "recorded_at": now.isoformat()} for c in clean.consent],
    }
    if counter.store_code:
        record["home_store"] = counter.store_code
    if assignee_code:
        record["assigned_associate"] = assignee_code
    result = ingest_records(db, "customers", [record], actor=actor.label)
    outcome = result.outcomes[0]
    if outcome.status == "rejected" or outcome.id is None:
        raise InvalidRecord([FieldError(_FORM_FIELDS.get(e.field, e.field), e.message) for e in outcome.errors])

    where = f" at {counter.store_name}" if counter.store_name else ""
    with db.write() as session:
        if outcome.status == "created":
            timeline.append(
                session,
                [
                    timeline.entry(
                        customer_id=outcome.id,
                        kind="profile",
                        summary=f"Registered{where} by {actor.label.partition(':')[2] or actor.label}",
                        source=counter.source,
                        external_id=f"{record['id']}:registered",
                        occurred_at=now,
                        channel="store" if counter.store_id else None,
                        location_id=counter.store_id,
                        actor_kind="associate" if actor.kind == "associate" else "system",
                        actor_id=actor.id if actor.kind == "associate" else None,
                        data={"change": "registered", "consent": list(clean.consent)},
                    )
                ],
            )
        audit.record_by(
            session,
            actor,
            CREATED,
            customer_id=outcome.id,
            detail={"source": counter.source, "status": outcome.status, "consent": list(clean.consent)},
        )
    return Registered(outcome.id, outcome.status, list(outcome.warnings))
