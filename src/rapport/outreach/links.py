"""Tracked short links: ``/r/{code}`` in a message records the client's visit, then sends them on.

A link is made per message and client (:func:`shorten`, or :func:`linkify` for the ``[[SKU]]``
references an associate writes in a message), so opening it — on whatever device — is put on
the client's timeline as ``link_opened`` with the associate who sent it: the touch attribution
counts later.

Where a link leads:

* **product** — the catalogue holds no product-page URL (only a picture), and there is no shop
  front, so the client lands on Rapport's public one-product page, ``/looks/product/{sku}``,
  with ``?via={code}`` so the page can name the associate who sent it (the same page a look's
  tiles link to, untracked);
* **look** — the look's public page, ``/looks/{look code}``;
* **url** — the stored address (http or https only: a link never becomes ``javascript:``).

A visit is one ``UPDATE … RETURNING`` (the counter and first/last visit, atomic under concurrent
opens), one read of what the link points at, and one timeline insert. Link-preview robots
(WhatsApp, iMessage, Slack, Facebook… fetch a link the moment it is sent) are redirected but
not counted: their fetch is not the client opening it. The visitor's IP address is not stored.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.orm import Session

from rapport import clock
from rapport.associates.models import Associate
from rapport.associates.notifications import get_email_settings
from rapport.catalog.models import Product
from rapport.customers import timeline
from rapport.db import UTCDateTime, one_of, table_of
from rapport.errors import InvalidRecord
from rapport.identity.merge import resolve_id
from rapport.outreach.looks import product_path
from rapport.outreach.models import Look, ShortLink

SHORT_LINK = table_of(ShortLink)
PRODUCT = table_of(Product)
LOOK = table_of(Look)
ASSOCIATE = table_of(Associate)

TargetKind = Literal["product", "look", "url"]
TARGET_KINDS = ("product", "look", "url")
#: 9 random bytes: 12 URL-safe characters (72 bits), within the column's 16.
CODE_BYTES = 9
CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,16}")
URL_MAX = 1000
LINK_SOURCE = "rapport.links"
#: The timeline channel of a link opened: in a browser, wherever the client was (not a sales channel).
LINK_CHANNEL = "web"
#: ``[[SKU]]`` in a message body: a product to link to.
SKU_REFERENCE = re.compile(r"\[\[([^\[\]\r\n]{1,64})\]\]")
#: User agents of the robots that fetch a link to draw its preview (messaging apps, social networks), of
#: search crawlers and of scripts. Named one by one: a loose "bot" would also catch a Cubot phone.
ROBOTS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|telegrambot|discordbot|linkedinbot|pinterestbot|redditbot"
    r"|applebot|googlebot|bingbot|duckduckbot|yandexbot|baiduspider|whatsapp/|skypeuripreview|embedly|iframely"
    r"|vkshare|w3c_validator|crawler|spider|headlesschrome|curl/|wget/|python-requests|go-http-client",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LinkTarget:
    """Where one link leads: a product, a look, or an address."""

    kind: TargetKind
    product_id: int | None = None
    look_id: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class LinkView:
    id: int
    code: str
    #: The short URL as the client sees it (``https://…/r/{code}``).
    short_url: str
    target_kind: str
    product_id: int | None
    look_id: int | None
    url: str | None
    associate_id: int | None
    customer_id: int | None
    message_id: int | None
    visits: int
    first_visit_at: datetime | None
    last_visit_at: datetime | None
    created_at: datetime


# -- making links ----------------------------------------------------------------------------------


def new_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def short_url(code: str) -> str:
    """The link as written in a message: the public base URL (``RAPPORT_PUBLIC_URL``) + ``/r/{code}``."""
    return f"{get_email_settings().public_url.rstrip('/')}/r/{code}"


def _check_url(url: str | None) -> str:
    text = (url or "").strip()
    if not text:
        raise InvalidRecord.one("url", "give the address to link to")
    if len(text) > URL_MAX:
        raise InvalidRecord.one("url", f"at most {URL_MAX} characters")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise InvalidRecord.one("url", "an http or https address, such as https://maison.example/stores")
    return text


def _check(target: LinkTarget) -> LinkTarget:
    if target.kind not in TARGET_KINDS:
        raise InvalidRecord.one("target_kind", f"expected one of {', '.join(TARGET_KINDS)}")
    given = {"product_id": target.product_id, "look_id": target.look_id, "url": target.url}
    needed = {"product": "product_id", "look": "look_id", "url": "url"}[target.kind]
    for name, value in given.items():
        if name == needed and value in (None, ""):
            raise InvalidRecord.one(name, f"a {target.kind} link needs its {name}")
        if name != needed and value not in (None, ""):
            raise InvalidRecord.one(name, f"a {target.kind} link takes no {name}")
    if target.kind == "url":
        return LinkTarget("url", url=_check_url(target.url))
    return target


def shorten_many(
    session: Session,
    targets: Sequence[LinkTarget],
    *,
    associate_id: int | None = None,
    customer_id: int | None = None,
    message_id: int | None = None,
) -> list[str]:
    """One tracked link per target, all for the same associate, client and message; their codes in order.

    The products and looks are checked in one statement each; the links are one multi-row insert.
    A merged-away client id is stored as its survivor. ``message_id`` must name a message already
    written (a foreign key, checked at once): links whose URLs go into the body being written are
    made without it, then :func:`attach_to_message`.
    """
    checked = [_check(t) for t in targets]
    if not checked:
        return []
    product_ids = sorted({t.product_id for t in checked if t.product_id is not None})
    if product_ids:
        found = set(session.scalars(select(PRODUCT.c.id).where(one_of(session, PRODUCT.c.id, product_ids))))
        missing = [p for p in product_ids if p not in found]
        if missing:
            raise InvalidRecord.one("product_id", f"no product {missing[0]}")
    look_ids = sorted({t.look_id for t in checked if t.look_id is not None})
    if look_ids:
        found = set(session.scalars(select(LOOK.c.id).where(one_of(session, LOOK.c.id, look_ids))))
        missing = [look for look in look_ids if look not in found]
        if missing:
            raise InvalidRecord.one("look_id", f"no look {missing[0]}")
    cid = resolve_id(session, customer_id) if customer_id is not None else None
    now = clock.now()
    codes = [new_code() for _ in checked]
    session.execute(
        insert(SHORT_LINK),
        [
            {
                "code": code, "target_kind": t.kind, "product_id": t.product_id, "look_id": t.look_id, "url": t.url,
                "associate_id": associate_id, "customer_id": cid, "message_id": message_id, "visits": 0,
                "first_visit_at": None, "last_visit_at": None, "created_at": now,
            }
            for code, t in zip(codes, checked, strict=True)
        ],
    )  # fmt: skip
    return codes


def shorten(
    session: Session,
    *,
    target_kind: TargetKind,
    product_id: int | None = None,
    look_id: int | None = None,
    url: str | None = None,
    associate_id: int | None = None,
    customer_id: int | None = None,
    message_id: int | None = None,
) -> str:
    """A new tracked link to a product, a look or an address; its code (see :func:`short_url`).

    InvalidRecord names the field: a product link needs ``product_id`` (of a product that exists),
    a look link ``look_id``, an address link an http(s) ``url``; none takes the others' fields.
    """
    target = LinkTarget(target_kind, product_id, look_id, url)
    return shorten_many(session, [target], associate_id=associate_id, customer_id=customer_id,
                        message_id=message_id)[0]  # fmt: skip


def attach_to_message(session: Session, codes: Sequence[str], message_id: int) -> int:
    """Tie links made before their message was written (``message_id`` None then) to it; how many.

    ``short_link.message_id`` is a foreign key checked at once: a message's links can only name it once
    its row exists. A sender that makes the links first (their URLs go in the body) attaches them after.
    """
    if not codes:
        return 0
    result = session.execute(
        update(SHORT_LINK)
        .where(one_of(session, SHORT_LINK.c.code, list(codes)), SHORT_LINK.c.message_id.is_(None))
        .values(message_id=message_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def linkify(
    session: Session,
    text: str,
    *,
    associate_id: int | None,
    customer_id: int | None,
    message_id: int | None = None,
) -> tuple[str, list[str]]:
    """Replace each ``[[SKU]]`` in a message with a tracked short URL to that product; the new text and the codes.

    A SKU written twice gets one link, used in both places. An unknown SKU is an error on ``body``
    naming it (the associate fixes the message; nothing is sent with a dead reference).
    """
    found = [m.group(1).strip() for m in SKU_REFERENCE.finditer(text)]
    skus = list(dict.fromkeys(s for s in found if s))
    if not skus:
        return text, []
    columns = (PRODUCT.c.id, PRODUCT.c.sku, PRODUCT.c.name, PRODUCT.c.active)
    rows = session.execute(select(*columns).where(one_of(session, PRODUCT.c.sku, skus))).all()
    by_sku = {r.sku: r for r in rows}
    for sku in skus:
        row = by_sku.get(sku)
        if row is None:
            raise InvalidRecord.one("body", f"[[{sku}]]: no product with the SKU {sku!r}")
        if not row.active:
            raise InvalidRecord.one("body", f"[[{sku}]]: {row.name} is no longer sold")
    codes = shorten_many(
        session, [LinkTarget("product", product_id=by_sku[s].id) for s in skus], associate_id=associate_id,
        customer_id=customer_id, message_id=message_id,
    )  # fmt: skip
    urls = {sku: short_url(code) for sku, code in zip(skus, codes, strict=True)}

    def replace(match: re.Match[str]) -> str:
        sku = match.group(1).strip()
        return urls.get(sku, match.group(0))

    return SKU_REFERENCE.sub(replace, text), codes


# -- following links -------------------------------------------------------------------------------


def is_robot(user_agent: str | None) -> bool:
    """A link-preview fetcher or a crawler that says so. (No user agent at all counts as a visit: when in
    doubt, the associate gets the credit.)"""
    return bool(user_agent and ROBOTS.search(user_agent))


_RETURNED = (
    SHORT_LINK.c.id, SHORT_LINK.c.code, SHORT_LINK.c.target_kind, SHORT_LINK.c.product_id, SHORT_LINK.c.look_id,
    SHORT_LINK.c.url, SHORT_LINK.c.associate_id, SHORT_LINK.c.customer_id, SHORT_LINK.c.message_id,
    SHORT_LINK.c.visits,
)  # fmt: skip


def visit(session: Session, code: str, *, user_agent: str | None, ip: str | None) -> str | None:
    """Someone opened ``/r/{code}``: count it and say where to send them (None: no such link).

    For a client's link, the visit goes on their timeline (``link_opened``, with the associate who
    sent it); each visit is its own entry, keyed by the visit's number. A robot's fetch is only
    redirected. ``ip`` is accepted for the request's record but not stored (personal data; the
    link itself says who it was for).
    """
    del ip  # deliberately not kept: see the docstring
    if not CODE_SHAPE.fullmatch(code or ""):
        return None
    now = clock.now()
    if is_robot(user_agent):
        link = session.execute(select(*_RETURNED).where(SHORT_LINK.c.code == code)).first()
    else:
        at = literal(now, UTCDateTime())
        link = session.execute(
            update(SHORT_LINK)
            .where(SHORT_LINK.c.code == code)
            .values(
                visits=SHORT_LINK.c.visits + 1,
                first_visit_at=func.coalesce(SHORT_LINK.c.first_visit_at, at),
                last_visit_at=now,
            )
            .returning(*_RETURNED)
        ).first()
    if link is None:
        return None
    target = session.execute(
        select(PRODUCT.c.sku, PRODUCT.c.name.label("product_name"), LOOK.c.code.label("look_code"),
               LOOK.c.title.label("look_title"), ASSOCIATE.c.display_name)
        .select_from(SHORT_LINK)
        .outerjoin(PRODUCT, PRODUCT.c.id == SHORT_LINK.c.product_id)
        .outerjoin(LOOK, LOOK.c.id == SHORT_LINK.c.look_id)
        .outerjoin(ASSOCIATE, ASSOCIATE.c.id == SHORT_LINK.c.associate_id)
        .where(SHORT_LINK.c.id == link.id)
    ).one()  # fmt: skip
    if link.customer_id is not None and not is_robot(user_agent):
        _on_timeline(session, link, target, now)
    return destination(link.target_kind, code=link.code, sku=target.sku, look_code=target.look_code, url=link.url)


def destination(kind: str, *, code: str, sku: str | None, look_code: str | None, url: str | None) -> str | None:
    """Where a link of this kind sends the visitor (see the module docstring)."""
    if kind == "product" and sku is not None:
        return f"{product_path(sku)}?via={quote(code, safe='')}"
    if kind == "look" and look_code is not None:
        return f"/looks/{look_code}"
    if kind == "url" and url:
        return url
    return None


def _on_timeline(session: Session, link: Any, target: Any, now: datetime) -> None:
    if link.target_kind == "product":
        what = target.product_name or "a product"
    elif link.target_kind == "look":
        what = f"the look “{target.look_title}”" if target.look_title else "a look"
    else:
        what = "a link"
    sender = f" sent by {target.display_name}" if target.display_name else ""
    data: dict[str, Any] = {
        "associate_id": link.associate_id,
        "code": link.code,
        "target_kind": link.target_kind,
        "message_id": link.message_id,
    }
    if link.target_kind == "product":
        data["product_id"] = link.product_id
    elif link.target_kind == "look":
        data["look_id"] = link.look_id
    else:
        data["url"] = link.url
    entry = timeline.entry(
        customer_id=link.customer_id, kind="link_opened", summary=f"Opened {what}{sender}", source=LINK_SOURCE,
        external_id=f"{link.code}:{link.visits}", occurred_at=now, recorded_at=now, channel=LINK_CHANNEL,
        actor_kind="client", product_id=link.product_id, ref_type="short_link", ref_id=link.id, data=data,
    )  # fmt: skip
    # The visit number comes from the row just updated: no other visit can carry it.
    timeline.append(session, [entry], checked=True)


# -- reading ---------------------------------------------------------------------------------------


def _view(r: Any) -> LinkView:
    return LinkView(
        id=r.id, code=r.code, short_url=short_url(r.code), target_kind=r.target_kind, product_id=r.product_id,
        look_id=r.look_id, url=r.url, associate_id=r.associate_id, customer_id=r.customer_id,
        message_id=r.message_id, visits=r.visits, first_visit_at=r.first_visit_at, last_visit_at=r.last_visit_at,
        created_at=r.created_at,
    )  # fmt: skip


def links_of_message(session: Session, message_id: int) -> list[LinkView]:
    """The tracked links a message carries, in the order they were made, with their visits."""
    rows = session.execute(
        select(SHORT_LINK).where(SHORT_LINK.c.message_id == message_id).order_by(SHORT_LINK.c.id)
    ).all()
    return [_view(r) for r in rows]


def link_of(session: Session, code: str) -> LinkView | None:
    """One link by its code (None when unknown), without counting a visit."""
    if not CODE_SHAPE.fullmatch(code or ""):
        return None
    row = session.execute(select(SHORT_LINK).where(SHORT_LINK.c.code == code)).first()
    return None if row is None else _view(row)
