"""The signed-in associate's own screens over JSON: ``GET /api/v1/me/home`` (API parity with the home screen)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from rapport.associates import home
from rapport.customers.schemas import Schema
from rapport.errors import PermissionDenied
from rapport.http import Caller, read_session, session_or_token_caller

router = APIRouter(prefix="/me", tags=["me"])


class ClientCardOut(Schema):
    id: int = Field(description="Open the profile at /clients/{id}.")
    name: str
    initials: str
    city: str | None
    country: str | None
    tier: str | None
    home_store: str | None
    assigned_associate_id: int | None
    last_purchase_at: datetime | None


class RecentClientOut(Schema):
    client: ClientCardOut = Field(validation_alias="card")
    viewed_at: datetime


class NewAssignmentOut(Schema):
    notification_id: int
    title: str
    body: str
    link: str = Field(description="Where the app opens it: the client, or the client book for several.")
    customer_id: int | None
    created_at: datetime


class HomeItemOut(Schema):
    title: str
    at: datetime | None
    detail: str
    link: str | None
    customer_id: int | None


class HomeOut(BaseModel):
    associate_id: int
    recent_clients: list[RecentClientOut] = Field(description="The last 10 distinct clients viewed, newest first.")
    new_assignments: list[NewAssignmentOut] = Field(description="Unread notifications of clients newly in my book.")
    unread_notifications: int
    appointments: list[HomeItemOut] = Field(description="Today's appointments (empty until appointments exist).")
    tasks: list[HomeItemOut] = Field(description="Open tasks (empty until next actions exist).")
    sections_available: list[str] = Field(description="Which of appointments/tasks a capability provides yet.")


@router.get("/home", response_model=HomeOut, summary="My home screen: recent clients, new assignments, today")
def my_home(caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)) -> HomeOut:
    if caller.associate_id is None:
        raise PermissionDenied("an integration token has no home screen: sign in as an associate")
    screen = home.home_screen(session, caller.associate_id)
    return HomeOut(
        associate_id=screen.associate_id,
        recent_clients=[RecentClientOut.model_validate(r) for r in screen.recent_clients],
        new_assignments=[NewAssignmentOut.model_validate(a) for a in screen.new_assignments],
        unread_notifications=screen.unread_notifications,
        appointments=[HomeItemOut.model_validate(i) for i in screen.appointments],
        tasks=[HomeItemOut.model_validate(i) for i in screen.tasks],
        sections_available=list(screen.sections_available),
    )
