"""The JSON shapes of /api/v1/tasks: tasks, the focus list, the team view and the rule settings.

They mirror the dataclasses of :mod:`rapport.tasks.focus` (read with ``from_attributes``), so the
services never depend on the API. Outcomes and statuses are checked by the services, whose
messages name the task; the schemas document the allowed values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rapport.customers.schemas import Schema
from rapport.tasks.models import TASK_OUTCOMES, TASK_STATUSES, TASK_TYPES


class TaskOut(Schema):
    id: int
    customer_id: int = Field(description="The client; open their profile at /clients/{customer_id}.")
    client_name: str
    associate_id: int | None = Field(description="The owner; empty for a store's team queue.")
    location_id: int | None = Field(description="The client's home store (whose team queue holds it when unowned).")
    team_queue: bool
    type: str = Field(json_schema_extra={"enum": list(TASK_TYPES)})
    title: str = Field(examples=["Birthday on 3 Dec"])
    reason: str = Field(description="Why, in plain words with the facts.")
    facts: dict[str, Any] = Field(description="The facts behind the reason (dates, products, amounts, scores).")
    outreach: bool = Field(description="Reaching out to the client (true) or work in the store (false).")
    channel: str | None = Field(description="The consented channel to reach the client on.")
    product_id: int | None
    campaign_id: int | None
    suggested_message: str | None
    priority: int = Field(ge=1, le=3)
    score: int = Field(description="Expected value when raised: client value + intent + priority, in points.")
    status: str = Field(
        json_schema_extra={"enum": list(TASK_STATUSES)},
        description="As of now: a snoozed task whose time has come is open; one past its expiry is expired.",
    )
    due_at: datetime
    expires_at: datetime
    snoozed_until: datetime | None
    outcome: str | None = Field(json_schema_extra={"enum": [*TASK_OUTCOMES, None]})
    outcome_note: str | None
    completed_at: datetime | None
    completed_by_id: int | None
    created_at: datetime
    updated_at: datetime


class FocusTaskOut(TaskOut):
    urgency: float = Field(description="Time sensitivity now: x2 expiring within 48 h, x1.5 overdue, x1.2 due today.")
    value: float = Field(description="score x urgency: what the focus list is ranked by.")
    signals: list[str] = Field(description="What makes it pressing: overdue, due_today, expiring.")


class GoalOut(Schema):
    done: int = Field(description="Tasks this associate completed today (the store's day).")
    target: int = Field(description="The retailer's daily goal.")
    reached: bool


class FocusOut(BaseModel):
    associate_id: int
    timezone: str = Field(description="The home store's timezone, which decides when today starts.")
    day_start: datetime
    day_end: datetime
    goal: GoalOut
    live_total: int = Field(description="Open and snoozed tasks behind the focus list, whatever their due date.")
    tasks: list[FocusTaskOut] = Field(description="Best first; at most the retailer's focus size.")


class TaskPageOut(BaseModel):
    tasks: list[TaskOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last one.")


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: str = Field(json_schema_extra={"enum": list(TASK_OUTCOMES)}, examples=["contacted"])
    note: str | None = Field(default=None, description="At most 1000 characters.")


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    until: datetime | None = Field(default=None, description="When it comes back (with a timezone offset).")
    days: int | None = Field(
        default=None, description="Or: this many days from today, back at 09:00 in the home store (1..90)."
    )


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, description="Why it is not worth doing; at most 1000 characters.")


class TaskIn(BaseModel):
    """A manual task. It goes to the client's associate (or their store's team queue), like any task,
    and is refused when consent, the contact cap or the cool-down says no."""

    model_config = ConfigDict(extra="forbid")
    customer_id: int
    title: str = Field(max_length=200, examples=["Call about the camel coat in L"])
    reason: str = Field(default="", max_length=1000, examples=["Asked to be called when the L is back"])
    due_at: datetime | None = Field(default=None, description="Default: now.")
    expires_at: datetime | None = Field(default=None, description="Default: 14 days after it is due.")
    outreach: bool = Field(default=True, description="false for work in the store (no consent needed).")
    channel: str | None = Field(default=None, description="Default: the client's preferred consented channel.")
    priority: int = Field(default=2, description="1 (low) .. 3 (high).")
    suggested_message: str | None = Field(default=None, max_length=2000)
    key: str | None = Field(
        default=None, description="An idempotency key: the same key for the same client answers 409 the second time."
    )


class TeamLineOut(Schema):
    associate_id: int | None = Field(description="Empty: the stores' team queue.")
    name: str
    open: int = Field(description="Live now.")
    overdue: int = Field(description="Live now and past their due date.")
    done: int = Field(description="Completed in the period.")
    outcomes: dict[str, int] = Field(description="Done in the period, by outcome.")
    dismissed: int
    expired: int
    completion_rate: float | None = Field(description="Done / (done + dismissed + expired) in the period.")


class StoreOut(Schema):
    id: int
    code: str
    name: str


class TeamOut(BaseModel):
    since: datetime
    until: datetime
    stores: list[StoreOut] = Field(description="The stores reported on.")
    associates: list[TeamLineOut]


class RuleOut(BaseModel):
    name: str
    enabled: bool
    params: dict[str, Any] = Field(description="Effective values: the defaults with the retailer's changes.")
    defaults: dict[str, Any]
    changed: list[str] = Field(description="Parameters set differently from the defaults.")


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool | None = None
    params: dict[str, Any] | None = Field(default=None, description="Only the parameters to change.")
