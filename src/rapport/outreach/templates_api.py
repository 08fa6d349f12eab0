"""Message templates over HTTP: list, create, change, retire, and preview what a client would receive.

Every route takes :func:`~rapport.http.session_or_token_caller`: the composer calls these with the
signed-in associate's session (``X-CSRF-Token`` on writes), an integration with a bearer token.
Tokens read with ``read`` (or ``outreach:read``) and write with ``write`` (or ``outreach:write``);
people are judged by role (:func:`rapport.outreach.message_templates.can_manage_templates`: store
managers and head office write, every associate reads). Thin: parse, authorise, call
:mod:`rapport.outreach.message_templates`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.http import Caller, audit_actor, database, read_session, require_scope, session_or_token_caller
from rapport.outreach import message_templates, wording
from rapport.outreach.models import MESSAGE_CHANNELS

router = APIRouter(prefix="/templates", tags=["templates"])

READ, WRITE = "outreach:read", "outreach:write"
_FIELDS = ", ".join("{" + f + "}" for f in wording.FIELDS)
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Associates read templates; store managers and head office (or `outreach:write`) write."},
    404: {"description": "No such template (or client, associate, product)."},
    422: {"description": "A field is wrong; `errors` names each one."},
}


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200, examples=["Back in stock"], description="Unique, 1 to 100 characters.")
    channel: str | None = Field(
        default=None, description=f"{', '.join(MESSAGE_CHANNELS)}; none: usable on any channel."
    )
    subject: str | None = Field(default=None, max_length=1000, description="Email templates only (300 at most).")
    body: str = Field(
        max_length=40_000,
        description=f"1,600 characters at most (20,000 for email). Fields: {_FIELDS}; {{{{ and }}}} for braces.",
        examples=["Good news, {first_name}: the {product} you loved is back. {product_link}"],
    )
    language: str = Field(default="en", max_length=32, examples=["en", "fr"])
    whatsapp_approved: bool = Field(default=False, description="Approved by Meta (WhatsApp templates only).")
    provider_template_id: str | None = Field(
        default=None, max_length=100, description="The approved template's Twilio Content SID (HX + 32 hex digits)."
    )


class TemplatePatch(BaseModel):
    """Only the fields given change (checked with the rest); a retired template cannot change (409)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    channel: str | None = None
    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=40_000)
    language: str | None = Field(default=None, max_length=32)
    whatsapp_approved: bool | None = None
    provider_template_id: str | None = Field(default=None, max_length=100)


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    channel: str | None
    subject: str | None
    body: str
    language: str
    whatsapp_approved: bool
    provider_template_id: str | None
    active: bool
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    fields: list[str] = Field(description="The personalisation fields it uses.")


class FieldOut(BaseModel):
    name: str = Field(examples=["first_name"])
    marker: str = Field(examples=["{first_name}"])
    description: str


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template_id: int | None = Field(default=None, description="A saved template; `body`/`subject` given win.")
    body: str | None = Field(default=None, max_length=40_000, description="The text as typed (no template needed).")
    subject: str | None = Field(default=None, max_length=1000)
    channel: str | None = Field(default=None, description="The channel it would go on (else the template's).")
    customer_id: int
    associate_id: int | None = Field(
        default=None, description="Who writes it: a signed-in associate by default; required with a token."
    )
    product_id: int | None = None
    product_link: str | None = Field(default=None, max_length=1000, description="The tracked link, if already made.")
    look_link: str | None = Field(default=None, max_length=1000)


class PreviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    channel: str | None
    subject: str | None
    body: str = Field(description="As the client would read it; a field without a value shows as [field name].")
    missing: list[str] = Field(description="Fields used that have no value for this client.")
    missing_messages: list[str] = Field(examples=[["Alicia has no purchase yet: remove {last_purchase}"]])
    length: int = Field(description="Characters in the body.")
    sms_segments: int = Field(description="SMS parts: 160/153 characters (GSM-7) or 70/67 (UCS-2).")
    sms_encoding: str = Field(examples=["GSM-7", "UCS-2"])
    sms_units: int = Field(description="Septets (GSM-7, an extension character counts 2) or UTF-16 units.")


def _out(view: message_templates.TemplateView) -> TemplateOut:
    return TemplateOut.model_validate(view)


@router.get(
    "",
    response_model=list[TemplateOut],
    summary="Templates an associate may start from",
    description="Active templates by name; with `channel`, those made for it or for any channel. Head office and "
    "store managers may add `include_retired=true`.",
    responses={403: _ERRORS[403]},
)
def list_templates(
    channel: str | None = Query(None, description="email, sms or whatsapp."),
    include_retired: bool = Query(False),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> list[TemplateOut]:
    require_scope(caller, "read", "write", READ, WRITE)
    message_templates.require_view_templates(caller.actor)
    if include_retired:
        message_templates.require_manage_templates(caller.actor)
    found = message_templates.list_templates(session, channel=channel, include_retired=include_retired)
    return [_out(t) for t in found]


@router.get(
    "/fields",
    response_model=list[FieldOut],
    summary="The personalisation fields a template may use",
    responses={403: _ERRORS[403]},
)
def list_fields(caller: Caller = Depends(session_or_token_caller)) -> list[FieldOut]:
    require_scope(caller, "read", "write", READ, WRITE)
    message_templates.require_view_templates(caller.actor)
    return [FieldOut(name=n, marker="{" + n + "}", description=d) for n, d in wording.FIELDS.items()]


@router.post(
    "",
    response_model=TemplateOut,
    status_code=201,
    summary="Create a template",
    responses={403: _ERRORS[403], 422: _ERRORS[422]},
)
def create_template(
    body: TemplateIn,
    request: Request,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> TemplateOut:
    require_scope(caller, "write", WRITE)
    message_templates.require_manage_templates(caller.actor)
    with db.write() as session:
        view = message_templates.create_template(
            session, caller.associate_id, **body.model_dump(), actor=audit_actor(caller, request)
        )
    return _out(view)


@router.post(
    "/preview",
    response_model=PreviewOut,
    summary="What the client would receive",
    description="The template (or the text as typed) filled for the client: missing fields show as `[field name]` "
    "and are listed, with the SMS length in segments. Nothing is saved or sent.",
    responses={403: _ERRORS[403], 404: _ERRORS[404], 422: _ERRORS[422]},
)
def preview_template(
    body: PreviewIn,
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> PreviewOut:
    require_scope(caller, "read", "write", READ, WRITE)
    message_templates.require_view_templates(caller.actor)
    associate_id = body.associate_id if body.associate_id is not None else caller.associate_id
    if associate_id is None:
        raise InvalidRecord.one("associate_id", "say which associate writes the message")
    links = {"product_link": body.product_link or "", "look_link": body.look_link or ""}
    seen = message_templates.preview(
        session,
        template_id=body.template_id,
        body=body.body,
        subject=body.subject,
        channel=body.channel,
        customer_id=body.customer_id,
        associate_id=associate_id,
        product_id=body.product_id,
        extra={k: v for k, v in links.items() if v},
    )
    return PreviewOut.model_validate(seen)


@router.get(
    "/{template_id}",
    response_model=TemplateOut,
    summary="One template",
    responses={403: _ERRORS[403], 404: _ERRORS[404]},
)
def get_template(
    template_id: int,
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> TemplateOut:
    require_scope(caller, "read", "write", READ, WRITE)
    message_templates.require_view_templates(caller.actor)
    return _out(message_templates.get_template(session, template_id))


@router.patch(
    "/{template_id}",
    response_model=TemplateOut,
    summary="Change a template",
    responses={403: _ERRORS[403], 404: _ERRORS[404], 409: {"description": "Retired."}, 422: _ERRORS[422]},
)
def update_template(
    template_id: int,
    body: TemplatePatch,
    request: Request,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> TemplateOut:
    require_scope(caller, "write", WRITE)
    message_templates.require_manage_templates(caller.actor)
    changes = body.model_dump(exclude_unset=True)
    with db.write() as session:
        view = message_templates.update_template(
            session, caller.associate_id, template_id, actor=audit_actor(caller, request), **changes
        )
    return _out(view)


@router.post(
    "/{template_id}/retire",
    response_model=TemplateOut,
    summary="Retire a template",
    description="Out of every list for good; kept, since the messages sent from it refer to it. Twice is once.",
    responses={403: _ERRORS[403], 404: _ERRORS[404]},
)
def retire_template(
    template_id: int,
    request: Request,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> TemplateOut:
    require_scope(caller, "write", WRITE)
    message_templates.require_manage_templates(caller.actor)
    with db.write() as session:
        view = message_templates.retire_template(
            session, caller.associate_id, template_id, actor=audit_actor(caller, request)
        )
    return _out(view)
