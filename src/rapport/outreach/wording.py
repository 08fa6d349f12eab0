"""Personalisation: the fields a message can use and what they become for one client.

Text has fields in braces — ``Hello {first_name}, the {product} you loved is back`` — and ``{{`` /
``}}`` for a literal brace. A field Rapport does not know is refused (a typo never reaches a client);
a field with no value for this client (``{last_purchase}`` for someone who never bought) is refused
in words the composer shows ("Alicia has no purchase yet: remove {last_purchase}"), while a preview
may leave a visible ``[last purchase]`` instead. Also the SMS segment count (GSM-7 or UCS-2).
Saved templates are in :mod:`rapport.outreach.message_templates`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rapport.associates.models import Associate
from rapport.catalog.models import Product
from rapport.commerce.models import Order, OrderLine, ReturnLine
from rapport.customers.models import Customer
from rapport.db import table_of
from rapport.errors import FieldError, InvalidRecord, NotFound
from rapport.identity.merge import resolve_id
from rapport.inventory.models import Location

CUSTOMER, ASSOCIATE, LOCATION, PRODUCT = table_of(Customer), table_of(Associate), table_of(Location), table_of(Product)
ORDER, ORDER_LINE, RETURN_LINE = table_of(Order), table_of(OrderLine), table_of(ReturnLine)

#: The personalisation fields, in the order the editor lists them, with what each one becomes.
FIELDS: dict[str, str] = {
    "first_name": "the client's first name",
    "last_name": "the client's last name",
    "full_name": "the client's first and last name",
    "associate_name": "your name, as the client knows you",
    "associate_first_name": "your first name",
    "store_name": "your home store (else the client's home store)",
    "last_purchase": "the product the client bought most recently (returned items left out)",
    "last_purchase_date": "the day of that purchase, written in the client's language",
    "product": "the product you pick for this message",
    "product_link": "a tracked link to that product (made when the message is sent)",
    "look_link": "a tracked link to the look you share (made when the message is sent)",
}
#: Why a field is empty, as the composer says it (``{who}``: the client's first name).
_WHY_MISSING: dict[str, str] = {
    "first_name": "{who} has no first name on record",
    "last_name": "{who} has no last name on record",
    "full_name": "{who} has no name on record",
    "associate_name": "this message has no sender",
    "associate_first_name": "this message has no sender",
    "store_name": "neither you nor {who} has a home store",
    "last_purchase": "{who} has no purchase yet",
    "last_purchase_date": "{who} has no purchase yet",
    "product": "no product is picked for this message",
    "product_link": "no product is picked for this message",
    "look_link": "no look is shared in this message",
}

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


# -- the text: fields, rendering, SMS segments ------------------------------------------------------------


def _shown(name: str) -> str:
    return "{" + name + "}"


def _known() -> str:
    return ", ".join(_shown(f) for f in FIELDS)


def _scan(text: str) -> tuple[list[str | tuple[str]], list[str]]:
    """The text as literal pieces and ``(field,)`` markers, and what is wrong with it, in words."""
    pieces: list[str | tuple[str]] = []
    problems: list[str] = []
    unknown: list[str] = []
    at = 0
    for match in _TOKEN.finditer(text):
        if match.start() > at:
            pieces.append(text[at : match.start()])
        at = match.end()
        token = match.group(0)
        name = match.group(1)
        if token in ("{{", "}}"):
            pieces.append(token[0])
        elif name is None:
            pieces.append(token)
            problems.append(f"a lone “{token}”: write {token * 2} for a brace, or {{first_name}} for a field")
        elif name in FIELDS:
            pieces.append((name,))
        else:
            pieces.append(token)
            if name not in unknown:
                unknown.append(name)
    if at < len(text):
        pieces.append(text[at:])
    named = []
    for name in unknown:
        guess = difflib.get_close_matches(name.strip().lower(), FIELDS, n=1, cutoff=0.75)
        hint = f" (did you mean {_shown(guess[0])}?)" if guess else ""
        named.append(f"unknown field {_shown(name)}{hint}; known: {_known()}")
    return pieces, named + problems


def fields_used(text: str) -> set[str]:
    """The names between single braces (known or not); ``{{first_name}}`` is literal text, not a field."""
    return {m.group(1) for m in _TOKEN.finditer(text or "") if m.group(1) is not None}


def check_template_text(text: str, *, where: str = "body") -> None:
    """Refuse unknown fields and lone braces (InvalidRecord naming ``where`` and the field)."""
    _pieces, problems = _scan(text)
    if problems:
        raise InvalidRecord([FieldError(where, p) for p in problems])


def placeholder(name: str) -> str:
    """What the lenient preview shows for a field without a value: ``[last purchase]``."""
    return "[" + name.replace("_", " ") + "]"


def missing_message(name: str, values: Mapping[str, str]) -> str:
    """``Alicia has no purchase yet: remove {last_purchase}``."""
    who = (values.get("first_name") or "").strip() or "this client"
    why = _WHY_MISSING.get(name, "{who} has no value for it").format(who=who)
    return f"{why[:1].upper()}{why[1:]}: remove {_shown(name)}"


def _has(values: Mapping[str, str], name: str) -> bool:
    value = values.get(name)
    return bool(value and value.strip())


def render(text: str, values: Mapping[str, str], *, strict: bool = True, where: str = "body") -> str:
    """The text with its fields filled in from ``values``; ``{{`` and ``}}`` become single braces.

    An unknown field or a lone brace raises InvalidRecord naming ``where`` and the field. A known
    field without a value raises too (in the words the composer shows), unless ``strict=False``:
    then it shows as ``[field name]`` — the editor's preview, never what a client receives.
    """
    pieces, problems = _scan(text)
    if problems:
        raise InvalidRecord([FieldError(where, p) for p in problems])
    out: list[str] = []
    missing: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        (name,) = piece
        if _has(values, name):
            out.append(values[name])
        else:
            if name not in missing:
                missing.append(name)
            out.append(placeholder(name))
    if strict and missing:
        raise InvalidRecord([FieldError(where, missing_message(name, values)) for name in missing])
    return "".join(out)


#: GSM 03.38: the basic character set (one septet each; the escape itself is not text) ...
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: ... and the extension table, reached through the escape: two septets each.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM_SINGLE, GSM_PART = 160, 153  # a concatenated part gives 7 septets to its header
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsCount:
    """How an SMS carrier counts a text: GSM-7 septets, or UTF-16 units when any character needs it."""

    encoding: str  # "GSM-7" | "UCS-2"
    units: int
    segments: int


def sms_count(text: str) -> SmsCount:
    """Segments an SMS body is billed as. A character is never split between parts (an escaped
    GSM character or an emoji's surrogate pair moves whole to the next part), as phones and
    Twilio split them."""
    if all(c in GSM_BASIC or c in GSM_EXTENSION for c in text):
        encoding, single, part = "GSM-7", GSM_SINGLE, GSM_PART
        costs = [2 if c in GSM_EXTENSION else 1 for c in text]
    else:
        encoding, single, part = "UCS-2", UCS2_SINGLE, UCS2_PART
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    units = sum(costs)
    if units == 0:
        return SmsCount(encoding, 0, 0)
    if units <= single:
        return SmsCount(encoding, units, 1)
    segments, filled = 1, 0
    for cost in costs:
        if filled + cost > part:
            segments, filled = segments + 1, 0
        filled += cost
    return SmsCount(encoding, units, segments)


# -- what the fields become for one client --------------------------------------------------------------


def _locale(language: str | None) -> Locale:
    if language:
        try:
            return Locale.parse(language.strip().replace("-", "_"))
        except (ValueError, TypeError, UnknownLocaleError):
            pass
    return Locale("en")


def _is_language(code: str) -> bool:
    try:
        Locale.parse(code.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return False
    return True


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _client_row(session: Session, customer_id: int) -> Any:
    c, home = CUSTOMER.c, LOCATION.alias("home")
    stmt = (
        select(c.id, c.first_name, c.last_name, c.language, c.merged_into_id, home.c.name.label("store"),
               home.c.timezone)
        .select_from(CUSTOMER.outerjoin(home, home.c.id == c.home_location_id))
    )  # fmt: skip
    row = session.execute(stmt.where(c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"client {customer_id} not found")
    if row.merged_into_id is not None:  # a merged-away id answers for its survivor
        row = session.execute(stmt.where(c.id == resolve_id(session, customer_id))).first()
    return row


def _last_purchase(session: Session, customer_id: int) -> Any:
    """The newest line the client still has: placed orders only, fully returned lines left out."""
    o, ol, rl, p = ORDER.c, ORDER_LINE.c, RETURN_LINE.c, PRODUCT.c
    returned = select(func.coalesce(func.sum(rl.quantity), 0)).where(rl.order_line_id == ol.id).scalar_subquery()
    return session.execute(
        select(p.name, o.placed_at)
        .select_from(ORDER.join(ORDER_LINE, ol.order_id == o.id).join(PRODUCT, p.id == ol.product_id))
        .where(o.customer_id == customer_id, o.status == "placed", ol.quantity > returned)
        .order_by(o.placed_at.desc(), o.id.desc(), ol.id)
        .limit(1)
    ).first()


def personal_values(
    session: Session,
    *,
    customer_id: int,
    associate_id: int | None,
    product_id: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What each field becomes for this client, from this associate; fields without a value are left out.

    At most four statements whatever the client's history (client and home store, associate and
    home store, last purchase, product). ``extra`` gives what only the caller knows — the tracked
    ``product_link`` and ``look_link`` it made for this message — and wins over what is read.
    """
    values: dict[str, str] = {}
    client = _client_row(session, customer_id)
    first, last = (client.first_name or "").strip(), (client.last_name or "").strip()
    if first:
        values["first_name"] = first
    if last:
        values["last_name"] = last
    if first or last:
        values["full_name"] = " ".join(p for p in (first, last) if p)
    store = client.store
    if associate_id is not None:
        home = LOCATION.alias("home")
        row = session.execute(
            select(ASSOCIATE.c.display_name, home.c.name.label("store"))
            .select_from(ASSOCIATE.outerjoin(home, home.c.id == ASSOCIATE.c.home_location_id))
            .where(ASSOCIATE.c.id == associate_id)
        ).first()
        if row is None:
            raise NotFound(f"associate {associate_id} not found")
        name = (row.display_name or "").strip()
        if name:
            values["associate_name"] = name
            values["associate_first_name"] = name.split()[0]
        store = row.store or store
    if store:
        values["store_name"] = store
    bought = _last_purchase(session, client.id)
    if bought is not None:
        values["last_purchase"] = bought.name
        local_day = bought.placed_at.astimezone(_zone(client.timezone)).date()
        values["last_purchase_date"] = str(format_date(local_day, "long", locale=_locale(client.language)))
    if product_id is not None:
        product = session.scalar(select(PRODUCT.c.name).where(PRODUCT.c.id == product_id))
        if product is None:
            raise NotFound(f"product {product_id} not found")
        values["product"] = product
    for name, value in (extra or {}).items():
        if name not in FIELDS:
            raise InvalidRecord.one("extra", f"unknown field {_shown(name)}; known: {_known()}")
        if value and value.strip():
            values[name] = value
    return values


@dataclass(frozen=True)
class SampleClient:
    customer_id: int
    name: str


def sample_clients(session: Session, associate_id: int | None, *, limit: int = 8) -> list[SampleClient]:
    """Clients to preview a template against: the associate's own book first, then the newest clients."""
    c = CUSTOMER.c
    found: list[Any] = []
    if associate_id is not None:
        found = list(
            session.execute(
                select(c.id, c.first_name, c.last_name)
                .where(c.assigned_associate_id == associate_id, c.status == "active")
                .order_by(c.id)
                .limit(limit)
            )
        )
    if len(found) < limit:
        seen = {r.id for r in found}
        more = session.execute(
            select(c.id, c.first_name, c.last_name).where(c.status == "active").order_by(c.id.desc()).limit(limit)
        )
        found += [r for r in more if r.id not in seen][: limit - len(found)]
    return [
        SampleClient(r.id, " ".join(p for p in (r.first_name, r.last_name) if p) or f"Client #{r.id}") for r in found
    ]


def describe_fields(names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """``[("{first_name}", "the client's first name"), ...]`` for the editor's list of fields."""
    wanted = FIELDS if names is None else [n for n in FIELDS if n in set(names)]
    return [(_shown(n), FIELDS[n]) for n in wanted]
