"""The task rules: each turns facts already in Rapport into :class:`~rapport.tasks.service.Candidate` s.

Every rule is a handful of set-based statements whatever the number of clients (never a query
per client), takes its parameters from :func:`rapport.tasks.config.settings` and can be limited
to the clients an event touched (``customer_ids``). Rules propose; :func:`rapport.tasks.service.raise_tasks`
decides (consent, contact pressure, duplicates, routing). Each candidate's ``dedupe_key`` names
its occasion, so evaluating a rule twice raises nothing new.

:data:`RULES` is in the order a sweep runs them: the time-critical first, so that when a client
can take only so many outreach tasks, an item back in stock gets the slot before a lapsing nudge,
and a new client's welcome (a first impression, due within days) before routine follow-ups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from rapport.tasks.config import RuleSettings
from rapport.tasks.rules._common import RuleFunction
from rapport.tasks.rules.occasions import appointment_prep, milestone, upcoming_dates, welcome
from rapport.tasks.rules.purchases import lapsing, post_purchase, replenishment
from rapport.tasks.rules.signals import back_in_stock, find_sequence, high_intent, try_on_follow_up
from rapport.tasks.service import Candidate


@dataclass(frozen=True)
class Rule:
    name: str
    find: RuleFunction
    #: One line for ``rapport tasks rules``.
    summary: str


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("back_in_stock", back_in_stock, "A wishlist item is back at the client's store or online"),
        Rule("high_intent", high_intent, "A like, a view and an abandoned cart in a short window"),
        Rule("appointment_prep", appointment_prep, "Prepare the brief before an appointment"),
        Rule("welcome", welcome, "Introduce yourself to a client new in your book"),
        Rule("try_on_follow_up", try_on_follow_up, "Tried on, did not buy"),
        Rule("milestone", milestone, "An anniversary or a birthday coming up"),
        Rule("replenishment", replenishment, "A consumable probably running low"),
        Rule("post_purchase", post_purchase, "Check in a week after a large purchase"),
        Rule("lapsing", lapsing, "No purchase for longer than the client's own cadence"),
    )
}


def evaluate(
    session: Session,
    name: str,
    params: RuleSettings,
    *,
    now: datetime,
    customer_ids: Sequence[int] | None = None,
) -> Iterable[Candidate]:
    """One rule's candidates now (none when the retailer switched it off, or for an empty client set)."""
    if not params.enabled or (customer_ids is not None and not customer_ids):
        return []
    return RULES[name].find(session, params, now=now, customer_ids=customer_ids)


__all__ = ["RULES", "Rule", "evaluate", "find_sequence", "upcoming_dates"]
