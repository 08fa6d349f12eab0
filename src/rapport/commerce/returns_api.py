"""Returns in store over HTTP: find the order at the counter, take it back, read the receipt.

Every route takes :func:`~rapport.http.session_or_token_caller` — an integration token, or the
signed-in associate's session (``X-CSRF-Token`` on writes) — and the same rules as the screens: any
associate finds orders (they show the client, as a profile does); an associate or store manager
takes returns at their own stores, head office anywhere; a token reads with ``read`` and records
with ``write``. Every return is audited (``return.recorded``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from rapport.associates.permissions import require_view_client
from rapport.commerce import store_returns
from rapport.commerce.schemas import OrderForReturnOut, ReturnIn, ReturnOut
from rapport.db import Database
from rapport.http import Caller, audit_actor, database, read_session, require_scope, session_or_token_caller

router = APIRouter(prefix="/returns", tags=["returns"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not one of your stores, or a token without the scope."},
    404: {"description": "No such order or return."},
    409: {"description": "The idempotency key was used for the return of another order."},
    422: {"description": "More than is left to return, a line of another order, a cancelled order, no reason; "
                 "each error names its field (`lines.0.quantity`)."},
}  # fmt: skip


def _require(caller: Caller, scope: str) -> None:
    require_scope(caller, scope)
    if caller.kind == "associate":
        require_view_client(caller.actor)


def _out(receipt: store_returns.ReturnReceipt) -> ReturnOut:
    return ReturnOut.model_validate(receipt)


@router.get(
    "/orders",
    response_model=list[OrderForReturnOut],
    summary="Find the orders a client brings back",
    description="Recent orders from any channel, newest first, whose order number (or id in their source) is `q`, "
    "or placed by the client whose email or phone `q` is — a merged client's orders under either address. Phone "
    "numbers without a country code are read in `region` (default: the associate's store's country). Each line "
    "says how many units were bought, returned already and can be returned now. 422 naming `q` when it can be "
    "none of those.",
    responses={422: {"description": "Too short, half an email address, not a phone number."}},
)
def find_orders(
    q: str = Query(..., max_length=store_returns.MAX_QUERY, description="Order number, email or phone."),
    limit: int = Query(store_returns.DEFAULT_LIMIT, ge=1, le=store_returns.MAX_LIMIT),
    region: str | None = Query(None, pattern=r"^[A-Za-z]{2}$", description="ISO country for local phone numbers."),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> list[OrderForReturnOut]:
    _require(caller, "read")
    where = region or store_returns.phone_region(session, caller.store_ids)
    found = store_returns.find_orders(session, q, limit=limit, region=where)
    return [OrderForReturnOut.model_validate(o) for o in found]


@router.post(
    "",
    response_model=ReturnOut,
    status_code=201,
    summary="Take a return in store",
    description="Records the return against the order's lines: the channel the goods were bought on (an online "
    "order stays `online`) and the store they came back to. Units that can be sold again go back on that store's "
    "shelf; damaged ones (`sellable: false`) are recorded and kept out of stock. The refund is what was paid for "
    "the units unless a lower `refund_minor` is given. The client's timeline and figures count it at once. "
    "The same `idempotency_key` again answers 200 with the return already recorded. Audited as `return.recorded`.",
    responses={200: {"description": "Recorded before with this idempotency key.", "model": ReturnOut}, **_ERRORS},
)
def take_return(
    request: Request,
    response: Response,
    body: ReturnIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> ReturnOut:
    _require(caller, "write")
    overrides = [line.refund_minor for line in body.lines]
    with db.write() as session:
        store = store_returns.store_by_code(session, body.store)
        receipt = store_returns.return_in_store(
            session,
            order_id=body.order_id,
            store_id=store.id,
            lines=[store_returns.LineIn(x.order_line_id, x.quantity, x.sellable) for x in body.lines],
            reason=body.reason,
            associate_id=caller.associate_id,
            refund_override=overrides if any(x is not None for x in overrides) else None,
            idempotency_key=body.idempotency_key,
            actor=caller.actor,
            who=audit_actor(caller, request),
        )
    if not receipt.created:
        response.status_code = 200
    return _out(receipt)


@router.get("/{return_id}", response_model=ReturnOut, summary="One return, as its receipt", responses=_ERRORS)
def get_return(
    return_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> ReturnOut:
    _require(caller, "read")
    return _out(store_returns.get_return(session, return_id))
