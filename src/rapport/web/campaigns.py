"""Head office's campaign pages: the list, the form with a live preview, the launch, the progress.

* ``GET /campaigns`` — every campaign, newest first (head office and store managers).
* ``GET /campaigns/new`` + ``POST /campaigns`` — a draft: name, message, channel, timing and the
  segment's filters. ``GET /campaigns/preview`` answers the form's HTMX requests: the counts move
  as the filters change, before anything is saved.
* ``GET /campaigns/{id}`` — a draft with its preview (loaded after the page), or a launched
  campaign's progress; ``/edit`` + ``POST /campaigns/{id}`` change a draft.
* ``GET /campaigns/{id}/launch`` shows the counts once more; ``POST`` launches. ``POST .../cancel``.

Thin: parse the form, authorise (:mod:`rapport.tasks.campaigns`), call the service, render.
Launching and changing are head office's (``admin``); store managers may look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, QueryParams

from rapport.customers.models import CONSENT_CHANNELS
from rapport.db import Database
from rapport.errors import FieldError, InvalidRecord
from rapport.http import Caller, audit_actor, csrf_checked, database, page_caller, read_session
from rapport.tasks import campaigns, segments
from rapport.tasks.models import Campaign
from rapport.web.templating import render
from rapport.web.when import when

router = APIRouter(include_in_schema=False)

#: Text fields holding a comma-separated list.
LIST_FIELDS = ("countries", "cities", "tiers", "tags_any", "tags_all", "tags_none", "purchased_categories",
               "purchased_brands")  # fmt: skip
#: Plain text fields passed to the segment as typed (it checks them).
TEXT_FIELDS = ("currency", "min_spend", "max_spend", "min_orders", "max_orders", "min_aov", "max_aov",
               "last_purchase_after", "last_purchase_before", "no_purchase_days", "purchased_within_days")  # fmt: skip
PERIODS = ((30, "30 days"), (90, "3 months"), (180, "6 months"), (365, "12 months"), (730, "2 years"))
CHANNEL_NAMES = {"email": "Email", "sms": "SMS", "whatsapp": "WhatsApp", "phone": "Phone"}
CHANNELS = (("", "Any channel the client consented to"), *((c, CHANNEL_NAMES.get(c, c)) for c in CONSENT_CHANNELS))
LABELS = {
    "name": "Name",
    "message": "Message",
    "channel": "Channel",
    "due_in_days": "Due in",
    "expires_in_days": "Expires after",
    "segment.stores": "Home stores",
    "segment.assigned": "Client book",
    "segment.countries": "Countries",
    "segment.cities": "Cities",
    "segment.tiers": "Tiers",
    "segment.tags_any": "Tagged any of",
    "segment.tags_all": "Tagged all of",
    "segment.tags_none": "Not tagged",
    "segment.preferences": "Preferences",
    "segment.consent": "Consented to",
    "segment.currency": "Currency",
    "segment.period_days": "Period",
    "segment.min_spend": "Spent at least",
    "segment.max_spend": "Spent at most",
    "segment.min_orders": "Orders, at least",
    "segment.max_orders": "Orders, at most",
    "segment.min_aov": "Average order, at least",
    "segment.max_aov": "Average order, at most",
    "segment.last_purchase_after": "Bought on or after",
    "segment.last_purchase_before": "Last bought before",
    "segment.no_purchase_days": "No purchase for",
    "segment.purchased_categories": "Bought in categories",
    "segment.purchased_brands": "Bought brands",
    "segment.purchased_within_days": "Bought within",
}


@dataclass
class CampaignForm:
    """The form as typed (so it shows back unchanged) and what it means to the service."""

    name: str = ""
    message: str = ""
    channel: str = ""
    due_in_days: str = "3"
    expires_in_days: str = "14"
    stores: list[str] = field(default_factory=list)
    consent: list[str] = field(default_factory=list)
    assigned: str = ""
    birthday_this_month: bool = False
    period_days: str = "365"
    preferences: str = ""
    text: dict[str, str] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def parse(cls, data: FormData | QueryParams) -> CampaignForm:
        def one(name: str, limit: int = 200) -> str:
            value = data.get(name)
            return value.strip()[:limit] if isinstance(value, str) else ""

        form = cls(
            name=one("name", campaigns.NAME_MAX + 50),
            message=one("message", campaigns.MESSAGE_MAX + 50),
            channel=one("channel", 20),
            due_in_days=one("due_in_days", 10),
            expires_in_days=one("expires_in_days", 10),
            stores=[v for v in data.getlist("stores") if isinstance(v, str) and v][:50],
            consent=[v for v in data.getlist("consent") if isinstance(v, str) and v][:10],
            assigned=one("assigned", 10),
            birthday_this_month=one("birthday_this_month", 5) in ("1", "on", "true"),
            period_days=one("period_days", 10) or "365",
            preferences=one("preferences", 2000),
            text={name: one(name, 500) for name in (*LIST_FIELDS, *TEXT_FIELDS)},
        )
        return form

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignForm:
        """A stored campaign, as the form shows it."""
        seg = campaigns.segment_of(campaign)
        stored = seg.stored()
        text = {name: ", ".join(stored.get(name, [])) for name in LIST_FIELDS}
        text.update({name: str(stored.get(name, "")) for name in TEXT_FIELDS})
        return cls(
            name=campaign.name,
            message=campaign.message,
            channel=campaign.channel or "",
            due_in_days=str(campaign.due_in_days),
            expires_in_days=str(campaign.expires_in_days),
            stores=list(seg.stores),
            consent=list(seg.consent),
            assigned="" if seg.assigned is None else ("yes" if seg.assigned else "no"),
            birthday_this_month=seg.birthday_this_month,
            period_days=str(seg.period_days),
            preferences="\n".join(f"{k}: {', '.join(v)}" for k, v in seg.preferences.items()),
            text=text,
        )

    def values(self) -> dict[str, Any]:
        """What the service checks; problems only the form can see are added to ``errors``."""
        segment: dict[str, Any] = {}
        if self.stores:
            segment["stores"] = self.stores
        if self.consent:
            segment["consent"] = self.consent
        if self.assigned in ("yes", "no"):
            segment["assigned"] = self.assigned == "yes"
        if self.birthday_this_month:
            segment["birthday_this_month"] = True
        if self.period_days != "365":
            segment["period_days"] = self.period_days
        for name in LIST_FIELDS:
            items = [v.strip() for v in self.text.get(name, "").split(",") if v.strip()]
            if items:
                segment[name] = items
        for name in TEXT_FIELDS:
            value = self.text.get(name, "")
            if value:
                segment[name] = value.replace(" ", "").replace(",", "") if name[4:] in ("spend", "aov") else value
        if "currency" in segment and not any(k in segment for k in ("min_spend", "max_spend", "min_aov", "max_aov")):
            del segment["currency"]  # the currency picker always sends one; it only matters with an amount
        preferences: dict[str, list[str]] = {}
        for line in self.preferences.splitlines():
            if not line.strip():
                continue
            kind, colon, wanted = line.partition(":")
            if not colon or not kind.strip():
                self.errors.append(FieldError("segment.preferences", "write one kind per line: “colours: camel, navy”"))
                break
            preferences.setdefault(kind.strip(), []).extend(v.strip() for v in wanted.split(",") if v.strip())
        if preferences:
            segment["preferences"] = preferences
        return {
            "name": self.name,
            "message": self.message,
            "channel": self.channel or None,
            "due_in_days": self._days("due_in_days", self.due_in_days),
            "expires_in_days": self._days("expires_in_days", self.expires_in_days),
            "segment": segment,
        }

    def _days(self, name: str, value: str) -> int | None:
        if value.isdigit() and len(value) < 5:
            return int(value)
        self.errors.append(FieldError(name, "a whole number of days"))
        return None


def _messages(errors: list[FieldError]) -> list[str]:
    return [f"{LABELS.get(e.field, e.field)}: {e.message}" for e in errors]


def _form_context(session: Session, form: CampaignForm, campaign: Campaign | None = None) -> dict[str, Any]:
    return {
        "form": form,
        "campaign": campaign,
        "choices": segments.choices(session),
        "periods": _periods(form.period_days),
        "channels": CHANNELS,
        "consent_channels": CONSENT_CHANNELS,
        "channel_names": CHANNEL_NAMES,
        "fields": campaigns.MESSAGE_FIELDS,
        "problems": _messages(form.errors),
        "preview": None,
        "preview_problems": [],
    }


def _periods(current: str) -> list[tuple[int, str]]:
    """The usual periods, plus the campaign's own if it was set otherwise (through the API)."""
    out = list(PERIODS)
    if current.isdigit() and int(current) not in dict(out):
        out.append((int(current), f"{int(current)} days"))
    return sorted(out)


def _checked(session: Session, form: CampaignForm) -> dict[str, Any]:
    """The form's values, checked by the service; InvalidRecord with the form's own problems too."""
    values = form.values()
    try:
        clean = campaigns.check(session, values)
    except InvalidRecord as exc:
        seen = {e.field for e in form.errors}  # "a whole number of days" once, not twice
        raise InvalidRecord([*form.errors, *(e for e in exc.errors if e.field not in seen)]) from None
    if form.errors:
        raise InvalidRecord(form.errors)
    return clean


# -- list ---------------------------------------------------------------------------------------------


@router.get("/campaigns", name="campaigns")
def campaign_list(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    campaigns.require_view(caller.actor)
    found = campaigns.list_campaigns(session)
    progress = campaigns.progress_of(session, [c.id for c in found if c.status != "draft"])
    rows = [
        {"campaign": c, "summary": segments.describe(campaigns.segment_of(c)), "progress": progress.get(c.id)}
        for c in found
    ]
    return render(
        request,
        "campaigns/list.html",
        {"rows": rows, "may_manage": campaigns.can_manage(caller.actor), "when": when},
    )


def _progress(session: Session, campaign: Campaign) -> campaigns.Progress | None:
    return campaigns.progress(session, campaign) if campaign.status != "draft" else None


# -- new, edit, live preview ---------------------------------------------------------------------------


@router.get("/campaigns/new", name="campaign_new")
def campaign_new(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    campaigns.require_manage(caller.actor)
    return render(request, "campaigns/form.html", _form_context(session, CampaignForm()))


@router.get("/campaigns/preview", name="campaign_form_preview")
def campaign_form_preview(
    request: Request, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    """The counts for the form as it stands (HTMX, on every change); nothing is saved."""
    campaigns.require_manage(caller.actor)
    form = CampaignForm.parse(request.query_params)
    preview, problems = _form_preview(session, form)
    return render(request, "campaigns/_preview.html", {"preview": preview, "preview_problems": problems})


def _form_preview(session: Session, form: CampaignForm) -> tuple[campaigns.Preview | None, list[str]]:
    """Counts for a form still being filled in: only the segment and the channel must be right.

    The name, the timing and the message do not change who gets a task; a message that is not valid
    yet is left out of the sample (saving the form names the problem).
    """
    values = form.values()
    problems = [e for e in form.errors if e.field.startswith("segment")]
    if problems:
        return None, _messages(problems)
    try:
        campaigns.message_fields(values["message"])
    except ValueError:
        values["message"] = ""
    values.update(
        name=values["name"][: campaigns.NAME_MAX] or "New campaign",
        message=values["message"][: campaigns.MESSAGE_MAX] or "…",
        due_in_days=3,
        expires_in_days=14,
    )
    try:
        draft = campaigns.draft(session, values)
    except InvalidRecord as exc:
        return None, _messages(exc.errors)
    return campaigns.preview_campaign(session, draft), []


async def _form(request: Request) -> FormData:
    """The posted form (already parsed by the CSRF check; Starlette keeps it)."""
    return await request.form()


@router.post("/campaigns", name="campaign_create")
def campaign_create(
    request: Request,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    campaigns.require_manage(caller.actor)
    form = CampaignForm.parse(data)
    try:
        with db.write() as session:
            campaign = campaigns.create_campaign(session, _checked(session, form), actor=audit_actor(caller, request))
            target = f"/campaigns/{campaign.id}"
    except InvalidRecord as exc:
        form.errors = exc.errors
        with db.read() as session:
            return render(request, "campaigns/form.html", _form_context(session, form), status_code=422)
    return RedirectResponse(target, status_code=303)


@router.get("/campaigns/{campaign_id}/edit", name="campaign_edit")
def campaign_edit(
    request: Request, campaign_id: int, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    campaigns.require_manage(caller.actor)
    campaign = campaigns.get(session, campaign_id)
    if campaign.status != "draft":
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
    return render(request, "campaigns/form.html", _form_context(session, CampaignForm.of(campaign), campaign))


@router.post("/campaigns/{campaign_id}", name="campaign_update")
def campaign_update(
    request: Request,
    campaign_id: int,
    data: FormData = Depends(_form),
    caller: Caller = Depends(csrf_checked),
    db: Database = Depends(database),
) -> Response:
    campaigns.require_manage(caller.actor)
    form = CampaignForm.parse(data)
    try:
        with db.write() as session:
            values = _checked(session, form)
            campaigns.update_campaign(session, campaign_id, values, actor=audit_actor(caller, request))
    except InvalidRecord as exc:
        form.errors = exc.errors
        with db.read() as session:
            campaign = campaigns.get(session, campaign_id)
            return render(request, "campaigns/form.html", _form_context(session, form, campaign), status_code=422)
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


# -- a campaign: preview or progress; launch; cancel ------------------------------------------------------


@router.get("/campaigns/{campaign_id}", name="campaign")
def campaign_page(
    request: Request, campaign_id: int, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    campaigns.require_view(caller.actor)
    campaign = campaigns.get(session, campaign_id)
    launched = request.query_params.get("launched", "")
    closed = request.query_params.get("closed", "")
    return render(
        request,
        "campaigns/campaign.html",
        {
            "campaign": campaign,
            "summary": segments.describe(campaigns.segment_of(campaign)),
            "progress": _progress(session, campaign),
            "may_manage": campaigns.can_manage(caller.actor),
            "launched": int(launched) if launched.isdigit() and len(launched) < 10 else None,
            "closed": int(closed) if closed.isdigit() and len(closed) < 10 else None,
            "when": when,
        },
    )


@router.get("/campaigns/{campaign_id}/preview", name="campaign_preview")
def campaign_preview(
    request: Request, campaign_id: int, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    """A saved draft's counts (HTMX, after the page has shown)."""
    campaigns.require_view(caller.actor)
    campaign = campaigns.get(session, campaign_id)
    preview = campaigns.preview_campaign(session, campaign)
    return render(request, "campaigns/_preview.html", {"preview": preview, "preview_problems": [], "saved": True})


@router.get("/campaigns/{campaign_id}/launch", name="campaign_launch_confirm")
def campaign_launch_confirm(
    request: Request, campaign_id: int, caller: Caller = Depends(page_caller), session: Session = Depends(read_session)
) -> Response:
    campaigns.require_manage(caller.actor)
    campaign = campaigns.get(session, campaign_id)
    if campaign.status != "draft":
        return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)
    preview = campaigns.preview_campaign(session, campaign)
    context = {"campaign": campaign, "summary": segments.describe(campaigns.segment_of(campaign)), "preview": preview}
    return render(request, "campaigns/launch.html", context)


@router.post("/campaigns/{campaign_id}/launch", name="campaign_launch")
def campaign_launch(
    request: Request, campaign_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    campaigns.require_manage(caller.actor)
    with db.write() as session:
        done = campaigns.launch_campaign(session, campaign_id, actor=audit_actor(caller, request))
        raised = done.campaign.launched_tasks or 0
    return RedirectResponse(f"/campaigns/{campaign_id}?launched={raised}", status_code=303)


@router.post("/campaigns/{campaign_id}/cancel", name="campaign_cancel")
def campaign_cancel(
    request: Request, campaign_id: int, caller: Caller = Depends(csrf_checked), db: Database = Depends(database)
) -> Response:
    campaigns.require_manage(caller.actor)
    with db.write() as session:
        closed = campaigns.cancel_campaign(session, campaign_id, actor=audit_actor(caller, request))
    return RedirectResponse(f"/campaigns/{campaign_id}?closed={closed}", status_code=303)
