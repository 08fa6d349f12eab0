"""The calendar invitation (.ics, RFC 5545) sent with a confirmation, built with the icalendar library.

One VEVENT with a stable UID per appointment and a SEQUENCE that follows the appointment's version,
so a rescheduled or cancelled appointment updates the event already in the client's calendar
(METHOD:REQUEST, or METHOD:CANCEL with STATUS:CANCELLED).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Rapport//Appointments//EN"


@dataclass(frozen=True)
class InvitationFacts:
    appointment_id: int
    version: int
    title: str  # "Styling session at Maison Rapport Paris"
    starts_at: datetime
    ends_at: datetime
    location: str  # the store's name and address, or "Video call"
    description: str
    organizer_email: str
    organizer_name: str
    attendee_email: str | None
    attendee_name: str
    domain: str
    cancelled: bool = False
    url: str | None = None


def invitation(facts: InvitationFacts, *, now: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "CANCEL" if facts.cancelled else "REQUEST")
    event = Event()
    event.add("uid", f"appointment-{facts.appointment_id}@{facts.domain}")
    event.add("sequence", facts.version)
    event.add("dtstamp", now)
    event.add("dtstart", facts.starts_at)
    event.add("dtend", facts.ends_at)
    event.add("summary", facts.title)
    event.add("location", facts.location)
    event.add("description", facts.description)
    event.add("status", "CANCELLED" if facts.cancelled else "CONFIRMED")
    if facts.url:
        event.add("url", facts.url)
    organizer = vCalAddress(f"mailto:{facts.organizer_email}")
    organizer.params["cn"] = vText(facts.organizer_name)
    event["organizer"] = organizer
    if facts.attendee_email:
        attendee = vCalAddress(f"mailto:{facts.attendee_email}")
        attendee.params["cn"] = vText(facts.attendee_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", attendee, encode=False)
    cal.add_component(event)
    return bytes(cal.to_ical())
