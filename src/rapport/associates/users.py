"""The people who sign in: add, list, disable, set a password.

A user is an :class:`~rapport.associates.models.Associate` with a ``password_hash``. Associates
that arrived through ingestion (from HR or the POS) have no password until one is set here, so
they exist for attribution before they can sign in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates import auth, passwords
from rapport.associates.models import Associate, AssociateLocation
from rapport.associates.permissions import ASSOCIATE, ROLE_LABELS, STORE_MANAGER, VIRTUAL_ASSOCIATE
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound

ROLES = tuple(ROLE_LABELS)
#: A country (``US``) or a country subdivision (``US-CA``), as ISO 3166 writes them.
_REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")
_CODE = re.compile(r"[A-Z0-9][A-Z0-9._-]*")


@dataclass(frozen=True)
class UserView:
    id: int
    code: str
    email: str
    display_name: str
    role: str
    stores: tuple[str, ...]
    regions: tuple[str, ...]
    active: bool
    can_sign_in: bool

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


def _email(raw: str) -> str:
    from rapport.identity.normalize import IdentifierError, normalize_email

    try:
        return normalize_email(raw)
    except IdentifierError:
        raise InvalidRecord.one("email", f"{raw.strip()[:100]!r} is not a valid email address") from None


def _find(session: Session, email: str) -> Associate:
    row = session.scalars(select(Associate).where(Associate.email == _email(email))).first()
    if row is None:
        raise NotFound(f"no user with email {email.strip()!r}")
    return row


def _store_ids(session: Session, codes: Sequence[str]) -> list[int]:
    from rapport.inventory.models import Location

    wanted = list(dict.fromkeys(c.strip().upper() for c in codes if c.strip()))
    if not wanted:
        return []
    found = dict(session.execute(select(Location.code, Location.id).where(Location.code.in_(wanted))).all())
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise InvalidRecord.one("store", f"unknown store code {', '.join(unknown)}")
    return [found[c] for c in wanted]


def _free_code(session: Session, email: str) -> str:
    base = re.sub(r"[^A-Z0-9._-]", "", email.partition("@")[0].upper())[:56] or "USER"
    taken = set(session.scalars(select(Associate.code).where(Associate.code.like(f"{base}%"))))
    code, n = base, 1
    while code in taken:
        n += 1
        code = f"{base}-{n}"
    return code


def add_user(
    session: Session,
    email: str,
    display_name: str,
    role: str,
    password: str,
    *,
    stores: Sequence[str] = (),
    regions: Sequence[str] = (),
    code: str | None = None,
) -> UserView:
    """Create a user who can sign in. Associates and managers need a store; online experts a region."""
    errors: list[FieldError] = []
    try:
        address = _email(email)
    except InvalidRecord as exc:
        errors += exc.errors
        address = ""
    name = display_name.strip()
    if not name:
        errors.append(FieldError("name", "a display name is required"))
    elif len(name) > 200:
        errors.append(FieldError("name", f"a display name has at most 200 characters (got {len(name)})"))
    if role not in ROLES:
        errors.append(FieldError("role", f"unknown role {role!r}; one of {', '.join(ROLES)}"))
    region_list = [r.strip().upper() for r in regions if r.strip()]
    bad = [r for r in region_list if not _REGION.fullmatch(r)]
    if bad:
        errors.append(FieldError("region", f"{', '.join(bad)}: a region is a country (US) or a state (US-CA)"))
    if role in (ASSOCIATE, STORE_MANAGER) and not [s for s in stores if s.strip()]:
        errors.append(FieldError("store", f"a {ROLE_LABELS[role].lower()} works in at least one store (--store)"))
    if role == VIRTUAL_ASSOCIATE and not region_list:
        errors.append(FieldError("region", "an online expert covers at least one region (--region US)"))
    if code is not None and not _CODE.fullmatch(code.strip().upper()[:64]):
        errors.append(FieldError("code", "a code is letters, digits, '.', '_' or '-'"))
    try:
        passwords.check_password_strength(password)
    except InvalidRecord as exc:
        errors += exc.errors
    if errors:
        raise InvalidRecord(errors)
    location_ids = _store_ids(session, stores)
    if session.scalar(select(Associate.id).where(Associate.email == address)) is not None:
        raise Conflict(f"a user with email {address} already exists (set a password with `rapport users set-password`)")
    code = code.strip().upper()[:64] if code else _free_code(session, address)
    if session.scalar(select(Associate.id).where(Associate.code == code)) is not None:
        raise Conflict(f"the associate code {code} is taken")
    row = Associate(
        code=code,
        email=address,
        display_name=name,
        role=role,
        home_location_id=location_ids[0] if location_ids else None,
        regions=region_list,
        password_hash=passwords.hash_password(password),
        active=True,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    _link_stores(session, row.id, location_ids)
    return _views(session, [row])[0]


def _link_stores(session: Session, associate_id: int, location_ids: Iterable[int]) -> None:
    have = set(
        session.scalars(select(AssociateLocation.location_id).where(AssociateLocation.associate_id == associate_id))
    )
    session.add_all(
        AssociateLocation(associate_id=associate_id, location_id=lid) for lid in location_ids if lid not in have
    )
    session.flush()


def list_users(session: Session, *, include_disabled: bool = True, signed_in_only: bool = False) -> list[UserView]:
    """Associates by name; ``signed_in_only`` keeps those with a password (users, not just staff records)."""
    stmt = select(Associate).order_by(Associate.display_name, Associate.id)
    if not include_disabled:
        stmt = stmt.where(Associate.active.is_(True))
    if signed_in_only:
        stmt = stmt.where(Associate.password_hash.is_not(None))
    return _views(session, list(session.scalars(stmt)))


def _views(session: Session, rows: Sequence[Associate]) -> list[UserView]:
    from rapport.associates.permissions import store_ids_of
    from rapport.inventory.models import Location

    stores = store_ids_of(session, [r.id for r in rows]) if rows else {}
    all_ids = sorted({i for ids in stores.values() for i in ids})
    codes = dict(session.execute(select(Location.id, Location.code).where(Location.id.in_(all_ids))).all())
    return [
        UserView(
            id=r.id,
            code=r.code,
            email=r.email,
            display_name=r.display_name,
            role=r.role,
            stores=tuple(sorted(codes[i] for i in stores.get(r.id, ()) if i in codes)),
            regions=tuple(r.regions or ()),
            active=r.active,
            can_sign_in=r.active and r.password_hash is not None,
        )
        for r in rows
    ]


def disable_user(session: Session, email: str) -> UserView:
    """Stop a user signing in and end their open sessions; their history and client book stay."""
    row = _find(session, email)
    row.active = False
    auth.revoke_sessions(session, row.id)
    session.flush()
    return _views(session, [row])[0]


def enable_user(session: Session, email: str) -> UserView:
    row = _find(session, email)
    row.active = True
    session.flush()
    return _views(session, [row])[0]


def set_password(session: Session, email: str, password: str, *, salt: bytes | None = None) -> UserView:
    """Give a user a new password (or a first one) and sign them out of every open session.

    ``salt`` fixes the hash's salt so the demo loads the same rows every time; never pass it otherwise.
    """
    passwords.check_password_strength(password)
    row = _find(session, email)
    row.password_hash = passwords.hash_password(password, salt=salt)
    auth.revoke_sessions(session, row.id)
    session.flush()
    return _views(session, [row])[0]


def assign_stores(session: Session, email: str, stores: Sequence[str]) -> UserView:
    """Add stores an associate works in (their home store stays the first one they had)."""
    row = _find(session, email)
    location_ids = _store_ids(session, stores)
    if row.home_location_id is None and location_ids:
        row.home_location_id = location_ids[0]
    _link_stores(session, row.id, location_ids)
    return _views(session, [row])[0]


@dataclass(frozen=True)
class StoreRef:
    id: int
    code: str
    name: str
    city: str | None


def stores_by_id(session: Session, ids: Iterable[int]) -> list[StoreRef]:
    """The stores behind these ids, by name (for the header and the home screen)."""
    from rapport.inventory.models import Location

    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = session.execute(
        select(Location.id, Location.code, Location.name, Location.city)
        .where(Location.id.in_(wanted))
        .order_by(Location.name)
    )
    return [StoreRef(r.id, r.code, r.name, r.city) for r in rows]


AWAY_MAX_DAYS = 120


def set_away(session: Session, associate_id: int, until: datetime | None) -> datetime | None:
    """Out of office until ``until`` (None: back now). Meanwhile their clients' messages go to the
    store's shared inbox (:func:`rapport.outreach.inbound.route`). Returns what was set."""
    from rapport import clock

    now = clock.now()
    if until is not None:
        if until.tzinfo is None:
            raise InvalidRecord.one("away_until", "give a time with its timezone")
        if until <= now:
            raise InvalidRecord.one("away_until", "the return is in the past")
        if until > now + timedelta(days=AWAY_MAX_DAYS):
            raise InvalidRecord.one("away_until", f"at most {AWAY_MAX_DAYS} days ahead")
    person = session.get(Associate, associate_id)
    if person is None:
        raise NotFound(f"associate {associate_id} not found")
    person.away_until = until
    session.flush()
    return until
