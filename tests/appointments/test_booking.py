"""Booking an appointment: the client found or created by identity resolution, no double booking
(even two people at the same moment on PostgreSQL), signed links to move and cancel, the invitation,
the notices, check-in and outcome."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from rapport.appointments import booking, links
from rapport.appointments.booking import BookingRequest, ClientDetails, book_appointment
from rapport.appointments.models import Appointment
from rapport.associates.audit import SYSTEM
from rapport.customers.models import Customer, TimelineEntry
from rapport.db import Database
from rapport.errors import Conflict, InvalidRecord
from rapport.jobs.models import Job
from rapport.outreach.models import Message
from rapport.tasks.models import Task
from rapport.workers import job_runner
from tests.appointments.fixtures import PARIS, Shop, at, shop

TUESDAY_3PM = at(PARIS, 2026, 11, 24, 15)  # the day after TEST_NOW, in Paris


@pytest.fixture
def world(db: Database) -> Shop:
    return shop(db)


def web_request(world: Shop, **kw: Any) -> BookingRequest:
    values: dict[str, Any] = {
        "location_id": world.paris, "type_id": world.types["styling"], "starts_at": TUESDAY_3PM,
        "client": ClientDetails("Alicia", "Moreau", "alicia@example.com", None, ("email",)),
        "reason": "A coat for the winter", "products_of_interest": ["COAT-CAMEL-M", "https://shop.example/scarf"],
        "sizes": {"coats": "M"}, "idempotency_key": "form-key-0001",
    }  # fmt: skip
    values.update(kw)
    return BookingRequest(**values)


def count(db: Database, model: Any, *where: Any) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_web_booking_links_the_existing_client_by_email_and_queues_its_notices(db, world):
    done = book_appointment(db, web_request(world), via="web", actor=SYSTEM)
    assert done.created and done.customer_id == world.client  # Alicia, found by her email
    assert done.associate_id in (world.ana, world.leo)
    with db.read() as session:
        a = session.get(Appointment, done.id)
        assert a is not None and a.reason == "A coat for the winter" and a.sizes == {"coats": "M"}
        assert a.blocked_until == a.ends_at + timedelta(minutes=15)  # styling: 15 minutes after
        entry = session.execute(select(TimelineEntry).where(TimelineEntry.kind == "appointment")).scalar_one()
        assert "Booked styling" in entry.summary and entry.customer_id == world.client
        keys = set(session.scalars(select(Job.key)))
    # Booked less than a day ahead: no reminder, the confirmation says it all; the brief goes now.
    assert {f"appointment:{done.id}:v1:{w}" for w in ("confirm", "brief")} <= keys
    assert f"appointment:{done.id}:v1:remind" not in keys
    later = book_appointment(db, web_request(world, starts_at=at(PARIS, 2026, 11, 26, 11), idempotency_key="later-00"),
                             via="web", actor=SYSTEM)  # fmt: skip
    with db.read() as session:
        remind = session.execute(select(Job).where(Job.key == f"appointment:{later.id}:v1:remind")).scalar_one()
        brief = session.execute(select(Job).where(Job.key == f"appointment:{later.id}:v1:brief")).scalar_one()
    assert remind.run_at == later.starts_at - timedelta(hours=24)
    assert brief.run_at == at(PARIS, 2026, 11, 25, 9)  # the day before, 09:00 store time


def test_a_stranger_booking_becomes_a_new_client_and_the_same_form_twice_books_once(db, world):
    request = web_request(world, client=ClientDetails("Ben", "Stone", None, "+33 6 99 88 77 66", ("sms",)))
    first = book_appointment(db, request, via="web", actor=SYSTEM)
    again = book_appointment(db, request, via="web", actor=SYSTEM)
    assert first.customer_id != world.client and again.id == first.id and not again.created
    assert count(db, Appointment) == 1
    with db.read() as session:
        assert session.get(Customer, first.customer_id).first_name == "Ben"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"client": ClientDetails("Al", "", "not-an-email", None)}, "email", "not a valid email"),
        ({"client": ClientDetails("Al", "", None, None)}, "email", "email address or a phone number"),
        ({"client": ClientDetails("Al", "", None, "12")}, "phone", "not a valid phone"),
        ({"reason": "x" * 2001}, "reason", "at most 2000"),
        ({"starts_at": at(PARIS, 2026, 11, 23, 9)}, "starts_at", "in the past"),
        ({"starts_at": at(PARIS, 2026, 11, 24, 21)}, "starts_at", ""),
        ({"starts_at": at(PARIS, 2026, 11, 24, 15, 10)}, "starts_at", "grid"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_booked(db, world, change, field, words):
    with pytest.raises(InvalidRecord) as refused:
        book_appointment(db, web_request(world, **change), via="web", actor=SYSTEM)
    assert any(e.field == field and words in e.message for e in refused.value.errors), refused.value.errors
    assert count(db, Appointment) == 0


def test_the_last_room_taken_refuses_the_next_booking_with_the_reason(db, world):
    for n, cid in enumerate((world.client, None)):
        client = None if cid else ClientDetails(f"P{n}", "", f"p{n}@example.com")
        book_appointment(db, web_request(world, customer_id=cid, client=client, idempotency_key=f"key-{n}-000000"),
                         via="web", actor=SYSTEM)  # fmt: skip
    with pytest.raises(InvalidRecord) as refused:
        book_appointment(db, web_request(world, client=ClientDetails("Late", "", "late@example.com"),
                                         idempotency_key="key-late-0000"), via="web", actor=SYSTEM)  # fmt: skip
    assert refused.value.errors[0].field in ("starts_at", "associate_id")


def test_two_people_taking_the_last_slot_at_the_same_moment_one_wins(pg_db):
    db = pg_db
    world = shop(db)
    book_appointment(db, web_request(world, idempotency_key="first-room-0"), via="web", actor=SYSTEM)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        barrier.wait()
        try:
            book_appointment(db, web_request(world, client=ClientDetails(f"R{n}", "", f"r{n}@example.com"),
                                             idempotency_key=f"race-{n}-0000"), via="web", actor=SYSTEM)  # fmt: skip
            result = "booked"
        except InvalidRecord:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["booked"] + ["refused"] * 5  # two rooms: one was taken already
    assert count(db, Appointment, Appointment.status == "booked") == 2


def test_the_manage_link_moves_and_cancels_and_older_links_stop_working(db, world):
    done = book_appointment(db, web_request(world), via="web", actor=SYSTEM)
    link = links.read_manage_token(done.manage_token)
    moved = booking.reschedule_appointment(db, link.appointment_id, at(PARIS, 2026, 11, 25, 11), actor=SYSTEM,
                                           version=link.version)  # fmt: skip
    assert moved.starts_at == at(PARIS, 2026, 11, 25, 11)
    with pytest.raises(Conflict):  # the first email's link is for version 1
        booking.cancel_appointment(db, done.id, actor=SYSTEM, version=link.version)
    newer = links.read_manage_token(moved.manage_token)
    cancelled = booking.cancel_appointment(db, done.id, actor=SYSTEM, reason="Travelling", version=newer.version)
    assert cancelled.status == "cancelled"
    with db.read() as session:
        keys = dict(session.execute(select(Job.key, Job.status)).all())
    assert keys[f"appointment:{done.id}:v2:remind"] == "cancelled"
    assert f"appointment:{done.id}:v3:cancelled" in keys


def test_a_tampered_or_expired_manage_link_is_refused(db, world, fixed_clock):
    done = book_appointment(db, web_request(world), via="web", actor=SYSTEM)
    body, signature = done.manage_token.rsplit(".", 1)
    with pytest.raises(links.InvalidLink, match="not valid"):
        links.read_manage_token(f"{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}")
    with pytest.raises(links.InvalidLink, match="not valid"):
        links.read_manage_token(done.manage_token.replace(f"{done.id}.", f"{done.id + 1}.", 1))
    fixed_clock.set(done.starts_at + timedelta(minutes=1))
    with pytest.raises(links.InvalidLink, match="expired"):
        links.read_manage_token(done.manage_token)


def test_the_confirmation_goes_out_on_a_consented_channel_with_a_valid_invitation(db, world):
    done = book_appointment(db, web_request(world), via="web", actor=SYSTEM)
    runner = job_runner(lambda: db, concurrency=1)
    runner.drain()
    with db.read() as session:
        message = session.execute(select(Message).where(Message.customer_id == done.customer_id)).scalar_one()
    assert message.channel == "email" and message.subject.startswith("Confirmed: styling")  # type: ignore[union-attr]
    assert "/book/manage/" in message.body and "Tuesday 24 November at 15:00" in message.body
    (attachment,) = message.data["attachments"]
    calendar = Calendar.from_ical(attachment["content"])
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]).startswith(f"appointment-{done.id}@")
    assert event.decoded("dtstart") == done.starts_at and event.decoded("dtend") == done.ends_at
    assert str(calendar["method"]) == "REQUEST" and int(event["sequence"]) == 1


def test_no_consent_no_confirmation(db, world):
    request = web_request(world, client=ClientDetails("Nora", "", "nora@example.com", None, ()))
    book_appointment(db, request, via="web", actor=SYSTEM)
    job_runner(lambda: db, concurrency=1).drain()
    assert count(db, Message) == 0


def test_check_in_then_a_follow_up_outcome_raises_a_task_and_a_no_show_is_recorded(db, world, fixed_clock):
    done = book_appointment(db, web_request(world), via="web", actor=SYSTEM)
    with db.write() as session, pytest.raises(Conflict, match="check the client in"):
        booking.record_outcome(session, done.id, "purchased", actor=SYSTEM)
    fixed_clock.set(done.starts_at - timedelta(minutes=5))
    with db.write() as session:
        booking.check_in(session, done.id, actor=SYSTEM)
        booking.record_outcome(session, done.id, "follow_up", actor=SYSTEM, note="Send the navy scarf photos")
    with db.read() as session:
        a = session.get(Appointment, done.id)
        assert a is not None and a.status == "completed" and a.outcome == "follow_up"
        task = session.execute(select(Task).where(Task.customer_id == done.customer_id)).scalars().all()
    assert any("Follow up after the appointment" in t.title for t in task)
    other = book_appointment(
        db, web_request(world, starts_at=at(PARIS, 2026, 11, 24, 17), idempotency_key="other-key-0"), via="web",
        actor=SYSTEM,
    )  # fmt: skip
    with db.write() as session:
        booking.record_outcome(session, other.id, "no_show", actor=SYSTEM)
    with db.read() as session:
        assert session.get(Appointment, other.id).status == "no_show"  # type: ignore[union-attr]


def test_the_associate_gets_one_prepare_the_brief_task_for_a_booked_appointment(db, world):
    from rapport.tasks.sweep import generate

    kept = book_appointment(db, web_request(world), via="web", actor=SYSTEM)
    dropped = book_appointment(db, web_request(world, starts_at=at(PARIS, 2026, 11, 24, 17), idempotency_key="drop-0"),
                               via="web", actor=SYSTEM)  # fmt: skip
    booking.cancel_appointment(db, dropped.id, actor=SYSTEM)
    generate(db)
    with db.read() as session:
        prep = session.execute(select(Task).where(Task.type == "appointment_prep")).scalars().all()
    assert [t.facts["appointment_id"] for t in prep] == [kept.id]
    assert "Prepare the brief" in prep[0].title and prep[0].customer_id == world.client


def test_a_phone_written_the_local_way_is_read_as_the_stores_country(db, world):
    request = web_request(world, client=ClientDetails("Chloé", "", None, "06 11 22 33 44", ("sms",)))
    done = book_appointment(db, request, via="web", actor=SYSTEM)
    from rapport.identity.models import Identifier

    with db.read() as session:
        phones = session.scalars(select(Identifier.value).where(Identifier.customer_id == done.customer_id,
                                                                Identifier.kind == "phone")).all()  # fmt: skip
    assert phones == ["+33611223344"]


def test_a_manage_link_with_foreign_characters_is_refused_not_an_error(db, world):
    done = book_appointment(db, web_request(world), via="web", actor=SYSTEM)
    with pytest.raises(links.InvalidLink):
        links.read_manage_token(done.manage_token[:-1] + "é")
