"""What each demo client did: orders on every channel, returns, and the signals in between.

History for a person comes from its own ``random.Random`` (seeded from the demo seed and the
person's number), so it does not depend on how many other people were generated or in what
order they are loaded. Every date lies before the demo's anchor (the start of today, UTC),
except when a booked appointment starts.

A person's recent stories (:data:`rapport.demo.people.STORIES`) are acted out from yet another
stream of their own, after the rest of their history, which they leave as it was (except a
newcomer's: it starts a few days ago).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rapport.demo.catalog import COLOURS, SALES_TAX, SHOPS, STORE_BY_CODE, Staff, Store, Style, local_price
from rapport.demo.people import (
    APPOINTMENT,
    APPOINTMENT_LATER,
    BACK_IN_STOCK,
    HIGH_INTENT,
    NAMES,
    NEWCOMER,
    Person,
    ascii_name,
)

CENT = Decimal("0.01")
SHIPPING = {"USD": ("15", "250"), "CAD": ("20", "350"), "GBP": ("10", "200"), "EUR": ("12", "250"),
            "JPY": ("1500", "30000"), "AED": ("50", "900"), "AUD": ("20", "350")}  # fmt: skip
RETURN_REASONS = (
    "Too long",
    "Too small",
    "Too big",
    "Colour not as pictured",
    "Changed my mind",
    "Fabric feels different",
    "Faulty zip",
    "Bought two sizes, kept one",
    "Gift — not to taste",
)
TRY_ON_REASONS = (
    "Sleeves too long",
    "Wanted it in another colour",
    "Thinking about it",
    "Over budget today",
    "Will come back with her partner",
    "Fit not right in the shoulders",
    "Waiting for the pre-sale",
)
APPOINTMENT_PURPOSES = (
    "looking for a wedding outfit",
    "a new wardrobe for the season",
    "choosing a birthday gift for their partner",
    "final fitting of the made-to-order coat",
    "a look for a gala evening",
    "packing for a long trip abroad",
    "a suit for a new job",
)
COMMENTS = ("Need this in {colour}! 😍", "Is this available in Paris?", "Obsessed with the {name}",
            "Does it run small?", "Perfect for my sister's wedding", "Restock please 🙏")  # fmt: skip


@dataclass
class History:
    orders: list[dict[str, Any]] = field(default_factory=list)
    returns: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Stock counts this person's story brings (a wished-for item counted back in stock).
    stock: list[dict[str, Any]] = field(default_factory=list)


def _q(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1) if currency == "JPY" else CENT, rounding=ROUND_HALF_UP)


class HistoryMaker:
    """Orders, returns and signals for people, against a given catalogue and team."""

    def __init__(
        self,
        seed: int,
        anchor: datetime,
        styles: Sequence[Style],
        prices: dict[str, Decimal],
        staff: Sequence[Staff],
        sold_out: dict[str, list[str]] | None = None,
    ) -> None:
        self.seed = seed
        self.anchor = anchor
        self.prices = prices
        #: location code -> the SKUs counted at none there (what a delivery can bring back)
        self.sold_out = sold_out or {}
        self.style_of: dict[str, tuple[Style, str | None]] = {
            sku: (s, size) for s in styles for sizes in s.skus.values() for size, sku in sizes.items()
        }
        self.by_family: dict[str, list[Style]] = {}
        self.active_by_family: dict[str, list[Style]] = {}
        for s in styles:
            self.by_family.setdefault(s.family, []).append(s)
            if s.active:
                self.active_by_family.setdefault(s.family, []).append(s)
        self.style_names = {s.code: s.name for s in styles}
        self._taste_of: tuple[int, tuple[list[str], list[float]]] = (-1, ([], []))
        self.staff_by_store: dict[str, list[str]] = {}
        for st in staff:
            if st.home_store and st.role in ("associate", "store_manager"):
                self.staff_by_store.setdefault(st.home_store, []).append(st.code)

    # -- the person's story -------------------------------------------------------------------
    def for_person(self, p: Person) -> History:
        rng = random.Random(f"rapport-demo:{self.seed}:history:{p.index}")
        h = History()
        start = p.since
        span = (self.anchor - timedelta(hours=2) - start).total_seconds()
        if p.vip:
            n = rng.randint(18, 45)
        elif rng.random() < 0.08:
            n = 0  # a prospect: browses, wishes, never bought yet
        else:
            n = min(20, 1 + int(rng.expovariate(1 / 2.8)))
        times = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(n))
        if NEWCOMER in p.stories:
            times = times[:1]  # new this week: a first purchase at most
        bought: set[str] = set()
        for k, when in enumerate(times):
            order = self._order(rng, p, k, when)
            h.orders.append(order)
            bought.update(line["sku"] for line in order["lines"])
        self._replenishment(rng, p, h, bought)
        for order in h.orders:
            ret = self._maybe_return(rng, p, order)
            if ret:
                h.returns.append(ret)
        if p.pos_id and rng.random() < 0.004 and NEWCOMER not in p.stories:
            h.returns.append(self._unlinked_return(rng, p))
        self._signals(rng, p, h, bought)
        self._guests(rng, p, h)
        self._recent(p, h, bought)
        return h

    # -- orders ---------------------------------------------------------------------------------
    def _channel(self, rng: random.Random, p: Person) -> str:
        if p.segment == "online":
            return "app" if rng.random() < 0.12 else "online"
        if p.segment == "store":
            return "phone" if p.assigned and rng.random() < 0.07 else "store"
        roll = rng.random()
        if roll < 0.44:
            return "online"
        if roll < 0.49:
            return "app"
        if roll < 0.52 and p.assigned:
            return "phone"
        if roll < 0.54 and p.instagram:
            return "social"
        return "store"

    def _order(
        self,
        rng: random.Random,
        p: Person,
        k: int,
        when: datetime,
        skus: list[str] | None = None,
        channel: str | None = None,
        store: str | None = None,
    ) -> dict[str, Any]:
        channel = channel or self._channel(rng, p)
        in_store = channel in ("store", "phone")
        if in_store and store is None:
            travelling = rng.random() < 0.08
            store = rng.choice(SHOPS).code if travelling else (p.home_store or rng.choice(SHOPS).code)
        if store is not None:
            when = self._in_hours(rng, when, store)
        currency = STORE_BY_CODE[store].currency if store else p.currency
        lines = []
        for n, sku in enumerate(skus or self._basket(rng, p, when)):
            qty = 2 if rng.random() < (0.15 if "-TS-" in sku or "-SKN-" in sku else 0.02) else 1
            unit = local_price(self.prices[sku], currency)
            line: dict[str, Any] = {"id": str(n + 1), "sku": sku, "quantity": qty, "unit_price": unit}
            if rng.random() < 0.12:
                line["discount"] = _q(unit * qty * Decimal(rng.choice((10, 15, 20))) / 100, currency)
            lines.append(line)
        subtotal = sum((ln["unit_price"] * ln["quantity"] - ln.get("discount", 0) for ln in lines), Decimal(0))
        order: dict[str, Any] = {"channel": channel, "currency": currency, "placed_at": when, "lines": lines}
        if in_store:
            assert store is not None
            order.update(
                source="pos",
                id=f"{store}-{when:%y%m%d}-{p.index:06d}{k:03d}",
                order_number=f"R{when:%y%m%d}{p.index % 10000:04d}{k:03d}",
                store=store,
            )
            staff = self.staff_by_store[store]
            order["associate"] = p.assigned if p.assigned in staff and rng.random() < 0.7 else rng.choice(staff)
            region = STORE_BY_CODE[store].region
            if rng.random() < 0.04 and channel == "store":
                order["customer"] = None  # paid without giving a name: a guest sale
            elif p.loyalty_id and rng.random() < 0.3:
                order["customer"] = p.ref("loyalty")
            else:
                order["customer"] = p.ref("pos") if p.pos_id else p.ref("loyalty")
        else:
            source = "instagram" if channel == "social" else "shopify"
            order.update(
                source=source,
                id=f"{7_100_000_000_000 + p.index * 1000 + k}",
                order_number=f"#{1_000_000 + p.index * 1000 + k}",
            )
            if channel == "social":
                order["customer"] = p.ref("instagram")
            elif p.shopify_id and rng.random() > 0.05:
                order["customer"] = p.ref("shopify")
            else:  # guest checkout with the same email
                order["customer"] = {"email": p.email, "first_name": p.first_name, "last_name": p.last_name}
            region = p.city.region
            threshold = Decimal(SHIPPING[currency][1])
            order["shipping"] = Decimal(0) if subtotal >= threshold else Decimal(SHIPPING[currency][0])
            if p.assigned and p.assigned.startswith("ONLINE") and rng.random() < 0.3:
                order["associate"] = p.assigned  # an online expert's curated look, credited
        rate = SALES_TAX.get(region or "") if currency in ("USD", "CAD") else None
        if rate:
            order["tax"] = _q(subtotal * rate, currency)
        if channel in ("online", "app") and rng.random() < 0.015:
            order["status"] = "cancelled"
        return order

    def _basket(self, rng: random.Random, p: Person, when: datetime) -> list[str]:
        size = rng.choices((1, 2, 3, 4), weights=(60, 27, 10, 3))[0]
        recent = (self.anchor - when).days < 150
        skus: list[str] = []
        for _ in range(size):
            sku = self.pick(rng, p, recent)
            if sku not in skus:
                skus.append(sku)
        return skus

    def pick(self, rng: random.Random, p: Person, recent: bool = True) -> str:
        """A SKU this person would plausibly choose: their families, colours and sizes."""
        families, weights = self._taste(p)
        family = rng.choices(families, cum_weights=weights)[0]
        pool = (self.active_by_family if recent else self.by_family)[family]
        style = rng.choice(pool)
        colours = list(style.skus)
        liked = [c for c in colours if COLOURS.get(c) in p.preferences["colours"]]
        colour = rng.choice(liked) if liked and rng.random() < 0.6 else rng.choice(colours)
        sizes = style.skus[colour]
        if style.family == "rtw":
            want = p.sizes["bottoms"] if style.category in ("Trousers", "Skirts", "Denim") else p.sizes["tops"]
            return sizes.get(want) or next(iter(sizes.values()))
        if style.family == "shoes":
            return sizes.get(p.sizes["shoes"]) or next(iter(sizes.values()))
        return rng.choice(list(sizes.values()))

    def _taste(self, p: Person) -> tuple[list[str], list[float]]:
        if self._taste_of[0] != p.index:
            families = sorted(p.affinity)
            total, cum = 0.0, []
            for f in families:
                total += p.affinity[f]
                cum.append(total)
            self._taste_of = (p.index, (families, cum))
        return self._taste_of[1]

    def _replenishment(self, rng: random.Random, p: Person, h: History, bought: set[str]) -> None:
        """A beauty regular re-buys their usual product about every ``replenishment_days``."""
        if "beauty-lover" not in p.tags or rng.random() < 0.6:
            return
        family = "fragrance" if p.affinity["fragrance"] >= p.affinity["skincare"] else "skincare"
        style = rng.choice(self.active_by_family[family])
        sku = rng.choice(style.all_skus())
        every = timedelta(days=style.replenishment_days or 60)
        # The latest purchase lands so that the next one falls due between 10 days ago and 3 weeks ahead.
        when = self.anchor - every + timedelta(days=rng.randint(-10, 21), hours=rng.randint(-6, 6))
        stamps: list[datetime] = []
        while when > p.since and len(stamps) < 6:
            stamps.append(when)
            when -= every * rng.uniform(0.85, 1.15)
        channel = "online" if p.segment == "online" else None
        for n, stamp in enumerate(reversed(stamps)):
            h.orders.append(
                self._order(rng, p, 100 + n, min(stamp, self.anchor - timedelta(hours=3)), skus=[sku], channel=channel)
            )
        if stamps:
            bought.add(sku)

    # -- returns --------------------------------------------------------------------------------
    def _maybe_return(self, rng: random.Random, p: Person, order: dict[str, Any]) -> dict[str, Any] | None:
        if order.get("status") == "cancelled" or (order.get("customer") is None and rng.random() < 0.5):
            return None
        online = order["source"] != "pos"
        if rng.random() >= (0.17 if online else 0.06):
            return None
        keep = [ln for ln in order["lines"] if "-FR-" not in ln["sku"] and "-SKN-" not in ln["sku"]]
        if not keep:
            return None
        when = order["placed_at"] + timedelta(days=rng.randint(2, 28), hours=rng.randint(0, 8))
        if when >= self.anchor - timedelta(hours=1):
            return None
        chosen = keep if rng.random() < 0.25 else [rng.choice(keep)]
        lines = []
        for ln in chosen:
            qty = ln["quantity"] if rng.random() < 0.8 else 1
            paid = ln["unit_price"] * ln["quantity"] - ln.get("discount", Decimal(0))
            refund = _q(paid * qty / ln["quantity"], order["currency"])
            lines.append({"order_line": ln["id"], "sku": ln["sku"], "quantity": qty, "refund": refund})
        ret: dict[str, Any] = {
            "id": f"RT-{order['id']}", "order_id": order["id"], "currency": order["currency"],
            "returned_at": when, "reason": rng.choice(RETURN_REASONS), "lines": lines,
            "customer": order.get("customer"),
        }  # fmt: skip
        if not online:
            ret.update(source="pos", channel="store", store=order["store"])
            ret["returned_at"] = _opening_hours(rng, when, STORE_BY_CODE[order["store"]].timezone)
        elif p.home_store and rng.random() < 0.4 and STORE_BY_CODE[p.home_store].currency == order["currency"]:
            # Bought online, brought back to the store: the till looks the web order up.
            ret.update(
                source="pos",
                order_source=order["source"],
                channel="store",
                store=p.home_store,
                id=f"RT-{p.home_store}-{order['id']}",
            )
            ret["returned_at"] = _opening_hours(rng, when, STORE_BY_CODE[p.home_store].timezone)
        else:
            ret.update(source=order["source"], channel="online")
        if not order["placed_at"] < ret["returned_at"] < self.anchor - timedelta(hours=1):
            return None
        return ret

    def _unlinked_return(self, rng: random.Random, p: Person) -> dict[str, Any]:
        """A receipt from before the data starts: kept, flagged as unlinked."""
        store = p.home_store or SHOPS[0].code
        sku = self.pick(rng, p, recent=False)
        currency = STORE_BY_CODE[store].currency
        when = self._in_hours(rng, p.since + timedelta(days=rng.randint(1, 20)), store)
        return {
            "source": "pos", "id": f"RT-OLD-{store}-{p.index:06d}", "order_id": f"{store}-LEGACY-{p.index:06d}",
            "channel": "store", "store": store, "customer": p.ref("pos"), "currency": currency,
            "returned_at": when, "reason": "Receipt from the previous till system",
            "lines": [{"sku": sku, "quantity": 1, "refund": local_price(self.prices[sku], currency)}],
        }  # fmt: skip

    # -- signals --------------------------------------------------------------------------------
    def _in_hours(self, rng: random.Random, when: datetime, store: str) -> datetime:
        """Moved into the store's opening hours that day, and never later than the anchor."""
        moved = _opening_hours(rng, when, STORE_BY_CODE[store].timezone)
        while moved >= self.anchor - timedelta(minutes=30):
            moved -= timedelta(days=1)
        return moved

    def _when(self, rng: random.Random, p: Person, within_days: int) -> datetime:
        earliest = max(p.since, self.anchor - timedelta(days=within_days))
        span = (self.anchor - timedelta(minutes=30) - earliest).total_seconds()
        return earliest + timedelta(seconds=rng.uniform(0, max(span, 60)))

    def _event(self, h: History, p: Person, kind: str, n: int, **values: Any) -> None:
        values.setdefault("source", "shopify")
        values.setdefault("customer", p.ref(values["source"]))
        h.events.append({"id": f"{kind}-{p.index:06d}-{n:02d}", "type": kind, **values})

    def _signals(self, rng: random.Random, p: Person, h: History, bought: set[str]) -> None:
        web = bool(p.shopify_id)
        if web:
            views = rng.randint(0, 10 if p.vip else 4)
            for n in range(views):
                self._event(
                    h,
                    p,
                    "product_view",
                    n,
                    occurred_at=self._when(rng, p, 90),
                    channel=rng.choice(("online", "online", "app")),
                    sku=self.pick(rng, p),
                )
            if rng.random() < 0.28:
                wished = [self.pick(rng, p) for _ in range(rng.randint(1, 4))]
                for n, sku in enumerate(dict.fromkeys(wished)):
                    when = self._when(rng, p, 240)
                    self._event(h, p, "wishlist_add", n, occurred_at=when, channel="online", sku=sku)
                    if rng.random() < 0.15 and when < self.anchor - timedelta(days=2):
                        self._event(
                            h,
                            p,
                            "wishlist_remove",
                            n,
                            channel="online",
                            sku=sku,
                            occurred_at=when + timedelta(days=rng.uniform(0.5, 1.5)),
                        )
            if rng.random() < 0.12:
                sku = self.pick(rng, p)
                when = self._when(rng, p, 45)
                self._event(h, p, "cart_add", 0, occurred_at=when, channel="online", sku=sku)
                if when < self.anchor - timedelta(hours=6):
                    self._event(
                        h,
                        p,
                        "cart_abandoned",
                        0,
                        occurred_at=when + timedelta(hours=rng.uniform(1, 5)),
                        channel="online",
                        sku=sku,
                        summary="Left the basket without paying",
                        data={"skus": [sku]},
                    )
        if p.home_store and rng.random() < (0.6 if p.vip else 0.2):
            staff = self.staff_by_store[p.home_store]
            for n in range(rng.randint(1, 3)):
                if n and NEWCOMER in p.stories:
                    break  # one visit so far
                sku = self.pick(rng, p)
                if sku in bought:
                    continue
                when = self._in_hours(rng, self._when(rng, p, 180), p.home_store)
                reason = rng.choice(TRY_ON_REASONS)
                self._event(
                    h,
                    p,
                    "try_on",
                    n,
                    source="store-app",
                    customer=p.ref("pos"),
                    occurred_at=when,
                    channel="store",
                    store=p.home_store,
                    sku=sku,
                    associate=p.assigned or rng.choice(staff),
                    summary=f"Tried on, did not buy: {reason.lower()}",
                    data={"reason": reason},
                )
            if rng.random() < 0.15:
                when = self._in_hours(rng, self._when(rng, p, 120), p.home_store)
                self._event(
                    h,
                    p,
                    "appointment",
                    0,
                    source="store-app",
                    customer=p.ref("pos"),
                    occurred_at=when,
                    channel="store",
                    store=p.home_store,
                    associate=p.assigned or rng.choice(staff),
                    summary=rng.choice(
                        (
                            "Private styling appointment",
                            "Bridal consultation",
                            "Made-to-order fitting",
                            "Wardrobe edit for the season",
                        )
                    ),
                )
        if p.instagram:
            for n in range(rng.randint(1, 6)):
                sku = self.pick(rng, p)
                style = "-".join(sku.split("-")[:3])
                post = f"https://instagram.example/p/{style.lower()}"
                kind = rng.choices(("social_like", "social_comment", "social_mention"), weights=(6, 3, 1))[0]
                values: dict[str, Any] = {
                    "source": "instagram",
                    "channel": "social",
                    "sku": sku,
                    "occurred_at": self._when(rng, p, 120),
                    "data": {"post": post},
                }
                if kind == "social_comment":
                    text = rng.choice(COMMENTS).format(
                        colour=rng.choice(p.preferences["colours"]), name=self.style_names[style]
                    )
                    values["summary"] = f"Commented: “{text}”"
                    values["data"]["text"] = text
                elif kind == "social_mention":
                    city = p.city.name
                    values["summary"] = f"Mentioned @maisonrapport: wearing it in {city}"
                else:
                    values["summary"] = "Liked a post"
                self._event(h, p, kind, n, **values)

    # -- the last few days ------------------------------------------------------------------------
    def _recent(self, p: Person, h: History, bought: set[str]) -> None:
        """Act out the person's recent stories (a newcomer's is their start date, set already)."""
        if not p.stories - {NEWCOMER}:
            return
        rng = random.Random(f"rapport-demo:{self.seed}:recent:{p.index}")
        if HIGH_INTENT in p.stories:
            self._buying_signals(rng, p, h, bought)
        if BACK_IN_STOCK in p.stories:
            self._wish_back_in_stock(rng, p, h, bought)
        if APPOINTMENT in p.stories or APPOINTMENT_LATER in p.stories:
            self._booked_appointment(rng, p, h, 1 if APPOINTMENT in p.stories else 2)

    def _buying_signals(self, rng: random.Random, p: Person, h: History, bought: set[str]) -> None:
        """Liked it on Instagram, looked it up on the web shop, left it in the basket: the last two days."""
        lately = self.anchor - timedelta(days=4)
        recent = {self.style_of[ln["sku"]][0].code for o in h.orders if o["placed_at"] >= lately for ln in o["lines"]}
        for _ in range(20):
            sku = self.pick(rng, p)
            style = self.style_of[sku][0]
            if sku not in bought and style.code not in recent:
                break
        else:
            return
        liked = self.anchor - timedelta(hours=rng.uniform(30, 46))
        viewed = liked + timedelta(hours=rng.uniform(2, 14))
        added = viewed + timedelta(minutes=rng.uniform(3, 25))
        left = added + timedelta(hours=rng.uniform(1, 4))
        self._event(
            h, p, "social_like", 90, source="instagram", channel="social", sku=sku, occurred_at=liked,
            summary="Liked a post", data={"post": f"https://instagram.example/p/{style.code.lower()}"},
        )  # fmt: skip
        channel = rng.choice(("online", "app"))
        self._event(h, p, "product_view", 90, occurred_at=viewed, channel=channel, sku=sku)
        self._event(h, p, "cart_add", 90, occurred_at=added, channel=channel, sku=sku)
        self._event(
            h, p, "cart_abandoned", 90, occurred_at=left, channel=channel, sku=sku,
            summary="Left the basket without paying", data={"skus": [sku]},
        )  # fmt: skip

    def _wish_back_in_stock(self, rng: random.Random, p: Person, h: History, bought: set[str]) -> None:
        """Wished for a sold-out item (in their size); a delivery counted last night brought it back.

        At their home store if one of its sold-out items suits them, else at the warehouse that
        serves their country (back online).
        """
        places = [p.home_store] if p.home_store else []
        places.append("WH-US-NJ" if p.country in ("US", "CA") else "WH-EU-FR")
        for place in places:
            pool = [sku for sku in self.sold_out.get(place, ()) if sku not in bought and self._fits(p, sku)]
            if pool:
                break
        else:
            return
        weights = [p.affinity.get(self.style_of[sku][0].family, 0.1) for sku in pool]
        sku = rng.choices(pool, weights=weights)[0]
        style = self.style_of[sku][0]
        wished = max(p.since + timedelta(hours=1), self.anchor - timedelta(days=rng.uniform(4, 40)))
        if p.shopify_id:
            self._event(h, p, "wishlist_add", 90, occurred_at=wished, channel="online", sku=sku)
        else:  # asked in store: the associate added it from the store app
            assert p.home_store is not None
            wished = self._in_hours(rng, wished, p.home_store)
            self._event(
                h, p, "wishlist_add", 90, source="store-app", customer=p.ref("pos"), occurred_at=wished,
                channel="store", store=p.home_store, sku=sku,
                associate=p.assigned or rng.choice(self.staff_by_store[p.home_store]),
                summary=f"Asked to hear when the {style.name} is back in their size",
            )  # fmt: skip
        store = STORE_BY_CODE[place]
        delivered = self.anchor - timedelta(minutes=rng.randint(20, 300))
        h.stock.append(
            {
                "sku": sku,
                "location": place,
                "on_hand": rng.randint(1, 3) if store.kind == "store" else rng.randint(6, 24),
                "counted_at": max(delivered, wished + timedelta(minutes=5)),
            }
        )

    def _fits(self, p: Person, sku: str) -> bool:
        """In the person's size (anything without a size fits)."""
        style, size = self.style_of[sku]
        if size is None or style.family not in ("rtw", "shoes"):
            return True
        if style.family == "shoes":
            return size == p.sizes["shoes"]
        bottoms = style.category in ("Trousers", "Skirts", "Denim")
        return size == p.sizes["bottoms" if bottoms else "tops"]

    def _booked_appointment(self, rng: random.Random, p: Person, h: History, days_ahead: int) -> None:
        """A styling appointment at the home store ``days_ahead`` days after the demo's day, booked lately."""
        assert p.home_store is not None
        store = STORE_BY_CODE[p.home_store]
        starts = self._slot(rng, store, days_ahead)
        booked = max(p.since, self.anchor - timedelta(hours=rng.uniform(3, 24 * 6)))
        purpose = rng.choice(APPOINTMENT_PURPOSES)
        values: dict[str, Any] = {
            "occurred_at": booked,
            "store": p.home_store,
            "data": {"starts_at": starts.isoformat(), "duration_minutes": 60, "purpose": purpose},
        }
        if p.shopify_id and rng.random() < 0.6:
            values.update(channel="online", summary=f"Styling appointment booked online: {purpose}")
        else:
            values.update(
                source="store-app",
                customer=p.ref("pos"),
                channel="phone",
                occurred_at=self._in_hours(rng, booked, p.home_store),
                associate=p.assigned or rng.choice(self.staff_by_store[p.home_store]),
                summary=f"Styling appointment booked by phone: {purpose}",
            )
        self._event(h, p, "appointment", 90, **values)

    def _slot(self, rng: random.Random, store: Store, days_ahead: int) -> datetime:
        """A half-hour slot in the store's hours (10:00 to 18:30 local) on that UTC day after the anchor."""
        tz = ZoneInfo(store.timezone)
        lo = self.anchor + timedelta(days=days_ahead)
        hi = lo + timedelta(days=1)
        slots = []
        for offset in (-1, 0, 1):
            day = (lo + timedelta(days=offset)).date()
            for hour in range(10, 19):
                for minute in (0, 30):
                    start = datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)
                    if lo <= start < hi:
                        slots.append(start)
        return rng.choice(slots)

    def _guests(self, rng: random.Random, p: Person, h: History) -> None:
        """Strangers around this person's number: an anonymous till sale, an online guest, a fan."""
        if rng.random() < 0.06:
            store = rng.choice(SHOPS).code
            order = self._order(
                rng, p, 900, self._when(rng, p, 700), skus=[self.pick(rng, p)], channel="store", store=store
            )
            order.update(
                customer=None, id=f"{store}-GUEST-{p.index:06d}", associate=rng.choice(self.staff_by_store[store])
            )
            h.orders.append(order)
        if rng.random() < 0.04:
            females, males, families = NAMES[p.culture]
            first, last = rng.choice(females + males), rng.choice(families)
            email = f"{ascii_name(first)}.{ascii_name(last)}.g{p.index}@example.org"
            when = self._when(rng, p, 500)
            order = self._order(rng, p, 901, when, skus=[self.pick(rng, p)], channel="online")
            order["customer"] = {"email": email, "first_name": first, "last_name": last, "country": p.country}
            order.pop("associate", None)
            h.orders.append(order)


def _opening_hours(rng: random.Random, when: datetime, tz: str) -> datetime:
    """The same day, moved into the store's opening hours (10:00-19:59 local time), in UTC."""
    local = when.astimezone(ZoneInfo(tz))
    local = local.replace(hour=rng.randint(10, 19), minute=rng.randint(0, 59), second=rng.randint(0, 59))
    return local.astimezone(when.tzinfo)
