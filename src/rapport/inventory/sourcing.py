"""Where an order's goods come from: the sourcing rules for ship from store, endless aisle and transfers.

The rules (:class:`SourcingRules`), each deciding only between locations the ones before it left tied:

1. **Full lines only.** A location takes a line only if it can promise the line's whole quantity
   (available to promise = on hand - reserved - safety stock); a line is never split across parcels.
2. **Fewest parcels** (``fewest_parcels``): the location that can take the most of the lines still
   to place — one location for the whole order whenever one can promise all of it.
3. **Nearest** (``nearest``): the location nearest the destination, great-circle (haversine) between
   latitude and longitude. The destination is the pickup store for a pickup or a transfer, and for
   shipping to a client the store where the order was taken; without one (an online order shipped
   home) or without coordinates this rule ties, and the next one decides — warehouses first.
4. **Warehouses first** (``warehouse_first``, order of :attr:`SourcingRules.kinds`): shipping from a
   store takes from what its clients can buy on the floor, so a warehouse is asked first.
5. **Most available** (``most_available``): the location with the most units available of the lines it
   would take (what is left there after the order is the largest).

The last tie is broken by location code, so the same stock always gives the same plan. The order of
rules 2-5 is :attr:`SourcingRules.criteria`: a retailer that prefers the nearest store over fewer
parcels puts ``nearest`` first.

Who may send: shipping to a client needs ``fulfils_online`` (warehouses by default, stores that ship
from store); a transfer to a store can come from any location but that store.

The choice itself (:func:`choose`) is pure — lines, locations and availability in, parcels out — and
greedy: take the best location by the rules, give it every remaining line it can promise, repeat.
Lines nobody can promise come back as ``unplaced``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport.db import table_of
from rapport.inventory import stock
from rapport.inventory.models import Location

LOCATION = table_of(Location)
EARTH_RADIUS_KM = 6371.0088
CRITERIA = ("fewest_parcels", "nearest", "warehouse_first", "most_available")


@dataclass(frozen=True)
class SourcingRules:
    """The order in which sourcing prefers locations (see the module docstring)."""

    criteria: tuple[str, ...] = CRITERIA
    #: ``warehouse_first`` ranks kinds in this order (kinds not listed come last).
    kinds: tuple[str, ...] = ("warehouse", "store")

    def __post_init__(self) -> None:
        unknown = [c for c in self.criteria if c not in CRITERIA]
        if unknown:
            raise ValueError(f"unknown sourcing criteria {unknown}; known: {', '.join(CRITERIA)}")


DEFAULT_RULES = SourcingRules()


@dataclass(frozen=True)
class Need:
    """One order line to place: its units of one SKU."""

    order_line_id: int
    product_id: int
    quantity: int


@dataclass(frozen=True)
class Site:
    """A location as sourcing sees it."""

    id: int
    code: str
    name: str
    kind: str
    latitude: float | None
    longitude: float | None
    fulfils_online: bool
    accepts_pickup: bool
    timezone: str = "UTC"

    @property
    def point(self) -> tuple[float, float] | None:
        if self.latitude is None or self.longitude is None:
            return None
        return (self.latitude, self.longitude)


@dataclass
class Parcel:
    """The lines one location sends."""

    site: Site
    needs: list[Need]
    distance_km: float | None = None


@dataclass
class Plan:
    parcels: list[Parcel] = field(default_factory=list)
    unplaced: list[Need] = field(default_factory=list)
    #: Per SKU, the most any one allowed location could promise (what a refusal can honestly say).
    best_available: dict[int, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.unplaced


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def coverable(needs: Sequence[Need], atp: dict[int, int]) -> list[Need]:
    """The lines one location can promise in full, in order; two lines of one SKU share its units."""
    used: dict[int, int] = defaultdict(int)
    out = []
    for n in needs:
        if used[n.product_id] + n.quantity <= atp.get(n.product_id, 0):
            used[n.product_id] += n.quantity
            out.append(n)
    return out


def choose(
    needs: Sequence[Need],
    sites: Iterable[Site],
    available: dict[tuple[int, int], int],
    *,
    destination: tuple[float, float] | None = None,
    rules: SourcingRules = DEFAULT_RULES,
) -> Plan:
    """Place ``needs`` on ``sites`` (already filtered to those allowed to send) by the rules.

    ``available`` is available to promise per (product id, location id).
    """
    candidates = list(sites)
    per_site: dict[int, dict[int, int]] = {s.id: {} for s in candidates}
    for (pid, lid), units in available.items():
        if lid in per_site:
            per_site[lid][pid] = units
    distances = {
        s.id: haversine_km(destination, s.point) if destination is not None and s.point is not None else None
        for s in candidates
    }
    kind_rank = {k: i for i, k in enumerate(rules.kinds)}
    plan = Plan()
    for n in needs:
        plan.best_available[n.product_id] = max((per_site[s.id].get(n.product_id, 0) for s in candidates), default=0)
    remaining = list(needs)
    while remaining and candidates:
        best: tuple[tuple[float, ...], Site, list[Need]] | None = None
        for site in candidates:
            takes = coverable(remaining, per_site[site.id])
            if not takes:
                continue
            ranks = {
                "fewest_parcels": -len(takes),
                "nearest": _distance_rank(distances[site.id], destination),
                "warehouse_first": kind_rank.get(site.kind, len(kind_rank)),
                "most_available": -sum(per_site[site.id].get(pid, 0) for pid in {n.product_id for n in takes}),
            }
            key = tuple(float(ranks[c]) for c in rules.criteria)
            if best is None or (key, site.code) < (best[0], best[1].code):
                best = (key, site, takes)
        if best is None:
            break
        _, site, takes = best
        plan.parcels.append(Parcel(site, takes, distances[site.id]))
        taken = {id(n) for n in takes}
        remaining = [n for n in remaining if id(n) not in taken]
        candidates = [s for s in candidates if s.id != site.id]
    plan.unplaced = remaining
    return plan


def _distance_rank(distance: float | None, destination: tuple[float, float] | None) -> float:
    if destination is None:
        return 0.0  # nowhere to be near: the rule ties
    return distance if distance is not None else math.inf  # no coordinates: after every known distance


# -- reading what the choice needs ---------------------------------------------------------------


def sites(session: Session, ids: Iterable[int] | None = None) -> dict[int, Site]:
    """Locations by id (every location without ``ids``: a retailer has hundreds, not millions)."""
    loc = LOCATION.c
    stmt = select(
        loc.id, loc.code, loc.name, loc.kind, loc.latitude, loc.longitude, loc.fulfils_online, loc.accepts_pickup,
        loc.timezone,
    )  # fmt: skip
    if ids is not None:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        stmt = stmt.where(loc.id.in_(wanted))
    return {
        r.id: Site(
            r.id,
            r.code,
            r.name,
            r.kind,
            float(r.latitude) if r.latitude is not None else None,
            float(r.longitude) if r.longitude is not None else None,
            bool(r.fulfils_online),
            bool(r.accepts_pickup),
            r.timezone or "UTC",
        )
        for r in session.execute(stmt)
    }


def site_by_code(session: Session, code: str) -> Site | None:
    row = session.execute(select(LOCATION.c.id).where(LOCATION.c.code == code)).first()
    return sites(session, [row.id])[row.id] if row is not None else None


def source(
    session: Session,
    needs: Sequence[Need],
    *,
    to_client: bool,
    destination: Site | None,
    exclude: Iterable[int] = (),
    rules: SourcingRules = DEFAULT_RULES,
    known_sites: dict[int, Site] | None = None,
) -> Plan:
    """Read the locations and what they can promise of these lines, then :func:`choose` (three statements)."""
    if not needs:
        return Plan()
    everywhere = known_sites if known_sites is not None else sites(session)
    skip = set(exclude)
    allowed = [s for s in everywhere.values() if s.id not in skip and (s.fulfils_online or not to_client)]
    products = sorted({n.product_id for n in needs})
    atp = stock.available(session, [(p, s.id) for p in products for s in allowed])
    return choose(needs, allowed, atp, destination=destination.point if destination else None, rules=rules)
