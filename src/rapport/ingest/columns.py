"""How flat CSV columns map onto the nested ingestion records.

The convention (``email_2``, ``size_shoes``, ``customer_email``, dotted paths such as
``emails.0.address``) is documented in docs/importing.md; :data:`ALIASES` and
:func:`pattern_alias` hold it, and :func:`resolve` checks a dotted path against the record classes.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel

# --- the flattening convention -----------------------------------------------------------------

_CUSTOMER_REF = {
    "customer_id": "customer.id",
    "customer_source": "customer.source",
    "customer_email": "customer.email",
    "customer_phone": "customer.phone",
    "customer_first_name": "customer.first_name",
    "customer_last_name": "customer.last_name",
    "customer_country": "customer.country",
}

#: Friendly POS column names, per kind, onto record field paths (``lines.x`` = a field of the row's line).
ALIASES: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "id",
        "email": "emails.0.address",
        "email_verified": "emails.0.verified",
        "phone": "phones.0.number",
        "phone_verified": "phones.0.verified",
        "address_kind": "addresses.0.kind",
        "address_line1": "addresses.0.line1",
        "address_line2": "addresses.0.line2",
        "city": "addresses.0.city",
        "region": "addresses.0.region",
        "postal_code": "addresses.0.postal_code",
        "country": "addresses.0.country",
        "address_primary": "addresses.0.primary",
        "note": "notes.0",
    },
    "orders": {
        "order_id": "id",
        **_CUSTOMER_REF,
        "line_id": "lines.id",
        "sku": "lines.sku",
        "quantity": "lines.quantity",
        "unit_price": "lines.unit_price",
        "line_discount": "lines.discount",
    },
    "returns": {
        "return_id": "id",
        **_CUSTOMER_REF,
        "order_line": "lines.order_line",
        "order_line_id": "lines.order_line",
        "sku": "lines.sku",
        "quantity": "lines.quantity",
        "refund": "lines.refund",
    },
    "events": {"event_id": "id", **_CUSTOMER_REF},
}
#: Aliases whose cell holds several values separated by ``|``.
SPLIT_ALIASES = {"customers": {"emails": ("emails",), "phones": ("phones",)}}

_CONSENT = ("email", "sms", "whatsapp", "phone")
_MILESTONES = ("anniversary", "wedding", "birthday", "child_birthday", "partner_birthday", "other")
#: Generated list positions start here, so they never collide with explicit ``consent.0.x`` columns.
_GENERATED_INDEX = 1000


Consts = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Target:
    path: tuple[str | int, ...]
    leaf: str  # text | list | amount | datetime
    consts: Consts = ()
    line_level: bool = False


def pattern_alias(kind: str, name: str, slots: dict[str, int]) -> tuple[str, Consts] | None:
    """Numbered and prefixed customer columns: ``email_2``, ``size_shoes``, ``consent_sms`` ..."""
    if kind != "customers":
        return None

    def slot(group: str) -> int:
        return slots.setdefault(group, _GENERATED_INDEX + len(slots))

    if m := re.fullmatch(r"(email|phone)_(\d+)(_verified)?", name):
        n = int(m.group(2))
        if n < 1:
            return None
        leaf = "verified" if m.group(3) else ("address" if m.group(1) == "email" else "number")
        return f"{m.group(1)}s.{n - 1}.{leaf}", ()
    if m := re.fullmatch(r"size_(.+)", name):
        return f"sizes.{m.group(1)}", ()
    if m := re.fullmatch(r"preference_(.+)", name):
        return f"preferences.{m.group(1)}", ()
    if m := re.fullmatch(r"consent_({})(_at)?".format("|".join(_CONSENT)), name):
        k = slot(f"consent:{m.group(1)}")
        return f"consent.{k}.{'recorded_at' if m.group(2) else 'granted'}", (("channel", m.group(1)),)
    if m := re.fullmatch(r"milestone_({})".format("|".join(_MILESTONES)), name):
        return f"milestones.{slot('milestone:' + m.group(1))}.date", (("kind", m.group(1)),)
    if m := re.fullmatch(r"external_id_(.+)", name):
        return f"external_ids.{slot('external:' + m.group(1))}.id", (("source", m.group(1)),)
    return None


def column_key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip()).lower()


# --- reading the record classes -----------------------------------------------------------------


def unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``| None``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def record_model(tp: Any) -> type[BaseModel] | None:
    tp = unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    if get_origin(tp) in (Union, types.UnionType):
        for arg in get_args(tp):
            found = record_model(arg)
            if found is not None:
                return found
    return None


def leaf_type(tp: Any, shown: str) -> str:
    tp = unwrap(tp)
    origin = get_origin(tp)
    if origin is list:
        if record_model(get_args(tp)[0]) is not None:
            raise UnknownField(f"{shown} is a list of objects: name a field of one, e.g. {shown}.0.<field>")
        return "list"
    if origin is dict:
        raise UnknownField(f"{shown} is a mapping: name a key, e.g. {shown}.<key>")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        raise UnknownField(f"{shown} is an object: name one of its fields ({', '.join(tp.model_fields)})")
    if tp is Decimal:
        return "amount"
    if tp is AwareDatetime or (isinstance(tp, type) and issubclass(tp, datetime)):
        return "datetime"
    return "text"


class UnknownField(Exception):
    pass


def resolve_path(model: type[BaseModel], dotted: str) -> tuple[tuple[str | int, ...], str]:
    """``"addresses.0.city"`` -> (("addresses", 0, "city"), "text"), checked against the record class."""
    segments = dotted.split(".")
    path: list[str | int] = []
    tp: Any = model
    for i, seg in enumerate(segments):
        shown = ".".join(segments[:i]) or model.__name__
        current = unwrap(tp)
        found = record_model(current)
        origin = get_origin(current)
        if origin is list:
            if not seg.strip().isdigit():
                raise UnknownField(f"{shown} is a list: give a position, e.g. {shown}.0")
            path.append(int(seg))
            tp = get_args(current)[0]
        elif origin is dict:
            path.append(seg.strip())
            tp = get_args(current)[1]
        elif found is not None:
            name = column_key(seg)
            if name not in found.model_fields:
                raise UnknownField(f"{seg.strip()!r} is not a field of {shown}")
            path.append(name)
            tp = found.model_fields[name].annotation
        else:
            raise UnknownField(f"{shown} has no parts")
    return tuple(path), leaf_type(tp, dotted)
