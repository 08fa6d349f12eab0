"""Appointments: what a store offers (types, hours, closures, rooms), who works when, and the bookings.

Times of day (opening hours, shifts) are wall-clock times in the store's timezone; instants
(appointments, time off) are stored in UTC. Slots are computed from both with the store's zone, so a
day on which clocks change has the right hours.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, SmallInteger, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rapport.db import Base, BigId, Json, UTCDateTime

APPOINTMENT_KINDS = ("styling", "alterations", "fitting", "virtual", "pickup")
#: booked -> checked_in -> completed (with an outcome) | no_show | cancelled
APPOINTMENT_STATUSES = ("booked", "checked_in", "completed", "no_show", "cancelled")
OUTCOMES = ("purchased", "follow_up", "no_purchase", "no_show")
#: The timeline source of entries written by Rapport's own booking (other systems' appointments differ).
TIMELINE_SOURCE = "rapport.appointments"


class AppointmentType(Base):
    """What a client can book at a store: a styling session, alterations, a fitting, a video call, a pick-up."""

    __tablename__ = "appointment_type"
    __table_args__ = (UniqueConstraint("location_id", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    duration_minutes: Mapped[int] = mapped_column(SmallInteger)
    #: Time kept free before and after (setting up the fitting room, notes after a styling session).
    buffer_before_minutes: Mapped[int] = mapped_column(SmallInteger, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(SmallInteger, default=0)
    #: Held by video: no room needed.
    virtual: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OpeningHours(Base):
    """A store's hours on one weekday (0 = Monday), in its own time; several rows for a lunch break."""

    __tablename__ = "opening_hours"
    __table_args__ = (Index("ix_opening_hours_location_weekday", "location_id", "weekday"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    weekday: Mapped[int] = mapped_column(SmallInteger)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)


class StoreClosure(Base):
    """Days the store is shut (holidays, a refit), first and last day included."""

    __tablename__ = "store_closure"
    __table_args__ = (Index("ix_store_closure_location_days", "location_id", "first_day", "last_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")


class AppointmentSettings(Base):
    """Per store: how many appointments at once (rooms), slot step, how far ahead, how soon."""

    __tablename__ = "appointment_settings"

    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"), primary_key=True)
    rooms: Mapped[int] = mapped_column(SmallInteger, default=2)
    slot_minutes: Mapped[int] = mapped_column(SmallInteger, default=30)
    #: Bookable from this many minutes ahead, and at most this many days ahead.
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=120)
    max_days_ahead: Mapped[int] = mapped_column(SmallInteger, default=60)


class WorkingHours(Base):
    """An associate's shift on one weekday at one store, in the store's time."""

    __tablename__ = "working_hours"
    __table_args__ = (Index("ix_working_hours_location_weekday", "location_id", "weekday"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    associate_id: Mapped[int] = mapped_column(ForeignKey("associate.id"), index=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    weekday: Mapped[int] = mapped_column(SmallInteger)
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)


class TimeOff(Base):
    """An associate away (holiday, training), as instants."""

    __tablename__ = "time_off"
    __table_args__ = (Index("ix_time_off_associate_span", "associate_id", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    associate_id: Mapped[int] = mapped_column(ForeignKey("associate.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")


class Appointment(Base):
    """A client's visit (or video call) at a store, with what they said they need."""

    __tablename__ = "appointment"
    __table_args__ = (
        Index("ix_appointment_location_time", "location_id", "starts_at"),
        Index("ix_appointment_associate_time", "associate_id", "starts_at"),
        Index("ix_appointment_customer_time", "customer_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_type.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    associate_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    #: The visit itself; ``blocked_from``/``blocked_until`` add the type's buffers (what overlaps count).
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_from: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="booked")
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_note: Mapped[str | None] = mapped_column(String(2000))
    #: What the client said: why they come, what they would like to see, their sizes.
    reason: Mapped[str] = mapped_column(Text, default="")
    products_of_interest: Mapped[list[Any]] = mapped_column(Json, default=list)
    sizes: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    #: What was said online before booking (an e-commerce chat passed through the API).
    conversation_summary: Mapped[str | None] = mapped_column(Text)
    #: How it was booked: web (the public page), associate, api.
    booked_via: Mapped[str] = mapped_column(String(16))
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("associate.id"))
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    #: Bumped on each reschedule or cancel: older signed links stop working.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
