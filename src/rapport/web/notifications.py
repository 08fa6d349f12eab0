"""The notification feed screen: new clients in my book and the like, newest first; open one, mark read.

Opening an item is one tap: a small form that marks it read and goes where it points (a POST,
with the session's CSRF token, since it changes the feed). Marking read without opening, one at a
time (HTMX swaps the item in place) or all at once, is there too.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport.associates import notifications
from rapport.associates.home import local_link
from rapport.db import Database
from rapport.errors import NotFound
from rapport.http import Caller, csrf_checked, database, page_caller, read_session
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

FEED_LIMIT = 50


def _item_view(item: notifications.NotificationView) -> dict[str, object]:
    return {"item": item, "href": local_link(item.link, item.customer_id)}


@router.get("/notifications", name="notifications")
def feed(request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)) -> Response:
    items = notifications.list_for(session, caller.id, limit=FEED_LIMIT)
    context = {
        "entries": [_item_view(i) for i in items],
        "unread": notifications.unread_count(session, caller.id),
        "when": when,
    }
    return render(request, "notifications/feed.html", context)


def _own(session: Session, caller: Caller, notification_id: int) -> notifications.NotificationView:
    """The caller's notification; someone else's is as good as missing."""
    item = notifications.get(session, notification_id)
    if item.associate_id != caller.id:
        raise NotFound(f"notification {notification_id} not found")
    return item


@router.post("/notifications/read", name="notifications_read_all")
def mark_all_read(caller: Caller = Depends(csrf_checked), db: Database = Depends(database)) -> Response:
    with db.write() as session:
        notifications.mark_read(session, caller.id)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/{notification_id}/read", name="notification_read")
def mark_one_read(
    request: Request, notification_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    with db.write() as session:
        _own(session, caller, notification_id)
        notifications.mark_read(session, caller.id, [notification_id])
        item = notifications.get(session, notification_id)
    if request.headers.get("hx-request") == "true":
        return render(request, "notifications/_item.html", {**_item_view(item), "when": when})
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/{notification_id}/open", name="notification_open")
def open_item(
    notification_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    """Mark read and go where the notification points (only ever a page of this app)."""
    with db.write() as session:
        item = _own(session, caller, notification_id)
        notifications.mark_read(session, caller.id, [notification_id])
    return RedirectResponse(local_link(item.link, item.customer_id), status_code=303)
