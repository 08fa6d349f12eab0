"""Who looks after which client: the retailer's assignment rules, and the pure planner that applies them.

The rules (each can be switched per retailer, see :class:`AssignmentRules`):

1. **Clients already assigned keep their associate** unless that associate is inactive (left,
   on leave): their clients go back through the rules below.
2. **Store clients** — anyone with a store sale (a non-cancelled order in a store channel) — go
   to the associate credited with most of those sales (``sales_order.associate_id``; ties go to
   the most recent sale, then the lowest id). Only active associates count.
3. If nobody active is credited (sales rung up without an associate, or the credited associate
   is the one leaving), the client goes to the **team of their store** — the home store, else the
   store of most of their store sales — fewest clients first.
4. **Online-only clients** (no store sale) go to an **online expert** (an active
   ``virtual_associate``) whose ``regions`` cover the client: a state ("US-CA") before a country
   ("US"). The client's place is the primary address (region + country), else the profile's
   country. Among the experts covering it, the one with the fewest clients takes the next
   client (ties by id), clients taken in id order, so a run is reproducible.

Anyone the rules cannot place (no expert covers their country, no address at all) stays
unassigned and is counted with the reason, for a manager to look at.

The planner here is pure — lists in, placements out — so the rules are tested without a
database; :mod:`rapport.clientbook.service` gathers the inputs with a few set-based queries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: How a placement was decided (stored in the timeline entry's data and the audit detail).
STORE_SALES, STORE_TEAM, ONLINE_REGION, MANUAL = "store_sales", "store_team", "online_region", "manual"
ROLE_LABELS = {
    "virtual_associate": "online expert",
    "associate": "store associate",
    "store_manager": "store manager",
    "admin": "head office",
}
STORE_ROLES = ("associate", "store_manager")


class AssignmentRules(BaseSettings):
    """The retailer's assignment rules; environment variables ``RAPPORT_CLIENTBOOK_*`` (or ``.env``).

    Rapport serves one retailer per deployment, so these are the retailer's settings; the
    defaults are the rules above. Example: ``RAPPORT_CLIENTBOOK_STORE_CHANNELS='["store","phone"]'``
    credits phone orders taken by a store associate as store sales.
    """

    model_config = SettingsConfigDict(env_prefix="RAPPORT_CLIENTBOOK_", env_file=".env", extra="ignore")

    online_to_virtual: bool = Field(
        default=True, description="Online-only clients go to online experts covering their region."
    )
    store_to_top_seller: bool = Field(
        default=True, description="Store clients go to the associate credited with most of their store sales."
    )
    store_team_fallback: bool = Field(
        default=True,
        description="Store clients with no active credited associate go to their store's team, fewest clients first.",
    )
    store_channels: tuple[str, ...] = Field(default=("store",), description="Order channels that are store sales.")
    clients_without_orders: Literal["online", "skip"] = Field(
        default="online",
        description="A client with no order yet (a newsletter sign-up, a web account) is served online, or left.",
    )
    notify: bool = Field(default=True, description="Tell each associate about their new clients (one notification).")


@lru_cache(maxsize=1)
def get_rules() -> AssignmentRules:
    return AssignmentRules()


# -- the planner -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientFacts:
    """What the rules need to know about one client, gathered in bulk by the service."""

    id: int
    store_sales: int = 0
    top_seller_id: int | None = None
    any_orders: bool = False
    store_id: int | None = None
    country: str | None = None
    region: str | None = None


@dataclass
class Staff:
    """An active associate who can receive clients, with the size of their book right now."""

    id: int
    role: str
    load: int = 0
    regions: frozenset[str] = frozenset()
    stores: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Placement:
    customer_id: int
    associate_id: int
    rule: str
    #: The region an online expert was chosen for ("US-CA", "US"), or None.
    region: str | None = None


@dataclass
class Plan:
    placements: list[Placement] = field(default_factory=list)
    #: Clients left where they are, by reason.
    unplaced: Counter[str] = field(default_factory=Counter)


def place_code(country: str | None, region: str | None) -> tuple[str | None, str | None]:
    """``(state, country)`` codes for an address: ``("US-CA", "US")``, ``(None, "FR")`` or ``(None, None)``.

    A region written as a code ("CA") or already qualified ("US-CA") gives the same state code;
    a region spelled out ("Île-de-France") gives a code no expert lists unless they list it so.
    """
    country_code = (country or "").strip().upper() or None
    if country_code is None:
        return None, None
    sub = (region or "").strip().upper()
    if not sub:
        return None, country_code
    return (sub if sub.startswith(country_code + "-") else f"{country_code}-{sub}"), country_code


def normalise_regions(regions: Iterable[str] | None) -> frozenset[str]:
    return frozenset(r.strip().upper() for r in regions or () if r and r.strip())


def plan(clients: Sequence[ClientFacts], staff: Sequence[Staff], rules: AssignmentRules) -> Plan:
    """Place each client (in id order) by the rules; ``staff`` loads grow as clients are placed."""
    by_region: dict[str, list[Staff]] = {}
    by_store: dict[int, list[Staff]] = {}
    known = {s.id: s for s in staff}
    for s in staff:
        if s.role == "virtual_associate":
            for r in s.regions:
                by_region.setdefault(r, []).append(s)
        elif s.role in STORE_ROLES:
            for store in s.stores:
                by_store.setdefault(store, []).append(s)
    out = Plan()
    for c in sorted(clients, key=lambda c: c.id):
        if c.store_sales:
            _place_store_client(c, known, by_store, rules, out)
        elif not c.any_orders and rules.clients_without_orders == "skip":
            out.unplaced["no order yet"] += 1
        elif not rules.online_to_virtual:
            out.unplaced["online-only clients are not assigned"] += 1
        else:
            _place_online_client(c, by_region, out)
    return out


def _least_loaded(pool: list[Staff]) -> Staff:
    pick = min(pool, key=lambda s: (s.load, s.id))
    pick.load += 1
    return pick


def _place_store_client(
    c: ClientFacts, known: dict[int, Staff], by_store: dict[int, list[Staff]], rules: AssignmentRules, out: Plan
) -> None:
    if rules.store_to_top_seller and c.top_seller_id is not None and c.top_seller_id in known:
        known[c.top_seller_id].load += 1
        out.placements.append(Placement(c.id, c.top_seller_id, STORE_SALES))
        return
    team = by_store.get(c.store_id) if c.store_id is not None and rules.store_team_fallback else None
    if team:
        out.placements.append(Placement(c.id, _least_loaded(team).id, STORE_TEAM))
    else:
        out.unplaced["store client with no active credited associate or store team"] += 1


def _place_online_client(c: ClientFacts, by_region: dict[str, list[Staff]], out: Plan) -> None:
    state, country = place_code(c.country, c.region)
    if country is None:
        out.unplaced["online client with no country"] += 1
        return
    matched = state if state is not None and state in by_region else country
    pool = by_region.get(matched)
    if not pool:
        out.unplaced[f"no online expert covers {country}"] += 1
        return
    out.placements.append(Placement(c.id, _least_loaded(pool).id, ONLINE_REGION, matched))
