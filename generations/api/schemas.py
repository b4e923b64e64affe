"""What the REST API answers: typed output schemas and the functions that fill them.

The same ``generation_data`` shapes a job in API answers and in webhook events
(docs/api.md "Webhooks"), so a script reads one format whichever way it learns of a job.
Credits are whole numbers (1 credit = US$0.001); US$ amounts are decimal strings; times are
ISO 8601 with a time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from django.urls import reverse
from ninja import Schema
from pydantic import Field

from ..catalog import Mode, Provider
from ..models import CreditEntry, Generation

GenerationState = Literal[tuple(Generation.State.values)]  # type: ignore[valid-type]
ModeName = Literal[tuple(Mode.values)]  # type: ignore[valid-type]
ProviderName = Literal[tuple(Provider.values)]  # type: ignore[valid-type]
EntryKind = Literal[tuple(CreditEntry.Kind.values)]  # type: ignore[valid-type]


class InputOut(Schema):
    """One input of a job: a start or end frame image, or the source video."""

    kind: Literal["image", "video"]
    position: int = Field(description="0: start frame (or the video), 1: end frame.")
    url: str | None = Field(description="The public URL the member gave; null for an upload.")


class GenerationOut(Schema):
    """One video job, as the API and webhook events show it."""

    id: int
    state: GenerationState
    mode: ModeName
    provider: ProviderName
    model_id: str
    prompt: str
    resolution: str
    duration: int = Field(description="Seconds.")
    sound: bool
    aspect_ratio: str | None
    camera_fixed: bool
    seed: int | None
    watermark: bool
    source_generation: int | None = Field(description="The job this one extends, if any.")
    price_credits: int
    price_usd: str
    fail_code: str | None
    fail_message: str | None
    result_state: Literal["pending", "stored", "failed", "deleted"] | None = Field(
        description="The portal's copy of the video: downloading, stored, failed, or deleted "
        "by its member in the gallery (the job and its charges stay)."
    )
    video_url: str | None = Field(description="Where to download the video, once stored.")
    inputs: list[InputOut]
    created_at: datetime
    submitted_at: datetime | None
    finished_at: datetime | None


def generation_data(generation: Generation, *, base_url: str) -> dict:
    """Return ``generation`` as the API's ``GenerationOut`` dict.

    Args:
        generation: the job, ideally with ``inputs`` prefetched (one query per job otherwise).
        base_url: the portal's address without a trailing slash (``https://studio.example``),
            for the absolute ``video_url``.
    """
    video_url = None
    if generation.has_video:
        video_url = base_url + reverse(
            "api-v1:generation_video", kwargs={"generation_id": generation.pk}
        )
    return {
        "id": generation.pk,
        "state": generation.state,
        "mode": generation.mode,
        "provider": generation.provider,
        "model_id": generation.model_id,
        "prompt": generation.prompt,
        "resolution": generation.resolution,
        "duration": generation.duration,
        "sound": generation.sound,
        "aspect_ratio": generation.aspect_ratio or None,
        "camera_fixed": generation.camera_fixed,
        "seed": generation.seed,
        "watermark": generation.watermark,
        "source_generation": generation.source_generation_id,
        "price_credits": generation.price_credits,
        "price_usd": str(generation.price_usd),
        "fail_code": generation.fail_code or None,
        "fail_message": generation.fail_message or None,
        "result_state": generation.result_state or None,
        "video_url": video_url,
        "inputs": [
            {"kind": i.kind, "position": i.position, "url": i.source_url or None}
            for i in generation.inputs.all()
        ],
        "created_at": generation.created_at,
        "submitted_at": generation.submitted_at,
        "finished_at": generation.finished_at,
    }


class GenerationPage(Schema):
    """A page of jobs, newest first; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[GenerationOut]
    next_cursor: str | None


class MeOut(Schema):
    """The token's member and their credits (whole credits; 1 credit = US$0.001)."""

    id: int
    username: str
    email: str
    is_manager: bool
    available_credits: int
    reserved_credits: int = Field(description="Held by jobs in flight.")
    monthly_cap_credits: int | None = Field(description="null: no cap.")
    month_start: datetime
    month_used_credits: int = Field(description="Spent this month plus reserved now.")
    month_left_credits: int | None = Field(description="What the cap leaves; null: no cap.")


class OfferOut(Schema):
    """The price of the request at one provider."""

    provider: ProviderName
    label: str
    credits: int
    usd: str
    credits_per_second: int
    price_table_version: int
    affordable: bool = Field(description="Whether the available balance covers it now.")


class QuoteOut(Schema):
    """The price of a request: the chosen (or default) provider's, and every offer."""

    mode: ModeName
    resolution: str
    duration: int
    sound: bool
    provider: ProviderName
    credits: int
    usd: str
    credits_per_second: int
    price_table_version: int
    available_credits: int
    offers: list[OfferOut]


class LedgerEntryOut(Schema):
    """One ledger entry of the member's statement (credits; signed as in the ledger)."""

    id: int
    created_at: datetime
    kind: EntryKind
    amount: int = Field(description="Signed credits as written (see docs/architecture.md).")
    balance_change: int = Field(description="Change of the available balance.")
    reserved_change: int = Field(description="Change of the reserved credits.")
    balance_after: int = Field(description="Available balance right after this entry.")
    generation: int | None
    memo: str


class LedgerPage(Schema):
    """A page of the statement, newest first."""

    items: list[LedgerEntryOut]
    next_cursor: str | None


class TeamMemberOut(Schema):
    """A member with their figures, as on the Team page (credits)."""

    id: int
    username: str
    email: str
    rank: Literal["superuser", "manager", "member"]
    is_active: bool
    available_credits: int
    reserved_credits: int
    spent_this_month_credits: int
    monthly_cap_credits: int | None
    last_job_at: datetime | None


class TeamMembersOut(Schema):
    month_start: datetime
    items: list[TeamMemberOut]


class SpendBucketOut(Schema):
    start: date
    credits: int
    usd: str


class SpendGroupOut(Schema):
    label: str
    jobs: int
    credits: int
    usd: str


class MemberSpendOut(Schema):
    user_id: int
    username: str
    is_active: bool
    credits: int
    usd: str
    jobs: int
    succeeded: int
    failed: int
    failure_rate: str | None = Field(description="Percent of finished jobs that failed.")


class TeamSpendOut(Schema):
    """The Team spend page's figures for the same filters (credits; US$ as strings)."""

    first: date
    last: date
    period: Literal["day", "week", "month"]
    provider: ProviderName | None
    credits: int
    usd: str
    captures: int
    jobs: int
    succeeded: int
    failed: int
    buckets: list[SpendBucketOut]
    members: list[MemberSpendOut]
    by_mode_resolution: list[SpendGroupOut]
    by_provider: list[SpendGroupOut]
