"""The message templates pages: the list, one template with its preview, the editor with a live preview.

* ``GET /templates`` — active templates by name (``?channel=`` narrows), the retired ones folded away.
* ``GET /templates/{id}`` — one template, filled for a sample client (loaded after the page).
* ``GET /templates/new`` + ``POST /templates``; ``GET /templates/{id}/edit`` + ``POST /templates/{id}``;
  ``POST /templates/{id}/retire``.
* ``GET /templates/preview`` answers the editor's HTMX requests: the text as typed, filled for the
  chosen sample client, with the fields that have no value and the SMS segments; nothing is saved.

Store managers and head office write templates; every associate may read them (they start their
messages from them). Thin: parse the form, authorise (:mod:`rapport.outreach.message_templates`), call, render.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, QueryParams

from rapport.db import Database
from rapport.errors import FieldError, InvalidRecord
from rapport.http import Caller, audit_actor, csrf_checked, database, page_caller, read_session
from rapport.outreach import message_templates, wording
from rapport.outreach.models import MESSAGE_CHANNELS
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

CHANNEL_NAMES = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp"}
CHANNELS = (("", "Any channel"), *((c, CHANNEL_NAMES[c]) for c in MESSAGE_CHANNELS))
LABELS = {
    "name": "Name",
    "channel": "Channel",
    "subject": "Subject",
    "body": "Message",
    "language": "Language",
    "whatsapp_approved": "Approved for WhatsApp",
    "provider_template_id": "Content SID",
    "extra": "Links",
}


@dataclass
class TemplateForm:
    """The editor as typed (so it shows back unchanged after a refusal)."""

    name: str = ""
    channel: str = ""
    subject: str = ""
    body: str = ""
    language: str = "en"
    whatsapp_approved: bool = False
    provider_template_id: str = ""
    sample: str = ""
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def parse(cls, data: FormData | QueryParams) -> TemplateForm:
        def one(name: str, limit: int) -> str:
            value = data.get(name)
            return value[:limit] if isinstance(value, str) else ""

        return cls(
            name=one("name", message_templates.NAME_MAX + 50).strip(),
            channel=one("channel", 20).strip(),
            subject=one("subject", message_templates.SUBJECT_MAX + 50).strip(),
            body=one("body", max(message_templates.BODY_MAX.values()) + 100).replace("\r\n", "\n"),
            language=one("language", 30).strip() or "en",
            whatsapp_approved=one("whatsapp_approved", 5) in ("1", "on", "true"),
            provider_template_id=one("provider_template_id", 100).strip(),
            sample=one("sample", 20).strip(),
        )

    @classmethod
    def of(cls, template: message_templates.TemplateView) -> TemplateForm:
        return cls(
            name=template.name,
            channel=template.channel or "",
            subject=template.subject or "",
            body=template.body,
            language=template.language,
            whatsapp_approved=template.whatsapp_approved,
            provider_template_id=template.provider_template_id or "",
        )

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channel": self.channel or None,
            "subject": self.subject or None,
            "body": self.body,
            "language": self.language,
            "whatsapp_approved": self.whatsapp_approved,
            "provider_template_id": self.provider_template_id or None,
        }


def _messages(errors: list[FieldError]) -> list[str]:
    return [f"{LABELS.get(e.field, e.field)}: {e.message}" for e in errors]


def _sample_id(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None


@dataclass
class PagePreview:
    """The preview panel: the filled message, or why there is none."""

    preview: message_templates.Preview | None = None
    problems: list[str] = field(default_factory=list)
    samples: list[wording.SampleClient] = field(default_factory=list)
    sample_id: int | None = None
    #: A saved template's preview (its own page) rather than the editor's text.
    template_id: int | None = None
    empty: str | None = None


def _preview(
    session: Session,
    caller: Caller,
    *,
    sample: str,
    template_id: int | None = None,
    body: str | None = None,
    subject: str | None = None,
    channel: str | None = None,
) -> PagePreview:
    samples = wording.sample_clients(session, caller.associate_id)
    wanted = _sample_id(sample)
    chosen = wanted if wanted is not None and any(s.customer_id == wanted for s in samples) else None
    if chosen is None and samples:
        chosen = samples[0].customer_id
    out = PagePreview(samples=samples, sample_id=chosen, template_id=template_id)
    if chosen is None:
        out.empty = "There is no client yet to preview against."
        return out
    if template_id is None and not (body or "").strip():
        out.empty = "Write the message to see it as the client would read it."
        return out
    try:
        out.preview = message_templates.preview(
            session,
            template_id=template_id,
            body=body,
            subject=subject if channel == "email" or template_id is not None else None,
            channel=channel,
            customer_id=chosen,
            associate_id=caller.id,
        )
    except InvalidRecord as exc:
        out.problems = _messages(exc.errors)
    return out


def _form_context(
    session: Session, caller: Caller, form: TemplateForm, template: message_templates.TemplateView | None = None
) -> dict[str, Any]:
    return {
        "form": form,
        "template": template,
        "channels": CHANNELS,
        "fields": wording.describe_fields(),
        "problems": _messages(form.errors),
        "panel": _preview(
            session, caller, sample=form.sample, body=form.body, subject=form.subject, channel=form.channel or None
        ),
    }


async def _form(request: Request) -> FormData:
    """The posted form (already parsed by the CSRF check; Starlette keeps it)."""
    return await request.form()


# -- list and one template --------------------------------------------------------------------------------


@router.get("/templates", name="message_templates")
def template_list(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    message_templates.require_view_templates(caller.actor)
    channel = request.query_params.get("channel", "")
    channel = channel if channel in MESSAGE_CHANNELS else ""
    may_manage = message_templates.can_manage_templates(caller.actor)
    found = message_templates.list_templates(session, channel=channel or None, include_retired=may_manage)
    return render(
        request,
        "message_templates/list.html",
        {
            "active": [t for t in found if t.active],
            "retired": [t for t in found if not t.active],
            "channel": channel,
            "channels": CHANNELS,
            "channel_names": CHANNEL_NAMES,
            "may_manage": may_manage,
            "when": when,
        },
    )


@router.get("/templates/new", name="message_template_new")
def template_new(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    message_templates.require_manage_templates(caller.actor)
    return render(request, "message_templates/form.html", _form_context(session, caller, TemplateForm()))


@router.get("/templates/preview", name="message_template_preview")
def template_preview(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    """The preview panel for the editor as it stands, or for a saved template (HTMX); nothing is saved."""
    message_templates.require_view_templates(caller.actor)
    params = request.query_params
    saved = _sample_id(params.get("template_id", ""))
    if saved is not None:
        panel = _preview(session, caller, sample=params.get("sample", ""), template_id=saved)
    else:
        form = TemplateForm.parse(params)
        panel = _preview(
            session, caller, sample=form.sample, body=form.body, subject=form.subject, channel=form.channel or None
        )
    return render(request, "message_templates/_preview.html", {"panel": panel})


@router.get("/templates/{template_id}", name="message_template")
def template_page(
    request: Request, template_id: int, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    message_templates.require_view_templates(caller.actor)
    template = message_templates.get_template(session, template_id)
    return render(
        request,
        "message_templates/template.html",
        {
            "template": template,
            "channel_names": CHANNEL_NAMES,
            "fields": wording.describe_fields(template.fields),
            "may_manage": message_templates.can_manage_templates(caller.actor),
            "panel": _preview(session, caller, sample=request.query_params.get("sample", ""), template_id=template_id),
            "saved": request.query_params.get("saved") == "1",
            "when": when,
        },
    )


# -- create, change, retire ----------------------------------------------------------------------------


@router.post("/templates", name="message_template_create")
def template_create(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    message_templates.require_manage_templates(caller.actor)
    form = TemplateForm.parse(data)
    try:
        with db.write() as session:
            view = message_templates.create_template(
                session, caller.id, **form.values(), actor=audit_actor(caller, request)
            )
    except InvalidRecord as exc:
        form.errors = exc.errors
        with db.read() as session:
            context = _form_context(session, caller, form)
        return render(request, "message_templates/form.html", context, status_code=422)
    return RedirectResponse(f"/templates/{view.id}?saved=1", status_code=303)


@router.get("/templates/{template_id}/edit", name="message_template_edit")
def template_edit(
    request: Request, template_id: int, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    message_templates.require_manage_templates(caller.actor)
    template = message_templates.get_template(session, template_id)
    if not template.active:
        return RedirectResponse(f"/templates/{template_id}", status_code=303)
    context = _form_context(session, caller, TemplateForm.of(template), template)
    return render(request, "message_templates/form.html", context)


@router.post("/templates/{template_id}", name="message_template_update")
def template_update(
    request: Request,
    template_id: int,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    message_templates.require_manage_templates(caller.actor)
    form = TemplateForm.parse(data)
    try:
        with db.write() as session:
            message_templates.update_template(
                session, caller.id, template_id, actor=audit_actor(caller, request), **form.values()
            )
    except InvalidRecord as exc:
        form.errors = exc.errors
        with db.read() as session:
            template = message_templates.get_template(session, template_id)
            context = _form_context(session, caller, form, template)
        return render(request, "message_templates/form.html", context, status_code=422)
    return RedirectResponse(f"/templates/{template_id}?saved=1", status_code=303)


@router.post("/templates/{template_id}/retire", name="message_template_retire")
def template_retire(
    request: Request, template_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    message_templates.require_manage_templates(caller.actor)
    with db.write() as session:
        message_templates.retire_template(session, caller.id, template_id, actor=audit_actor(caller, request))
    return RedirectResponse(f"/templates/{template_id}", status_code=303)
