"""New client at the counter: a short form, likely duplicates shown while typing, consent captured.

* ``GET /clients/new`` — the form (the associate's store is the counter; phones are read in its country).
* ``GET /clients/new/duplicates`` — the HTMX fragment of likely duplicates for what is typed so far.
* ``POST /clients/new`` — create (through ingestion) and open the new profile; or show the form
  again with each problem next to its field, or with the existing client to open instead.

Thin: parse, authorise, call :mod:`rapport.customers.counter`, render.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from rapport.associates import users
from rapport.associates.permissions import ADMIN, VIRTUAL_ASSOCIATE, require_view_client
from rapport.clientbook.team import BookOwner, book_owner
from rapport.customers import counter
from rapport.db import Database
from rapport.errors import InvalidRecord, PermissionDenied
from rapport.http import Caller, audit_actor, csrf_checked, database, page_caller, read_session
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

#: Bounds on what is read from the form at all; the clear per-field limits are the service's.
_TEXT = 1000
ONLINE = ""


def _text(values: Any, name: str) -> str:
    value = values.get(name, "")
    return value[:_TEXT] if isinstance(value, str) else ""


def _stores(session: Session, caller: Caller) -> list[users.StoreRef]:
    return users.stores_by_id(session, caller.store_ids)


def _default_store(owner: BookOwner, stores: list[users.StoreRef]) -> str:
    if owner.home_store_code:
        return owner.home_store_code
    return stores[0].code if stores else ONLINE


def _online_allowed(caller: Caller, stores: list[users.StoreRef]) -> bool:
    """Online experts and head office may register a client at no store (an online desk)."""
    return not stores or caller.role in (ADMIN, VIRTUAL_ASSOCIATE)


def _chosen_store(caller: Caller, stores: list[users.StoreRef], raw: str, default: str) -> str:
    """The counter's store code: one of the associate's stores, or none where an online desk is allowed."""
    raw = raw.strip()
    if not raw:
        return ONLINE if _online_allowed(caller, stores) else default
    if raw not in {s.code for s in stores} and caller.role != ADMIN:
        raise PermissionDenied("register clients at one of your own stores")
    return raw


def _form_context(
    session: Session, caller: Caller, values: dict[str, Any], *, store: str | None = None
) -> dict[str, Any]:
    owner = book_owner(session, caller.id)
    stores = _stores(session, caller)
    chosen = store if store is not None else _default_store(owner, stores)
    desk = counter.counter_at(session, chosen or None, owner.country)
    return {
        "values": values,
        "stores": stores,
        "store": chosen,
        "online_allowed": _online_allowed(caller, stores),
        "desk": desk,
        "channels": [(c, counter.CONSENT_LABELS[c]) for c in counter.CONSENT_CHANNELS],
        "errors": {},
        "duplicates": [],
        "blocking": False,
        "confirm": False,
        "when": when,
        "max_name": counter.NAME_MAX,
    }


@router.get("/clients/new", name="new_client")
def new_client_form(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    require_view_client(caller.actor)
    values = {"first_name": "", "last_name": "", "email": "", "phone": "", "consent": [], "assign_to_me": True}
    return render(request, "newclient/form.html", _form_context(session, caller, values))


@router.get("/clients/new/duplicates", name="new_client_duplicates")
def duplicates(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    """Likely duplicates of what is typed so far (HTMX, on every pause in typing)."""
    require_view_client(caller.actor)
    p = request.query_params
    owner = book_owner(session, caller.id)
    stores = _stores(session, caller)
    store = _chosen_store(caller, stores, _text(p, "store"), _default_store(owner, stores))
    desk = counter.counter_at(session, store or None, owner.country)
    found = counter.likely_duplicates(
        session,
        desk,
        first_name=_text(p, "first_name"),
        last_name=_text(p, "last_name"),
        email=_text(p, "email"),
        phone=_text(p, "phone"),
    )
    context = {"duplicates": found, "blocking": any(d.same_identifier for d in found), "confirm": False, "when": when}
    return render(request, "newclient/_duplicates.html", context)


@router.post("/clients/new", name="new_client_submit")
async def new_client_submit(
    request: Request, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    form = await request.form()
    values: dict[str, Any] = {
        "first_name": _text(form, "first_name"),
        "last_name": _text(form, "last_name"),
        "email": _text(form, "email"),
        "phone": _text(form, "phone"),
        "consent": [c for c in form.getlist("consent") if isinstance(c, str)][:10],
        "assign_to_me": form.get("assign_to_me") == "1",
    }
    create_anyway = form.get("create_anyway") == "1"
    with db.read() as session:
        owner = book_owner(session, caller.id)
        stores = _stores(session, caller)
        store = _chosen_store(caller, stores, _text(form, "store"), _default_store(owner, stores))
        region = owner.country
    who = audit_actor(caller, request)
    try:
        done = counter.register_client(
            db,
            counter.NewClient(
                values["first_name"], values["last_name"], values["email"], values["phone"], values["consent"]
            ),
            store_code=store or None,
            actor=who,
            assign_to=caller.id if values["assign_to_me"] else None,
            create_anyway=create_anyway,
            fallback_region=region,
        )
    except InvalidRecord as exc:
        with db.read() as session:
            context = _form_context(session, caller, values, store=store)
        context["errors"] = {e.field: e.message for e in exc.errors}
        return render(request, "newclient/form.html", context, status_code=422)
    except counter.LikelyDuplicates as exc:
        with db.read() as session:
            context = _form_context(session, caller, values, store=store)
        context.update(duplicates=exc.duplicates, blocking=exc.blocking, confirm=not exc.blocking, notice=exc.message)
        return render(request, "newclient/form.html", context, status_code=409)
    return RedirectResponse(f"/clients/{done.customer_id}", status_code=303)
