"""The associate's home screen: what to look at first when the shift starts or a client walks in.

* **Recently viewed clients** — from the audit log (every profile view is recorded there): the
  last distinct clients this associate opened, newest first, each one tap from their profile.
* **New assignments** — the unread "clients assigned" items of the notification feed: clients the
  assignment rules or a manager put in this associate's book since they last cleared the feed.
* **Today's appointments** and **open tasks** — sections filled by the capabilities that own
  them (appointments, next actions) through :func:`register_section`. Until one registers, the
  section is shown empty ("nothing scheduled"), never with invented items.

Bounded work: at most two pages of the associate's own view events (an indexed range on
``(actor_kind, actor_id, at)``), one feed query, one unread count and the cards of at most ten
clients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from rapport.associates import audit, notifications
from rapport.customers.cards import ClientCard, client_cards

RECENT_LIMIT = 10
NEW_ASSIGNMENTS_LIMIT = 5
#: Audit events read per page while looking for distinct clients, and how many pages at most.
_VIEW_PAGE = 100
_VIEW_PAGES = 3
ASSIGNED_KIND = "clients_assigned"
#: Where a notification about many clients sends the associate.
BOOK_PATH = "/clients/book"


@dataclass(frozen=True)
class HomeItem:
    """One line of a section a capability provides (an appointment, a task)."""

    title: str
    at: datetime | None = None
    detail: str = ""
    link: str | None = None
    customer_id: int | None = None


#: ``(session, associate_id) -> items`` for a section of the home screen.
SectionProvider = Callable[[Session, int], list[HomeItem]]
SECTIONS = ("appointments", "tasks")
_providers: dict[str, SectionProvider] = {}


def register_section(name: str, provider: SectionProvider) -> None:
    """Fill a home section ("appointments": today's, "tasks": open ones) from its capability."""
    if name not in SECTIONS:
        raise ValueError(f"unknown home section {name!r}; one of {', '.join(SECTIONS)}")
    _providers[name] = provider


def unregister_section(name: str) -> None:
    _providers.pop(name, None)


def has_section(name: str) -> bool:
    return name in _providers


@dataclass(frozen=True)
class RecentClient:
    card: ClientCard
    viewed_at: datetime


@dataclass(frozen=True)
class NewAssignment:
    notification_id: int
    title: str
    body: str
    link: str
    customer_id: int | None
    created_at: datetime


@dataclass
class HomeScreen:
    associate_id: int
    recent_clients: list[RecentClient]
    new_assignments: list[NewAssignment]
    unread_notifications: int
    appointments: list[HomeItem] = field(default_factory=list)
    tasks: list[HomeItem] = field(default_factory=list)
    #: Which sections have a capability behind them (the others are shown as "not set up yet").
    sections_available: tuple[str, ...] = ()


def recent_clients(session: Session, associate_id: int, *, limit: int = RECENT_LIMIT) -> list[RecentClient]:
    """The last ``limit`` distinct clients this associate viewed, newest first (merged ones as their survivor)."""
    seen: dict[int, datetime] = {}
    cursor = None
    for _ in range(_VIEW_PAGES):
        page = audit.list_events(
            session,
            actor=("associate", associate_id),
            actions=[audit.VIEWED],
            limit=_VIEW_PAGE,
            cursor=cursor,
        )
        for event in page.events:
            if event.customer_id is not None and event.customer_id not in seen:
                seen[event.customer_id] = event.at
        cursor = page.next_cursor
        if len(seen) >= limit or cursor is None:
            break
    cards = client_cards(session, seen)
    out: list[RecentClient] = []
    shown: set[int] = set()
    for customer_id, at in seen.items():  # newest first: the audit log is read newest first
        card = cards.get(customer_id)
        if card is None or card.id in shown:  # gone, or merged into a client already listed
            continue
        shown.add(card.id)
        out.append(RecentClient(card, at))
        if len(out) == limit:
            break
    return out


def new_assignments(session: Session, associate_id: int, *, limit: int = NEW_ASSIGNMENTS_LIMIT) -> list[NewAssignment]:
    """Unread notifications of clients put in this associate's book, newest first."""
    items = notifications.list_for(session, associate_id, unread_only=True, limit=notifications.MAX_LIMIT)
    out = []
    for item in items:
        if item.kind != ASSIGNED_KIND:
            continue
        out.append(
            NewAssignment(
                notification_id=item.id,
                title=item.title,
                body=item.body,
                link=local_link(item.link, item.customer_id),
                customer_id=item.customer_id,
                created_at=item.created_at,
            )
        )
        if len(out) == limit:
            break
    return out


def local_link(link: str | None, customer_id: int | None = None) -> str:
    """Where a notification leads in the app: its own path if it is one of ours, else the client or the book."""
    if link and link.startswith("/") and not link.startswith("//") and "\\" not in link:
        return BOOK_PATH if link.rstrip("/") == "/clientbook" else link
    if customer_id is not None:
        return f"/clients/{customer_id}"
    return BOOK_PATH


def home_screen(session: Session, associate_id: int) -> HomeScreen:
    screen = HomeScreen(
        associate_id=associate_id,
        recent_clients=recent_clients(session, associate_id),
        new_assignments=new_assignments(session, associate_id),
        unread_notifications=notifications.unread_count(session, associate_id),
        sections_available=tuple(name for name in SECTIONS if name in _providers),
    )
    if "appointments" in _providers:
        screen.appointments = _providers["appointments"](session, associate_id)
    if "tasks" in _providers:
        screen.tasks = _providers["tasks"](session, associate_id)
    return screen
