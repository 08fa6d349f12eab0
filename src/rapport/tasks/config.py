"""The retailer's task settings: each rule's parameters, contact pressure and the focus list.

Defaults live here; a retailer's changes are rows of ``task_rule`` (only what differs). Every
value is checked against its default's type and range, so a typo cannot silently switch a rule
off or flood a team with tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.customers.models import CONSENT_CHANNELS, TIMELINE_KINDS
from rapport.errors import FieldError, InvalidRecord
from rapport.tasks.models import TaskRule

#: name -> default parameters. Rule names are task types; "pressure" and "focus" are settings.
DEFAULTS: dict[str, dict[str, Any]] = {
    "milestone": {
        "days_ahead": 7,  # raise the task this many days before the date
        "kinds": [],  # which milestone kinds (birthday, anniversary, ...); empty = all
        "include_birthday": True,  # the client's own birth date counts as a milestone
    },
    "back_in_stock": {
        "online": True,  # back online counts, as well as back at the client's home store
        "expires_after_days": 7,
    },
    "replenishment": {
        "days_before_due": 5,  # raise this many days before the product should run out
        "min_purchases_for_own_interval": 3,  # the client's own rhythm once bought this often
        "expires_after_days": 5,  # after the run-out date (they have likely bought elsewhere by then)
    },
    "try_on_follow_up": {
        "within_days": 3,  # follow up within N days of the try-on
        "lookback_days": 14,  # a try-on older than this is not followed up any more
    },
    "post_purchase": {
        "after_days": 7,
        "min_total_minor": 50000,  # purchases from this total (minor units of the order's currency)
        "expires_after_days": 7,
    },
    "lapsing": {
        "factor": 2.5,  # lapsing when the gap since the last purchase > usual cadence x factor
        "min_orders": 3,  # a cadence needs at least this many purchases
        "min_gap_days": 60,  # never call someone lapsing sooner than this
        "max_gap_days": 365,  # past this they are gone, not lapsing
        "expires_after_days": 30,
    },
    "high_intent": {
        "sequence": ["social_like", "product_view", "cart_abandoned"],  # in this order...
        "window_hours": 72,  # ...within this window
        "expires_after_days": 3,
    },
    "welcome": {
        "within_days": 14,  # welcome a newly assigned client within N days
    },
    "appointment_prep": {
        "days_before": 1,
    },
    "pressure": {
        "max_open_outreach": 2,  # never more open outreach tasks per client than this
        "cooldown_days": 7,  # after a contact, no new outreach for this long...
        "cadence_share": 0.25,  # ...or this share of the client's purchase cadence, if longer
        "channel_order": ["whatsapp", "sms", "email", "phone"],  # preferred channel, among consented
    },
    "focus": {
        "size": 5,  # tasks on the day's focus list
        "daily_goal": 5,  # tasks to complete per day
    },
}

#: (min, max) for numeric parameters; anything not listed must be >= 0.
_RANGES: dict[str, tuple[float, float]] = {
    "factor": (1.0, 20.0),
    "cadence_share": (0.0, 1.0),
    "max_open_outreach": (1, 50),
    "size": (1, 50),
    "daily_goal": (1, 200),
    "window_hours": (1, 24 * 90),
}


@dataclass(frozen=True)
class RuleSettings:
    name: str
    enabled: bool
    params: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


def settings(session: Session) -> dict[str, RuleSettings]:
    """Every rule's and setting's effective values: defaults overlaid with the retailer's changes."""
    rows = {r.name: r for r in session.scalars(select(TaskRule))}
    out = {}
    for name, defaults in DEFAULTS.items():
        row = rows.get(name)
        params = {**defaults, **(row.params if row else {})}
        out[name] = RuleSettings(name, row.enabled if row else True, params)
    return out


def validate(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check a change to ``name``'s parameters; raises InvalidRecord naming each bad field."""
    if name not in DEFAULTS:
        raise InvalidRecord.one("name", f"unknown rule {name!r}; known: {', '.join(DEFAULTS)}")
    defaults = DEFAULTS[name]
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for key, value in params.items():
        where = f"{name}.{key}"
        if key not in defaults:
            errors.append(FieldError(where, f"unknown parameter; known: {', '.join(defaults)}"))
            continue
        default = defaults[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                errors.append(FieldError(where, "must be true or false"))
                continue
        elif isinstance(default, int | float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(FieldError(where, "must be a number"))
                continue
            if isinstance(default, int) and not isinstance(value, int):
                errors.append(FieldError(where, "must be a whole number"))
                continue
            low, high = _RANGES.get(key, (0, float("inf")))
            if not low <= value <= high:
                errors.append(FieldError(where, f"must be between {low:g} and {high:g}"))
                continue
        elif isinstance(default, list):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors.append(FieldError(where, "must be a list of names"))
                continue
            allowed = _allowed_names(key)
            unknown = [v for v in value if allowed is not None and v not in allowed]
            if unknown:
                errors.append(FieldError(where, f"unknown {', '.join(unknown)}; allowed: {', '.join(allowed or ())}"))
                continue
            if key in ("sequence", "channel_order") and not value:
                errors.append(FieldError(where, "must not be empty"))
                continue
        clean[key] = value
    if errors:
        raise InvalidRecord(errors)
    return clean


def _allowed_names(key: str) -> tuple[str, ...] | None:
    if key == "sequence":
        return TIMELINE_KINDS
    if key == "channel_order":
        return CONSENT_CHANNELS
    return None  # free names (milestone kinds are the retailer's own)


def update(
    session: Session, name: str, *, params: dict[str, Any] | None = None, enabled: bool | None = None, by: str
) -> RuleSettings:
    """Change a rule's parameters (merged into earlier changes) and/or switch it on or off."""
    clean = validate(name, params or {})
    if name in ("pressure", "focus") and enabled is False:
        raise InvalidRecord.one(f"{name}.enabled", "this setting cannot be switched off")
    now: datetime = clock.now()
    row = session.get(TaskRule, name)
    if row is None:
        row = TaskRule(name=name, enabled=True, params={}, updated_at=now, updated_by=by)
        session.add(row)
    row.params = {**row.params, **clean}
    if enabled is not None:
        row.enabled = enabled
    row.updated_at = now
    row.updated_by = by
    session.flush()
    return settings(session)[name]


def reset(session: Session, name: str) -> RuleSettings:
    """Back to the defaults."""
    validate(name, {})
    row = session.get(TaskRule, name)
    if row is not None:
        session.delete(row)
        session.flush()
    return settings(session)[name]


__all__ = ["DEFAULTS", "RuleSettings", "reset", "settings", "update", "validate"]
