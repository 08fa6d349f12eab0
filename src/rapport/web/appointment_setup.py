"""Setting a store up for appointments, on the manager's phone: opening hours, closures, what can be
booked, the booking rules, the team's shifts and their time off.

* ``GET /appointments/setup?store=ID`` — the page (the caller's own store by default; head office
  and managers of several stores get a store picker). ``&type=ID`` opens a type for editing,
  ``&associate=ID`` an associate's week.
* ``POST /appointments/setup/{hours,closures,types,settings,shifts,time-off,standard}`` — one form
  each, one write of :mod:`rapport.appointments.setup` each, then back to the page.

Store managers set up their own stores, head office any store; associates are refused. A refusal
re-renders the page (422) with the reason beside the field and what was typed kept. Times are typed
and shown in the store's timezone: hours and shifts are wall-clock times there, time off becomes
instants (UTC) with :mod:`zoneinfo` (a time the clocks skip is refused, one they repeat means the
first).

Mount this router before :mod:`rapport.web.appointments`: its ``/appointments/{id}`` would take
``/appointments/setup`` for an appointment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from itertools import groupby
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from rapport.appointments import calendar, setup
from rapport.appointments.models import APPOINTMENT_KINDS
from rapport.appointments.setup_views import StoreSetup, TeamWeek, WeekHours, store_setup
from rapport.associates.permissions import ADMIN, STORE_MANAGER
from rapport.db import Database
from rapport.errors import Conflict, FieldError, InvalidRecord, NotFound, PermissionDenied
from rapport.http import Caller, csrf_checked, database, page_caller
from rapport.web.appointments import LOCALE, Words
from rapport.web.templating import render

router = APIRouter(include_in_schema=False)

SETUP_PATH = "/appointments/setup"
#: Periods offered per day (a lunch break makes two); a day saved with more shows them all.
PERIODS = 2
#: Periods read back from a posted day, at most.
MAX_PERIODS = 6
SHORT_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
KIND_LABELS = {"styling": "Styling", "alterations": "Alterations", "fitting": "Fitting",
               "virtual": "Virtual consultation", "pickup": "Pick-up"}  # fmt: skip
#: What the page says after each save (``?saved=``), and where it lands.
SAVED = {
    "hours": ("Opening hours saved.", "hours"),
    "closures": ("Closure added.", "closures"),
    "types": ("Appointment type saved.", "types"),
    "settings": ("Booking rules saved.", "settings"),
    "shifts": ("Shifts saved.", "team"),
    "time_off": ("Time off added.", "time-off"),
    "standard": ("The standard set-up is in place: adjust it below.", "hours"),
}
#: Where each form is on the page, and what it is called there (for "Not saved: see ...").
SECTIONS = {"hours": ("hours", "Opening hours"), "closures": ("closures", "Closures"),
            "types": ("types", "Appointment types"), "settings": ("settings", "Booking rules"),
            "shifts": ("team", "The team's shifts"), "time_off": ("time-off", "Time off")}  # fmt: skip
_TIME = re.compile(r"(\d{1,2})[:h.](\d{2})(?::00)?")
_WEEK_INPUT = re.compile(r"d[0-6]_(off|from\d|to\d)")


# -- who may set up what ----------------------------------------------------------------------------------


def _require_manager(caller: Caller) -> None:
    if caller.kind != "associate" or caller.role not in (STORE_MANAGER, ADMIN):
        raise PermissionDenied("setting up appointments is for store managers and head office")


def _choices(session: Session, caller: Caller) -> list[calendar.StoreRef]:
    """The stores the caller may set up: their own, or every store for head office."""
    return calendar.stores(session) if caller.role == ADMIN else calendar.stores(session, caller.store_ids)


def _store_for(session: Session, caller: Caller, store: int | None) -> int:
    """The store to set up: the one asked for (if the caller may), else their home store or their first."""
    _require_manager(caller)
    choices = _choices(session, caller)
    if store is None:
        home = calendar.home_store_id(session, caller.id)
        chosen = next((s for s in choices if s.id == home), choices[0] if choices else None)
        if chosen is None:
            raise NotFound("no store to set up: you are not attached to a store")
        return chosen.id
    if caller.role != ADMIN and store not in caller.store_ids:
        raise PermissionDenied("you set up appointments for your own stores only")
    if not any(s.id == store for s in choices):
        raise NotFound(f"store {store} not found")
    return store


# -- forms as typed ----------------------------------------------------------------------------------------


async def _form(request: Request) -> FormData:
    """The posted form (already parsed by the CSRF check; Starlette keeps it)."""
    return await request.form()


def _text(data: FormData, name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _posted_store(data: FormData) -> int:
    value = _text(data, "store").strip()
    if not value.isdigit():
        raise NotFound("store not found")
    return int(value)


@dataclass
class DayForm:
    """One weekday as typed: closed (or off) and its periods (from, to) as text."""

    weekday: int
    closed: bool = True
    periods: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return setup.WEEKDAYS[self.weekday]

    @property
    def short(self) -> str:
        return SHORT_DAYS[self.weekday]


def _padded(periods: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return periods + [("", "")] * (PERIODS - len(periods))


def week_form(week: WeekHours) -> list[DayForm]:
    """A saved week as the form shows it."""
    return [
        DayForm(d, not week.get(d), _padded([(f"{a:%H:%M}", f"{b:%H:%M}") for a, b in week.get(d, [])]))
        for d in range(7)
    ]


def posted_week(data: FormData) -> list[DayForm]:
    """The week as typed: ``d{day}_off``, ``d{day}_from{n}``, ``d{day}_to{n}`` (day 0 = Monday, n from 1)."""
    days = []
    for d in range(7):
        periods = []
        for n in range(1, MAX_PERIODS + 1):
            start, end = data.get(f"d{d}_from{n}"), data.get(f"d{d}_to{n}")
            if start is None and end is None:
                break
            periods.append((_text(data, f"d{d}_from{n}").strip(), _text(data, f"d{d}_to{n}").strip()))
        days.append(DayForm(d, data.get(f"d{d}_off") is not None, _padded(periods)))
    return days


@dataclass(frozen=True)
class WeekWords:
    """How a week form speaks: a store opens and closes; an associate starts, ends, or is off."""

    start: str  # the service's field for a period's start ("opens" | "starts")
    end: str
    start_label: str
    end_label: str
    closed_label: str


HOURS_WORDS = WeekWords("opens", "closes", "Opens", "Closes", "Closed")
SHIFT_WORDS = WeekWords("starts", "ends", "Starts", "Ends", "Off")


def _time_of(text: str) -> time | None:
    found = _TIME.fullmatch(text)
    if found is None or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        return None
    return time(int(found.group(1)), int(found.group(2)))


#: A parsed week: weekday -> (n, from, to) with n the period's place in the form (from 1).
_Parsed = dict[int, list[tuple[int, time, time]]]


def _parse_week(days: list[DayForm], words: WeekWords) -> _Parsed:
    """The typed week, or :class:`InvalidRecord` naming each input that is not a time (all at once)."""
    errors: list[FieldError] = []
    parsed: _Parsed = {}
    for day in days:
        typed = [(n, a, b) for n, (a, b) in enumerate(day.periods, start=1) if a or b]
        if day.closed:
            if typed:
                message = f"{day.name}: untick {words.closed_label} or clear the times"
                errors.append(FieldError(f"d{day.weekday}_off", message))
            continue
        periods = []
        for n, start, end in typed:
            inputs = (
                (f"d{day.weekday}_from{n}", start, words.start_label),
                (f"d{day.weekday}_to{n}", end, words.end_label),
            )
            for name, text, label in inputs:
                if not text:
                    errors.append(FieldError(name, f"{day.name}: {label.lower()} at what time?"))
                elif _time_of(text) is None:
                    errors.append(FieldError(name, f"{day.name}: “{text}” is not a time of day (HH:MM)"))
            opens, closes = _time_of(start), _time_of(end)
            if opens is not None and closes is not None:
                periods.append((n, opens, closes))
        if periods:
            parsed[day.weekday] = periods
    if errors:
        raise InvalidRecord(errors)
    return parsed


def _as_week(parsed: _Parsed) -> WeekHours:
    return {d: [(a, b) for _, a, b in periods] for d, periods in parsed.items()}


def _week_errors(exc: InvalidRecord, parsed: _Parsed, words: WeekWords) -> dict[str, str]:
    """The service's refusals ("Monday: 10:00 is not after 19:00") put beside the input they are about."""
    out: dict[str, str] = {}
    for e in exc.errors:
        if _WEEK_INPUT.fullmatch(e.field):  # already an input of the form
            out.setdefault(e.field, e.message)
            continue
        day = next((d for d, name in enumerate(setup.WEEKDAYS) if e.message.startswith(f"{name}:")), None)
        periods = parsed.get(day, []) if day is not None else []
        key = "form" if day is None else f"d{day}"
        if day is not None and e.field == words.end:
            n = next((n for n, a, b in periods if b <= a), None)
            key = f"d{day}_to{n}" if n is not None else key
        elif day is not None and e.field == words.start and len(periods) > 1:
            later = max(periods, key=lambda p: p[1])  # an overlap: the period that starts later
            key = f"d{day}_from{later[0]}"
        out.setdefault(key, e.message)
    return out


def week_summary(week: WeekHours) -> list[str]:
    """``["Mon–Sat 10:00–19:00", "Sun 12:00–18:00"]``: consecutive days with the same hours grouped."""
    lines = []
    for periods, group in groupby(range(7), key=lambda d: tuple(week.get(d, ()))):
        days = list(group)
        if not periods:
            continue
        span = SHORT_DAYS[days[0]] if len(days) == 1 else f"{SHORT_DAYS[days[0]]}–{SHORT_DAYS[days[-1]]}"
        lines.append(f"{span} " + ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in periods))
    return lines


@dataclass
class ClosureForm:
    first_day: str = ""
    last_day: str = ""
    reason: str = ""


@dataclass
class TypeForm:
    """An appointment type as typed; ``type_id`` when editing one."""

    type_id: int | None = None
    code: str = ""
    kind: str = "styling"
    name: str = ""
    description: str = ""
    duration_minutes: str = "60"
    buffer_before_minutes: str = "0"
    buffer_after_minutes: str = "0"
    virtual: bool = False
    active: bool = True

    @classmethod
    def of(cls, t: setup.TypeView) -> TypeForm:
        return cls(t.id, t.code, t.kind, t.name, t.description, str(t.duration_minutes),
                   str(t.buffer_before_minutes), str(t.buffer_after_minutes), t.virtual, t.active)  # fmt: skip


@dataclass
class SettingsForm:
    rooms: str = ""
    slot_minutes: str = ""
    min_notice_minutes: str = ""
    max_days_ahead: str = ""

    @classmethod
    def of(cls, s: setup.BookingSettings) -> SettingsForm:
        return cls(str(s.rooms), str(s.slot_minutes), str(s.min_notice_minutes), str(s.max_days_ahead))


@dataclass
class ShiftForm:
    associate_id: int
    name: str
    days: list[DayForm]


@dataclass
class TimeOffForm:
    associate_id: str = ""
    starts_at: str = ""
    ends_at: str = ""
    reason: str = ""


def _whole(field_name: str, text: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,6}", text):
        raise InvalidRecord.one(field_name, "must be a whole number")
    return int(text)


def _day(field_name: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRecord.one(field_name, "choose a date") from None


def _instant(field_name: str, text: str, zone: ZoneInfo) -> datetime:
    """A date and time typed in the store's time, as an instant (UTC)."""
    text = text.strip()
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecord.one(field_name, "choose a date and time") from None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    aware = local.replace(tzinfo=zone)  # fold=0: a time the clocks repeat means the first one
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        skipped = f"{local:%H:%M} does not exist on {local:%d %b} in {zone.key}: the clocks go forward then"
        raise InvalidRecord.one(field_name, skipped)
    return aware.astimezone(UTC)


def _field_errors(exc: InvalidRecord, fields: tuple[str, ...]) -> dict[str, str]:
    """The refusal by input; a field the form does not have (the store itself) goes on top of the form."""
    out: dict[str, str] = {}
    for e in exc.errors:
        out.setdefault(e.field if e.field in fields else "form", e.message)
    return out


# -- the page -----------------------------------------------------------------------------------------------


def _url(store_id: int, **params: Any) -> str:
    query = {"store": store_id, **{k: v for k, v in params.items() if v is not None}}
    return f"{SETUP_PATH}?{urlencode(query)}"


def _day_errors(errors: dict[str, str], weekday: int) -> list[str]:
    """The refusals about one weekday of a week form."""
    return [m for k, m in errors.items() if k == f"d{weekday}" or k.startswith(f"d{weekday}_")]


def _member(view: StoreSetup, associate_id: int | None) -> TeamWeek | None:
    return next((m for m in view.team if m.associate_id == associate_id), None)


def _context(
    session: Session,
    caller: Caller,
    store_id: int,
    *,
    forms: dict[str, Any],
    errors: dict[str, dict[str, str]],
    type_id: int | None,
    associate_id: int | None,
    saved: str | None,
) -> dict[str, Any]:
    view = store_setup(session, store_id)
    choices = _choices(session, caller)
    editing = next((t for t in view.types if t.id == type_id), None)
    member = _member(view, associate_id)
    shift_form = forms.get("shifts")
    if shift_form is None and member is not None:
        shift_form = ShiftForm(member.associate_id, member.name, week_form(member.week))
    zone = view.store.timezone
    return {
        "view": view, "store": view.store, "choices": choices, "fmt": Words(LOCALE, view.today),
        "zone": zone, "hours": forms.get("hours") or week_form(view.hours), "hours_words": HOURS_WORDS,
        "closure": forms.get("closures") or ClosureForm(),
        "type_form": forms.get("types") or (TypeForm.of(editing) if editing else TypeForm()),
        "settings_form": forms.get("settings") or SettingsForm.of(view.settings),
        "shift_form": shift_form, "shift_words": SHIFT_WORDS,
        "time_off": forms.get("time_off") or TimeOffForm(),
        "errors": errors, "refused": next((SECTIONS[s] for s in errors if s in SECTIONS), None),
        "saved": SAVED[saved][0] if saved in SAVED else None, "saved_section": saved,
        "kinds": [(k, KIND_LABELS.get(k, k.capitalize())) for k in APPOINTMENT_KINDS],
        "kind_label": lambda k: KIND_LABELS.get(k, k.capitalize()),
        "week_summary": week_summary, "url": lambda **p: _url(store_id, **p),
        "day_errors": _day_errors,
        "calendar_url": "/appointments?" + urlencode({"store": store_id}),
        "store_url": lambda s: _url(s.id),
    }  # fmt: skip


def _page(
    request: Request,
    session: Session,
    caller: Caller,
    store_id: int,
    *,
    forms: dict[str, Any] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    type_id: int | None = None,
    associate_id: int | None = None,
    saved: str | None = None,
    status_code: int = 200,
) -> Response:
    context = _context(session, caller, store_id, forms=forms or {}, errors=errors or {}, type_id=type_id,
                       associate_id=associate_id, saved=saved)  # fmt: skip
    response = render(request, "appointment_setup/page.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _saved(store_id: int, section: str) -> RedirectResponse:
    return RedirectResponse(_url(store_id, saved=section) + "#" + SAVED[section][1], status_code=303)


def _refused(
    request: Request, db: Database, caller: Caller, store_id: int, section: str, form: Any, errors: dict[str, str],
    *, status_code: int = 422, **open_: Any,
) -> Response:  # fmt: skip
    with db.read() as session:
        return _page(request, session, caller, store_id, forms={section: form}, errors={section: errors},
                     status_code=status_code, **open_)  # fmt: skip


@router.get(SETUP_PATH, name="appointment_setup")
def setup_page(
    request: Request,
    store: int | None = Query(None),
    type: int | None = Query(None),
    associate: int | None = Query(None),
    saved: str | None = Query(None, max_length=16),
    caller: Caller = Depends(page_caller),
    db: Database = Depends(database),
) -> Response:
    with db.read() as session:
        store_id = _store_for(session, caller, store)
        return _page(request, session, caller, store_id, type_id=type, associate_id=associate, saved=saved)


def _write(
    db: Database, caller: Caller, data: FormData, action: Callable[[Session, int], None]
) -> tuple[int, InvalidRecord | None]:
    """Check the caller may set up the posted store, then run one write; the refusal, if any."""
    requested = _posted_store(data)
    with db.read() as session:
        store_id = _store_for(session, caller, requested)
    try:
        with db.write() as session:
            action(session, store_id)
    except InvalidRecord as exc:
        return store_id, exc
    return store_id, None


@router.post(f"{SETUP_PATH}/hours", name="appointment_setup_hours")
def save_hours(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    days = posted_week(data)
    parsed: _Parsed = {}

    def write(session: Session, store_id: int) -> None:
        parsed.update(_parse_week(days, HOURS_WORDS))
        setup.set_opening_hours(session, store_id, _as_week(parsed))

    store_id, refusal = _write(db, caller, data, write)
    if refusal is not None:
        return _refused(request, db, caller, store_id, "hours", days, _week_errors(refusal, parsed, HOURS_WORDS))
    return _saved(store_id, "hours")


CLOSURE_FIELDS = ("first_day", "last_day", "reason")


@router.post(f"{SETUP_PATH}/closures", name="appointment_setup_closure")
def add_closure(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    form = ClosureForm(*(_text(data, f) for f in CLOSURE_FIELDS))

    def write(session: Session, store_id: int) -> None:
        first = _day("first_day", form.first_day)
        last = _day("last_day", form.last_day) if form.last_day.strip() else first  # one day when left blank
        setup.add_closure(session, store_id, first, last, form.reason)

    store_id, refusal = _write(db, caller, data, write)
    if refusal is not None:
        return _refused(request, db, caller, store_id, "closures", form, _field_errors(refusal, CLOSURE_FIELDS))
    return _saved(store_id, "closures")


TYPE_FIELDS = ("code", "kind", "name", "description", "duration_minutes", "buffer_before_minutes",
               "buffer_after_minutes", "virtual", "active")  # fmt: skip


@router.post(f"{SETUP_PATH}/types", name="appointment_setup_type")
def save_type(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    type_text = _text(data, "type_id").strip()
    form = TypeForm(
        type_id=int(type_text) if type_text.isdigit() else None, code=_text(data, "code"), kind=_text(data, "kind"),
        name=_text(data, "name"), description=_text(data, "description"),
        duration_minutes=_text(data, "duration_minutes"), buffer_before_minutes=_text(data, "buffer_before_minutes"),
        buffer_after_minutes=_text(data, "buffer_after_minutes"), virtual=data.get("virtual") is not None,
        active=data.get("active") is not None,
    )  # fmt: skip

    def write(session: Session, store_id: int) -> None:
        offered = {t.code: t for t in setup.types_at(session, store_id, include_inactive=True)}
        if form.type_id is not None:  # editing: the code is the type's own (a code is how it is found)
            mine = next((t for t in offered.values() if t.id == form.type_id), None)
            if mine is None:
                raise NotFound(f"appointment type {form.type_id} not found at this store")
            form.code = mine.code
        elif form.code.strip() in offered:
            taken = offered[form.code.strip()]
            raise InvalidRecord.one("code", f"“{taken.code}” is already the code of {taken.name}: edit that one")
        setup.save_appointment_type(
            session, store_id, code=form.code, kind=form.kind, name=form.name, description=form.description,
            duration_minutes=_whole("duration_minutes", form.duration_minutes),
            buffer_before_minutes=_whole("buffer_before_minutes", form.buffer_before_minutes or "0"),
            buffer_after_minutes=_whole("buffer_after_minutes", form.buffer_after_minutes or "0"),
            virtual=form.virtual, active=form.active,
        )  # fmt: skip

    store_id, refusal = _write(db, caller, data, write)
    if refusal is not None:
        return _refused(request, db, caller, store_id, "types", form, _field_errors(refusal, TYPE_FIELDS),
                        type_id=form.type_id)  # fmt: skip
    return _saved(store_id, "types")


SETTINGS_FIELDS = ("rooms", "slot_minutes", "min_notice_minutes", "max_days_ahead")


@router.post(f"{SETUP_PATH}/settings", name="appointment_setup_settings")
def save_settings(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    form = SettingsForm(*(_text(data, f) for f in SETTINGS_FIELDS))

    def write(session: Session, store_id: int) -> None:
        values = {f: _whole(f, getattr(form, f)) for f in SETTINGS_FIELDS}
        setup.save_settings(session, store_id, **values)

    store_id, refusal = _write(db, caller, data, write)
    if refusal is not None:
        return _refused(request, db, caller, store_id, "settings", form, _field_errors(refusal, SETTINGS_FIELDS))
    return _saved(store_id, "settings")


@router.post(f"{SETUP_PATH}/shifts", name="appointment_setup_shifts")
def save_shifts(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    days = posted_week(data)
    chosen = _text(data, "associate_id").strip()
    associate_id = int(chosen) if chosen.isdigit() else None
    parsed: _Parsed = {}
    form = ShiftForm(associate_id or 0, "", days)

    def write(session: Session, store_id: int) -> None:
        member = next((m for m in calendar.store_team(session, store_id) if m.id == associate_id), None)
        if member is None:
            raise InvalidRecord.one("form", "choose someone of this store's team")
        form.name = member.name
        parsed.update(_parse_week(days, SHIFT_WORDS))
        setup.set_working_hours(session, member.id, store_id, _as_week(parsed))

    store_id, refusal = _write(db, caller, data, write)
    if refusal is not None:
        return _refused(request, db, caller, store_id, "shifts", form if form.name else None,
                        _week_errors(refusal, parsed, SHIFT_WORDS), associate_id=associate_id)  # fmt: skip
    return _saved(store_id, "shifts")


TIME_OFF_FIELDS = ("associate_id", "starts_at", "ends_at", "reason")


@router.post(f"{SETUP_PATH}/time-off", name="appointment_setup_time_off")
def add_time_off(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    form = TimeOffForm(*(_text(data, f) for f in TIME_OFF_FIELDS))

    def write(session: Session, store_id: int) -> None:
        chosen = form.associate_id.strip()
        team = {m.id for m in calendar.store_team(session, store_id)}
        if not chosen.isdigit() or int(chosen) not in team:
            raise InvalidRecord.one("associate_id", "choose someone of this store's team")
        zone = ZoneInfo(calendar.stores(session, [store_id])[0].timezone)
        starts_at = _instant("starts_at", form.starts_at, zone)
        ends_at = _instant("ends_at", form.ends_at, zone)
        setup.add_time_off(session, int(chosen), starts_at, ends_at, form.reason)

    store_id, refusal = _write(db, caller, data, write)
    if refusal is not None:
        return _refused(request, db, caller, store_id, "time_off", form, _field_errors(refusal, TIME_OFF_FIELDS))
    return _saved(store_id, "time_off")


@router.post(f"{SETUP_PATH}/standard", name="appointment_setup_standard")
def use_standard_setup(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    """The standard set-up, for a store that has nothing yet (it would replace the hours of one that has)."""

    def write(session: Session, store_id: int) -> None:
        if not store_setup(session, store_id).is_blank:
            raise Conflict("this store is already set up: change its hours and types below")
        setup.default_setup(session, store_id)

    try:
        store_id, _ = _write(db, caller, data, write)
    except Conflict as exc:
        store_id = _posted_store(data)
        return _refused(request, db, caller, store_id, "standard", None, {"form": exc.message}, status_code=409)
    return _saved(store_id, "standard")
