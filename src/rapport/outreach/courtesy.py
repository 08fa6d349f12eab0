"""Whether, where and when a client may be written to: consent, quiet hours, a daily cap, WhatsApp's window.

Every rule answers in words, because the composer shows the answer to the associate before they
write: "Alicia has not agreed to SMS", "it is 22:40 for Alicia in Paris: this goes out at 09:00",
"Alicia has had 2 messages today". One read of the client's facts serves all three channels.

* **Consent** — only a channel the client said yes to (``customer_consent``); a no, or no answer,
  refuses. A STOP or an unsubscribe link records a no at once (``outreach.service``).
* **Quiet hours** — in the client's timezone (their home store's, else their country's, else
  their phone number's, else the sending store's): a message written in the quiet hours is held
  until they end. It is not refused.
* **Daily cap** — personal messages to one client per local day (group emails count); system
  messages (a STOP confirmation) do not.
* **WhatsApp's 24-hour window** — outside 24 hours after the client's last WhatsApp message to us,
  Meta allows only pre-approved templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.core import get_global
from phonenumbers import timezone as phone_timezone
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rapport import clock
from rapport.customers.models import Consent, Customer
from rapport.db import table_of
from rapport.identity.models import Identifier
from rapport.inventory.models import Location
from rapport.outreach.models import MESSAGE_CHANNELS, Message
from rapport.outreach.settings import OutreachSettings, get_outreach_settings

CONSENT = table_of(Consent)
CUSTOMER = table_of(Customer)
IDENTIFIER = table_of(Identifier)
LOCATION = table_of(Location)
MESSAGE = table_of(Message)

WHATSAPP_WINDOW = timedelta(hours=24)
#: Outbound statuses that count towards the daily cap (what was, or will be, sent).
COUNTED = ("queued", "held", "sending", "sent", "delivered", "read", "outbox")
CHANNEL_WORDS = {"email": "email", "sms": "SMS", "whatsapp": "WhatsApp"}


@dataclass(frozen=True)
class ClientReach:
    """What the rules need to know about one client, read once."""

    customer_id: int
    first_name: str
    email: str | None
    phone: str | None
    consent: dict[str, bool]
    timezone: ZoneInfo
    timezone_from: str  # "home store", "country", "phone number", "store", "default"
    home_location_id: int | None
    assigned_associate_id: int | None
    sent_today: int
    last_whatsapp_inbound_at: datetime | None


@dataclass(frozen=True)
class Clearance:
    """One channel's answer for one client, now."""

    channel: str
    allowed: bool
    #: Why not, in words (None when allowed).
    reason: str | None
    #: The client's address on this channel (email or E.164 phone).
    address: str | None
    #: Quiet hours: the message is accepted and goes out at this time.
    hold_until: datetime | None = None
    #: WhatsApp outside the 24-hour window: only approved templates.
    template_only: bool = False
    #: WhatsApp: when the free-form window closes (None when closed or never opened).
    window_closes_at: datetime | None = None

    @property
    def note(self) -> str | None:
        """What the composer says beside an allowed channel (held, templates only), if anything."""
        return self.reason if self.allowed else None


def reach_of(
    session: Session, customer_id: int, *, now: datetime | None = None, fallback_location_id: int | None = None
) -> ClientReach:
    """The client's contact facts (a few indexed reads)."""
    now = now or clock.now()
    client = session.execute(
        select(
            CUSTOMER.c.id, CUSTOMER.c.first_name, CUSTOMER.c.country, CUSTOMER.c.home_location_id,
            CUSTOMER.c.assigned_associate_id,
        ).where(CUSTOMER.c.id == customer_id)
    ).one()  # fmt: skip
    email = phone = None
    for kind, value, _verified in session.execute(
        select(IDENTIFIER.c.kind, IDENTIFIER.c.value, IDENTIFIER.c.verified)
        .where(IDENTIFIER.c.customer_id == customer_id, IDENTIFIER.c.kind.in_(("email", "phone")))
        .order_by(IDENTIFIER.c.verified.desc(), IDENTIFIER.c.created_at.desc(), IDENTIFIER.c.id.desc())
    ):
        if kind == "email" and email is None:
            email = value
        elif kind == "phone" and phone is None:
            phone = value
    consent = {
        channel: bool(granted)
        for channel, granted in session.execute(
            select(CONSENT.c.channel, CONSENT.c.granted).where(CONSENT.c.customer_id == customer_id)
        )
    }
    tz, tz_from = _timezone(session, client.home_location_id, client.country, phone, fallback_location_id)
    local_midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
    sent_today = session.scalar(
        select(func.count())
        .select_from(MESSAGE)
        .where(
            MESSAGE.c.customer_id == customer_id,
            MESSAGE.c.created_at >= local_midnight,
            MESSAGE.c.direction == "out",
            MESSAGE.c.associate_id.is_not(None),
            MESSAGE.c.status.in_(COUNTED),
        )
    )
    last_wa = session.scalar(
        select(func.max(MESSAGE.c.created_at)).where(
            MESSAGE.c.customer_id == customer_id, MESSAGE.c.direction == "in", MESSAGE.c.channel == "whatsapp"
        )
    )
    return ClientReach(
        customer_id=client.id,
        first_name=client.first_name or "This client",
        email=email,
        phone=phone,
        consent=consent,
        timezone=tz,
        timezone_from=tz_from,
        home_location_id=client.home_location_id,
        assigned_associate_id=client.assigned_associate_id,
        sent_today=int(sent_today or 0),
        last_whatsapp_inbound_at=last_wa,
    )


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _timezone(
    session: Session, home_location_id: int | None, country: str | None, phone: str | None, fallback: int | None
) -> tuple[ZoneInfo, str]:
    if home_location_id is not None:
        zone = _zone(session.scalar(select(LOCATION.c.timezone).where(LOCATION.c.id == home_location_id)))
        if zone:
            return zone, "home store"
    if country:
        zones = get_global("territory_zones").get(country.upper()) or ()
        zone = _zone(zones[0] if zones else None)
        if zone:
            return zone, "country"
    if phone:
        try:
            zones = phone_timezone.time_zones_for_number(phonenumbers.parse(phone, None))
        except phonenumbers.NumberParseException:
            zones = ()
        zone = _zone(zones[0] if zones and zones[0] != "Etc/Unknown" else None)
        if zone:
            return zone, "phone number"
    if fallback is not None:
        zone = _zone(session.scalar(select(LOCATION.c.timezone).where(LOCATION.c.id == fallback)))
        if zone:
            return zone, "store"
    return ZoneInfo("UTC"), "default"


def quiet_until(now: datetime, tz: ZoneInfo, start: time, end: time) -> datetime | None:
    """When the quiet hours around ``now`` (client's local time) end; None outside them.

    Handles spans across midnight (21:00-09:00) and within a day (13:00-14:00), and lands on the
    true local time on days when clocks change.
    """
    if start == end:
        return None
    local = now.astimezone(tz)
    t = local.timetz().replace(tzinfo=None)
    if start < end:
        inside = start <= t < end
        end_day = local.date()
    else:
        inside = t >= start or t < end
        end_day = local.date() + timedelta(days=1) if t >= start else local.date()
    if not inside:
        return None
    # A naive local wall time -> aware: fold=0 takes the first of a repeated hour; a time that
    # does not exist (spring forward) comes out an hour later, which is still after the quiet.
    wall = datetime.combine(end_day, end, tzinfo=tz)
    return wall.astimezone(now.tzinfo or tz)


def clear(
    reach: ClientReach,
    channel: str,
    *,
    now: datetime | None = None,
    settings: OutreachSettings | None = None,
    personal: bool = True,
    template_approved: bool = False,
) -> Clearance:
    """May this client be written to on ``channel`` now? The first rule that refuses says why."""
    now = now or clock.now()
    settings = settings or get_outreach_settings()
    name = reach.first_name
    words = CHANNEL_WORDS.get(channel, channel)
    if channel not in MESSAGE_CHANNELS:
        return Clearance(channel, False, f"{channel} is not a message channel", None)
    address = reach.email if channel == "email" else reach.phone
    if address is None:
        what = "email address" if channel == "email" else "mobile number"
        return Clearance(channel, False, f"{name} has no {what} on file", None)
    granted = reach.consent.get(channel)
    if granted is None:
        return Clearance(channel, False, f"{name} has not agreed to be contacted by {words}", address)
    if not granted:
        return Clearance(channel, False, f"{name} has opted out of {words}", address)
    if personal and reach.sent_today >= settings.daily_cap:
        return Clearance(
            channel,
            False,
            f"{name} has already had {reach.sent_today} message{'s' if reach.sent_today != 1 else ''} today "
            f"(the limit is {settings.daily_cap} a day)",
            address,
        )
    template_only = False
    closes = None
    notes: list[str] = []
    if channel == "whatsapp":
        last = reach.last_whatsapp_inbound_at
        closes = last + WHATSAPP_WINDOW if last else None
        if closes is None or closes <= now:
            template_only = True
            closes = None
            if not template_approved:
                notes.append(
                    f"{name} has not written on WhatsApp in the last 24 hours: only an approved template can be sent"
                )
    hold = quiet_until(now, reach.timezone, settings.quiet_hours_start, settings.quiet_hours_end)
    if hold is not None:
        local = now.astimezone(reach.timezone)
        notes.append(
            f"it is {local:%H:%M} for {name} ({reach.timezone.key}): this will go out at "
            f"{hold.astimezone(reach.timezone):%H:%M} local time"
        )
    return Clearance(
        channel,
        True,
        "; ".join(notes) or None,
        address,
        hold_until=hold,
        template_only=template_only,
        window_closes_at=closes,
    )


def clearances(
    session: Session,
    customer_id: int,
    *,
    channels: Sequence[str] = MESSAGE_CHANNELS,
    now: datetime | None = None,
    fallback_location_id: int | None = None,
) -> dict[str, Clearance]:
    """Every channel's answer for one client (the composer's header)."""
    reach = reach_of(session, customer_id, now=now, fallback_location_id=fallback_location_id)
    return {channel: clear(reach, channel, now=now) for channel in channels}
