"""Head office's campaigns over HTTP: create, change, preview, launch, cancel. Thin: parse, authorise, call.

Every route takes :func:`~rapport.http.session_or_token_caller` (a signed-in person with the
``X-CSRF-Token`` header on writes, or an integration token). Head office (``admin``) and tokens
with the ``write`` scope manage campaigns; store managers and ``read`` tokens may look
(:func:`rapport.tasks.campaigns.can_view`); associates see their campaign tasks in their list.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from rapport.customers.schemas import Schema
from rapport.db import Database
from rapport.errors import InvalidRecord
from rapport.http import Caller, audit_actor, database, read_session, session_or_token_caller
from rapport.tasks import campaigns, segments
from rapport.tasks.models import CAMPAIGN_STATUSES, Campaign
from rapport.tasks.segments import Segment

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

_FIELDS = ", ".join("{" + f + "}" for f in campaigns.MESSAGE_FIELDS)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=campaigns.NAME_MAX, examples=["Camel coats are back"])
    segment: Segment = Field(default_factory=Segment, description="Which clients; empty: every active client.")
    message: str = Field(
        max_length=campaigns.MESSAGE_MAX,
        description=f"The message associates start from. Personalisation fields: {_FIELDS}.",
        examples=["Hello {first_name}, the camel coats you asked about are in. {associate_name}"],
    )
    channel: str | None = Field(
        default=None, description="email, sms, whatsapp or phone: only clients who consented to it. None: any."
    )
    due_in_days: int = Field(default=3, description="Tasks are due this many days after the launch.")
    expires_in_days: int = Field(default=14, description="...and leave the lists this many days after it.")


class CampaignPatch(BaseModel):
    """Only the fields given change; a launched or cancelled campaign cannot change (409)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=campaigns.NAME_MAX)
    segment: Segment | None = None
    message: str | None = Field(default=None, max_length=campaigns.MESSAGE_MAX)
    channel: str | None = None
    due_in_days: int | None = None
    expires_in_days: int | None = None


class ProgressOut(Schema):
    tasks: int
    open: int
    done: int
    done_share: int = Field(description="Percent of the tasks done.")
    by_status: dict[str, int]
    done_by_outcome: dict[str, int]
    associates: int
    team_queues: int


class CampaignOut(BaseModel):
    id: int
    name: str
    status: str
    segment: dict[str, Any]
    segment_summary: list[str] = Field(description="The filters in words.")
    message: str
    channel: str | None
    due_in_days: int
    expires_in_days: int
    created_by: str
    created_at: datetime
    launched_at: datetime | None
    launched_tasks: int | None
    launched_associates: int | None
    progress: ProgressOut | None = Field(description="Launched or cancelled campaigns: their tasks now.")


class CampaignListOut(BaseModel):
    campaigns: list[CampaignOut]


class OwnerOut(Schema):
    id: int | None
    name: str
    tasks: int


class SampleOut(Schema):
    customer_id: int
    name: str
    owner: str
    reason: str
    message: str


class PreviewOut(Schema):
    matching: int = Field(description="Active clients in the segment.")
    without_consent: int = Field(description="Clients left out for lack of consent on the campaign's channel.")
    tasks: int = Field(description="Tasks a launch would raise now.")
    associates: int
    team_queues: int
    refused: dict[str, int] = Field(description="Matching clients who would get no task, by reason.")
    per_associate: list[OwnerOut]
    per_queue: list[OwnerOut]
    sample: list[SampleOut]
    seconds: float


class LaunchOut(BaseModel):
    campaign: CampaignOut
    result: PreviewOut


class CancelOut(BaseModel):
    campaign: CampaignOut
    tasks_closed: int = Field(description="Open or snoozed tasks dismissed.")


def _out(session: Session, campaign: Campaign, known: campaigns.Progress | None = None) -> CampaignOut:
    progress = None
    if campaign.status != "draft":
        p = known or campaigns.progress(session, campaign)
        progress = ProgressOut(
            tasks=p.tasks,
            open=p.open,
            done=p.done,
            done_share=p.done_share,
            by_status=p.by_status,
            done_by_outcome=p.done_by_outcome,
            associates=p.associates,
            team_queues=p.team_queues,
        )
    return CampaignOut(
        id=campaign.id,
        name=campaign.name,
        status=campaign.status,
        segment=campaign.segment,
        segment_summary=segments.describe(campaigns.segment_of(campaign)),
        message=campaign.message,
        channel=campaign.channel,
        due_in_days=campaign.due_in_days,
        expires_in_days=campaign.expires_in_days,
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        launched_at=campaign.launched_at,
        launched_tasks=campaign.launched_tasks,
        launched_associates=campaign.launched_associates,
        progress=progress,
    )


def _values(body: BaseModel, *, only_set: bool) -> dict[str, Any]:
    """The fields for the service; in a PATCH, a null means "unchanged" except for the channel (any)."""
    values = body.model_dump(exclude_unset=only_set)
    if only_set:
        values = {k: v for k, v in values.items() if v is not None or k == "channel"}
    if "segment" in values:
        segment = getattr(body, "segment", None)
        values["segment"] = segment.stored() if isinstance(segment, Segment) else {}
    return values


@router.get("", response_model=CampaignListOut, summary="Campaigns, newest first")
def list_campaigns(
    status: str | None = Query(None, description=f"One of {', '.join(CAMPAIGN_STATUSES)}."),
    limit: int = Query(100, ge=1, le=500),
    caller: Caller = Depends(session_or_token_caller),
    session: Session = Depends(read_session),
) -> CampaignListOut:
    campaigns.require_view(caller.actor)
    if status is not None and status not in CAMPAIGN_STATUSES:
        raise InvalidRecord.one("status", f"one of {', '.join(CAMPAIGN_STATUSES)}")
    found = campaigns.list_campaigns(session, status=status, limit=limit)
    progress = campaigns.progress_of(session, [c.id for c in found if c.status != "draft"])
    return CampaignListOut(campaigns=[_out(session, c, progress.get(c.id)) for c in found])


@router.post("", response_model=CampaignOut, status_code=201, summary="Create a draft campaign")
def create(
    request: Request,
    body: CampaignIn,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> CampaignOut:
    campaigns.require_manage(caller.actor)
    with db.write() as session:
        campaign = campaigns.create_campaign(session, _values(body, only_set=False), actor=audit_actor(caller, request))
        return _out(session, campaign)


@router.get("/{campaign_id}", response_model=CampaignOut, summary="A campaign, with its progress once launched")
def read(
    campaign_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> CampaignOut:
    campaigns.require_view(caller.actor)
    return _out(session, campaigns.get(session, campaign_id))


@router.patch("/{campaign_id}", response_model=CampaignOut, summary="Change a draft")
def change(
    request: Request,
    campaign_id: int,
    body: CampaignPatch,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> CampaignOut:
    campaigns.require_manage(caller.actor)
    with db.write() as session:
        campaign = campaigns.update_campaign(
            session, campaign_id, _values(body, only_set=True), actor=audit_actor(caller, request)
        )
        return _out(session, campaign)


@router.get(
    "/{campaign_id}/preview",
    response_model=PreviewOut,
    summary="How many clients and associates a launch would reach now, and why some would be left out",
)
def preview(
    campaign_id: int, caller: Caller = Depends(session_or_token_caller), session: Session = Depends(read_session)
) -> PreviewOut:
    campaigns.require_view(caller.actor)
    return PreviewOut.model_validate(campaigns.preview_campaign(session, campaigns.get(session, campaign_id)))


@router.post("/{campaign_id}/launch", response_model=LaunchOut, summary="Raise the campaign's tasks (once)")
def launch(
    request: Request,
    campaign_id: int,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> LaunchOut:
    campaigns.require_manage(caller.actor)
    with db.write() as session:
        done = campaigns.launch_campaign(session, campaign_id, actor=audit_actor(caller, request))
        return LaunchOut(campaign=_out(session, done.campaign), result=PreviewOut.model_validate(done.preview))


@router.post("/{campaign_id}/cancel", response_model=CancelOut, summary="Stop a campaign; its open tasks close")
def cancel(
    request: Request,
    campaign_id: int,
    caller: Caller = Depends(session_or_token_caller),
    db: Database = Depends(database),
) -> CancelOut:
    campaigns.require_manage(caller.actor)
    with db.write() as session:
        closed = campaigns.cancel_campaign(session, campaign_id, actor=audit_actor(caller, request))
        return CancelOut(campaign=_out(session, campaigns.get(session, campaign_id)), tasks_closed=closed)
