"""The REST API's endpoints under ``/api/v1/`` (docs/api.md).

Each endpoint is a thin adapter: it authenticates the token (``auth.TokenAuth``), reads the
request, calls the same forms, selectors and services as the pages (``GenerationForm``,
``generation_create``, ``statement``-style reads, ``team_spend``) and shapes the answer
(``schemas``). Errors are RFC 9457 problem details (``problems``). A member reaches only
their own jobs and ledger; another member's job is a 404, never a 403
(docs/architecture.md "What must hold").
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from django.db.models import BigIntegerField, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Header, NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.responses import Status
from pydantic import BeforeValidator, Field

from ..catalog import Provider, UnsupportedRequest
from ..forms import GenerationForm
from ..forms.reports import TeamSpendFilterForm
from ..models import CreditAccount, CreditEntry, Generation
from ..providers import providers_for
from ..selectors.reports import Period, balance_effect, held_effect
from ..selectors.team import members_with_figures
from ..selectors.team_spend import team_spend
from ..services.api_idempotency import (
    KEY_MAX_CHARS,
    IdempotencyKeyReused,
    client_token_for_key,
    idempotency_key_bind,
    idempotency_key_claim,
    idempotency_key_find,
)
from ..services.generations import generation_create
from ..services.inputs import InputsNotConfigured
from ..services.ledger import InsufficientCredits, MonthlyCapExceeded, month_start, month_used
from ..services.owner_actions import NotCancelable, generation_cancel_own
from ..services.pricing import price_quote
from ..storage import stored_file_response
from . import pagination
from .auth import TokenAuth, TokenRateThrottle
from .bodies import parse_generation_body, request_body_schema
from .problems import (
    PROBLEM_SCHEMA,
    ApiProblem,
    FieldError,
    invalid,
    not_found,
    problem_responses,
    unauthorized,
)
from .schemas import (
    GenerationOut,
    GenerationPage,
    GenerationState,
    LedgerPage,
    MeOut,
    ModeName,
    ProviderName,
    QuoteOut,
    TeamMembersOut,
    TeamSpendOut,
    generation_data,
)

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Script Seedance Studio with a personal access token (profile page, or
`manage.py api_token_create`): `Authorization: Bearer <token>`. Same prices, holds, monthly
caps and validation as the web form. Errors are RFC 9457 problem details
(`application/problem+json`). See docs/api.md in the repository for examples.
"""


class SeedanceApi(NinjaAPI):
    """NinjaAPI whose schema documents the problem answers every operation may give."""

    def get_openapi_operation_id(self, operation) -> str:
        """Name each operation after its view function (``generations_create``, ...)."""
        return operation.view_func.__name__

    def get_openapi_schema(self, **kwargs):
        schema = super().get_openapi_schema(**kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        common = problem_responses(401, 429)["responses"]
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if isinstance(operation, dict) and operation.get("security"):
                    for status, answer in common.items():
                        operation.setdefault("responses", {}).setdefault(status, answer)
        return schema


api = SeedanceApi(
    title="Seedance Studio API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=TokenAuth(),
    throttle=[TokenRateThrottle()],
)


# --- Errors ------------------------------------------------------------------------------------


@api.exception_handler(ApiProblem)
def _problem(request: HttpRequest, exc: ApiProblem) -> HttpResponse:
    return exc.response()


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return unauthorized("Send a personal access token: Authorization: Bearer <token>.").response()


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    wait = int(exc.wait or 1)
    return ApiProblem(
        429,
        "rate-limited",
        "This token made too many requests; wait before the next one.",
        extra={"retry_after": wait},
        headers={"Retry-After": str(wait)},
    ).response()


@api.exception_handler(ValidationError)
def _invalid_parameters(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        location = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
        field = location[-1] if location else None
        if field in ("body", "query", "path", "header"):
            field = None
        errors.append(FieldError(field, str(error.get("msg", "Invalid.")), error.get("type", "")))
    return invalid(errors or [FieldError(None, "Invalid request.")]).response()


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return ApiProblem(exc.status_code, "http-error", str(exc)).response()


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return not_found().response()


@api.exception_handler(Exception)
def _server_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path)
    return ApiProblem(500, "internal", "Something went wrong on our side.").response()


def api_not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Answer any other path under /api/v1/ with a problem+json 404."""
    return not_found("No such endpoint; see /api/v1/docs.").response()


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _owned(request: HttpRequest):
    return Generation.objects.for_user(request.user).prefetch_related("inputs")


def _form_errors(form) -> list[FieldError]:
    """Return a bound form's errors as field errors (``__all__`` as no field)."""
    return [
        FieldError(None if name == "__all__" else name, error.messages[0], error.code or "invalid")
        for name, errors in form.errors.as_data().items()
        for error in errors
    ]


def _money_problem(error: Exception) -> ApiProblem:
    """Return the problem for a refused hold: 402 short balance, 409 monthly cap."""
    if isinstance(error, InsufficientCredits):
        return ApiProblem(
            402,
            "insufficient-credits",
            str(error),
            extra={"needed": error.needed, "available": error.available},
        )
    if isinstance(error, MonthlyCapExceeded):
        return ApiProblem(
            409,
            "monthly-cap-exceeded",
            str(error),
            extra={"needed": error.needed, "cap": error.cap, "used": error.used},
        )
    raise error


def _only_query(request: HttpRequest, model: type[Schema] | None = None, *names: str) -> None:
    """Refuse query parameters the operation does not take (a misspelt filter would
    otherwise silently list everything).

    Raises:
        ApiProblem: 422 naming each unknown parameter.
    """
    allowed = set(names)
    if model is not None:
        allowed |= {field.alias or name for name, field in model.model_fields.items()}
    unknown = sorted(set(request.GET) - allowed)
    if unknown:
        raise invalid([FieldError(name, "Unknown query parameter.", "unknown") for name in unknown])


def _requires_manager(request: HttpRequest) -> None:
    if not request.user.is_manager:
        raise ApiProblem(403, "forbidden", "Only managers may use this endpoint.")


# --- Account -----------------------------------------------------------------------------------


@api.get("/me", response=MeOut, url_name="me", tags=["account"], summary="The token's member")
def me(request: HttpRequest):
    """Return the member, their available and reserved credits, and the monthly cap."""
    _only_query(request)
    user = request.user
    account, _ = CreditAccount.objects.get_or_create(user=user)
    since = month_start()
    used = month_used(account=account)
    cap = user.monthly_cap_credits
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "is_manager": user.is_manager,
        "available_credits": account.balance,
        "reserved_credits": account.held,
        "monthly_cap_credits": cap,
        "month_start": since,
        "month_used_credits": used,
        "month_left_credits": None if cap is None else max(cap - used, 0),
    }


# --- Prices and jobs ---------------------------------------------------------------------------

PRICE_FIELDS = frozenset({"mode", "resolution", "duration", "sound", "provider"})


@api.post(
    "/quotes",
    response=QuoteOut,
    url_name="quotes",
    tags=["generations"],
    summary="Price a generation body",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": request_body_schema(
                        multipart=False, prompt_required=False, only=PRICE_FIELDS
                    )
                }
            },
        },
        **problem_responses(400, 413, 415, 422),
    },
)
def quotes(request: HttpRequest):
    """Return the price of a request at every configured provider that offers it.

    Takes the price fields of a ``POST /generations`` body (``mode``, ``resolution``,
    ``duration``, ``sound``, ``provider``; the same defaults); the top-level figures are the
    chosen provider's, or the default's. Nothing is held.
    """
    _only_query(request)
    body = parse_generation_body(request, prompt_default="a price quote", only=PRICE_FIELDS)
    data = {name: body.data[name] for name in PRICE_FIELDS if name in body.data}
    data["prompt"] = "a price quote"
    form = GenerationForm(data=data, user=request.user)
    form.is_valid()
    errors = [e for e in _form_errors(form) if e.field in PRICE_FIELDS]
    if errors:
        raise invalid(errors)
    cleaned = form.cleaned_data
    balance = CreditAccount.objects.filter(user=request.user).values_list("balance", flat=True)
    balance = balance.first() or 0
    offers = []
    try:
        for name in providers_for(mode=cleaned["mode"], resolution=cleaned["resolution"]):
            quote = price_quote(
                provider=name,
                mode=cleaned["mode"],
                resolution=cleaned["resolution"],
                sound=cleaned["sound"],
                duration=cleaned["duration"],
            )
            offers.append(
                {
                    "provider": name,
                    "label": Provider(name).label,
                    "credits": quote.credits,
                    "usd": str(quote.usd),
                    "credits_per_second": quote.credits_per_second,
                    "price_table_version": quote.price_table.version,
                    "affordable": balance >= quote.credits,
                }
            )
    except UnsupportedRequest as error:
        raise invalid([FieldError("resolution", str(error), "unsupported")]) from error
    chosen = next((o for o in offers if o["provider"] == cleaned["provider"]), None)
    if chosen is None:
        raise invalid([FieldError("provider", "No configured provider offers this.", "no_offer")])
    return {
        "mode": cleaned["mode"],
        "resolution": cleaned["resolution"],
        "duration": cleaned["duration"],
        "sound": cleaned["sound"],
        "provider": chosen["provider"],
        "credits": chosen["credits"],
        "usd": chosen["usd"],
        "credits_per_second": chosen["credits_per_second"],
        "price_table_version": chosen["price_table_version"],
        "available_credits": balance,
        "offers": offers,
    }


_KEY_PATTERN = re.compile(r"[\x21-\x7e][\x20-\x7e]*")


@api.post(
    "/generations",
    response={200: GenerationOut, 201: GenerationOut},
    url_name="generations_create",
    tags=["generations"],
    summary="Create a generation",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": request_body_schema(multipart=False)},
                "multipart/form-data": {"schema": request_body_schema(multipart=True)},
            },
        },
        **problem_responses(400, 402, 409, 413, 415, 422),
    },
)
def generations_create(
    request: HttpRequest,
    response: HttpResponse,
    idempotency_key: str | None = Header(
        None,
        alias="Idempotency-Key",
        description="1-255 printable characters; the same key and body give the same job.",
    ),
):
    """Create a job in any mode: hold its price and queue it, as the web form does.

    Inputs are public URLs (JSON), or uploads (multipart/form-data) checked exactly like the
    form's. With ``Idempotency-Key``, the same key and body return the same job (200, header
    ``Idempotent-Replayed: true``); the same key with another body is refused (422).
    Answers 201 with ``Location`` for a new job. One request makes one job: the page's
    ``variations`` field is refused with a 422 (code ``not_in_api``); send one request per
    variation.
    """
    _only_query(request)
    user = request.user
    key = idempotency_key
    if key is not None and not (len(key) <= KEY_MAX_CHARS and _KEY_PATTERN.fullmatch(key)):
        raise invalid(
            [FieldError("Idempotency-Key", "Use 1-255 printable ASCII characters.", "bad_key")]
        )
    body = parse_generation_body(request)
    try:
        if key is not None:
            existing = idempotency_key_find(user=user, key=key, fingerprint=body.fingerprint)
            if existing is not None:
                return _created(request, response, existing, replayed=True)
        form = GenerationForm(data=body.data, files=body.files, user=user)
        if not form.is_valid():
            raise invalid(_form_errors(form))
        row = None
        if key is not None:
            row = idempotency_key_claim(user=user, key=key, fingerprint=body.fingerprint)
        token = client_token_for_key(key) if key is not None else ""
        try:
            generation = generation_create(user=user, spec=form.to_spec(), client_token=token)
        except (InsufficientCredits, MonthlyCapExceeded) as error:
            raise _money_problem(error) from error
        except UnsupportedRequest as error:
            raise invalid([FieldError("resolution", str(error), "unsupported")]) from error
        except InputsNotConfigured as error:
            raise invalid([FieldError(None, str(error), "no_public_url")]) from error
    except IdempotencyKeyReused as error:
        raise ApiProblem(422, "idempotency-key-reused", str(error)) from error
    first = row is None or idempotency_key_bind(row=row, generation=generation)
    generation = _owned(request).get(pk=generation.pk)
    return _created(request, response, generation, replayed=not first)


def _created(request, response: HttpResponse, generation: Generation, *, replayed: bool):
    response["Location"] = request.build_absolute_uri(f"/api/v1/generations/{generation.pk}")
    if replayed:
        response["Idempotent-Replayed"] = "true"
        return Status(200, generation_data(generation, base_url=_base_url(request)))
    return Status(201, generation_data(generation, base_url=_base_url(request)))


def _iso_only(value):
    """Refuse what pydantic would read as a Unix time: a date-time must be ISO 8601 text."""
    if isinstance(value, str) and not _ISO_DATETIME.match(value):
        raise ValueError("Give an ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z.")
    return value


_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]")
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]


class GenerationFilters(Schema):
    """Filters of the job list; times are ISO 8601 (UTC if no offset is given)."""

    state: GenerationState | None = None
    mode: ModeName | None = None
    created_after: IsoDateTime | None = Field(None, description="Jobs created at or after this.")
    created_before: IsoDateTime | None = Field(None, description="Jobs created before this.")
    cursor: str | None = Field(None, description="next_cursor of the previous page.")
    limit: int = Field(pagination.DEFAULT_LIMIT, ge=1, le=pagination.MAX_LIMIT)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@api.get(
    "/generations",
    response=GenerationPage,
    url_name="generations_list",
    tags=["generations"],
    summary="List your generations",
    openapi_extra=problem_responses(422),
)
def generations_list(request: HttpRequest, filters: Query[GenerationFilters]):
    """Return the member's jobs, newest first, a page at a time (``next_cursor``)."""
    _only_query(request, GenerationFilters)
    jobs = _owned(request)
    if filters.state:
        jobs = jobs.filter(state=filters.state)
    if filters.mode:
        jobs = jobs.filter(mode=filters.mode)
    if filters.created_after:
        jobs = jobs.filter(created_at__gte=_aware(filters.created_after))
    if filters.created_before:
        jobs = jobs.filter(created_at__lt=_aware(filters.created_before))
    rows, next_cursor = pagination.page(jobs, cursor=filters.cursor, limit=filters.limit)
    base = _base_url(request)
    return {"items": [generation_data(g, base_url=base) for g in rows], "next_cursor": next_cursor}


def _one(request: HttpRequest, generation_id: int) -> Generation:
    generation = _owned(request).filter(pk=generation_id).first()
    if generation is None:
        raise not_found("No such generation, or it is not yours.")
    return generation


@api.get(
    "/generations/{generation_id}",
    response=GenerationOut,
    url_name="generation_detail",
    tags=["generations"],
    summary="One generation",
    openapi_extra=problem_responses(404, 422),
)
def generation_detail(request: HttpRequest, generation_id: int):
    """Return one of the member's jobs (another member's is a 404)."""
    _only_query(request)
    return generation_data(_one(request, generation_id), base_url=_base_url(request))


@api.post(
    "/generations/{generation_id}/cancel",
    response=GenerationOut,
    url_name="generation_cancel",
    tags=["generations"],
    summary="Cancel a queued generation",
    openapi_extra=problem_responses(404, 409, 422),
)
def generation_cancel(request: HttpRequest, generation_id: int):
    """Cancel a job still queued and return its credits; 409 once it was sent."""
    _only_query(request)
    _one(request, generation_id)
    try:
        generation_cancel_own(user=request.user, generation_id=generation_id)
    except NotCancelable as error:
        raise ApiProblem(409, "not-cancelable", str(error)) from error
    return generation_data(_one(request, generation_id), base_url=_base_url(request))


@api.get(
    "/generations/{generation_id}/video",
    url_name="generation_video",
    tags=["generations"],
    summary="Download the video",
    openapi_extra={
        "parameters": [
            {
                "name": "Range",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "One byte range, e.g. bytes=0-1023.",
            },
            {
                "name": "download",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "enum": [0, 1]},
                "description": "1: Content-Disposition attachment.",
            },
        ],
        "responses": {
            "200": {
                "description": "The whole video",
                "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
            },
            "206": {
                "description": "The requested byte range",
                "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
            },
            "302": {"description": "A short-lived presigned URL (object storage)"},
            "304": {"description": "Not modified"},
            "416": {"description": "The range starts past the end"},
            **problem_responses(404, 422)["responses"],
        },
    },
)
def generation_video(request: HttpRequest, generation_id: int):
    """Send the stored video: byte ranges (206) on local storage, or a redirect (302) to a
    presigned URL on object storage; ``?download=1`` as an attachment."""
    _only_query(request, None, "download")
    if request.GET.get("download", "0") not in ("0", "1"):
        raise invalid([FieldError("download", "Give 1 for an attachment, or 0.", "invalid")])
    generation = _one(request, generation_id)
    if not generation.has_video:
        raise not_found("This generation has no stored video (yet).")
    extension = generation.result_file.name.rsplit(".", 1)[-1]
    answer = stored_file_response(
        request,
        generation.result_file,
        filename=f"seedance-{generation.pk}.{extension}",
        as_attachment=request.GET.get("download") == "1",
    )
    answer.setdefault("Cache-Control", "private, no-cache")
    return answer


# --- Ledger ------------------------------------------------------------------------------------


class LedgerFilters(Schema):
    created_after: IsoDateTime | None = Field(None, description="Entries at or after this.")
    created_before: IsoDateTime | None = Field(None, description="Entries before this.")
    cursor: str | None = Field(None, description="next_cursor of the previous page.")
    limit: int = Field(50, ge=1, le=pagination.MAX_LIMIT)


@api.get(
    "/ledger",
    response=LedgerPage,
    url_name="ledger",
    tags=["account"],
    summary="Your statement",
    openapi_extra=problem_responses(422),
)
def ledger(request: HttpRequest, filters: Query[LedgerFilters]):
    """Return the member's ledger entries, newest first, with the balance after each.

    The balance after the page's newest entry is the account's balance now less every newer
    entry's effect, computed in one statement; each older row follows by subtracting.
    """
    _only_query(request, LedgerFilters)
    mine = CreditEntry.objects.filter(account__user=request.user)
    entries = mine.annotate(balance_change=balance_effect(), reserved_change=held_effect())
    if filters.created_after:
        entries = entries.filter(created_at__gte=_aware(filters.created_after))
    if filters.created_before:
        entries = entries.filter(created_at__lt=_aware(filters.created_before))
    rows, next_cursor = pagination.page(entries, cursor=filters.cursor, limit=filters.limit)
    items = []
    if rows:
        top = rows[0]
        newer = (
            mine.filter(
                Q(created_at__gt=top.created_at) | Q(created_at=top.created_at, pk__gt=top.pk)
            )
            .order_by()
            .values("account")
            .annotate(total=Sum(balance_effect()))
            .values("total")
        )
        after = (
            CreditAccount.objects.filter(user=request.user)
            .annotate(newer=Coalesce(Subquery(newer), 0, output_field=BigIntegerField()))
            .values_list("balance", "newer")
            .first()
        )
        balance_after = after[0] - after[1]
        for entry in rows:
            items.append(
                {
                    "id": entry.pk,
                    "created_at": entry.created_at,
                    "kind": entry.kind,
                    "amount": entry.amount,
                    "balance_change": entry.balance_change,
                    "reserved_change": entry.reserved_change,
                    "balance_after": balance_after,
                    "generation": entry.generation_id,
                    "memo": entry.memo,
                }
            )
            balance_after -= entry.balance_change
    return {"items": items, "next_cursor": next_cursor}


# --- Team (managers) ---------------------------------------------------------------------------


@api.get(
    "/team/members",
    response=TeamMembersOut,
    url_name="team_members",
    tags=["team"],
    summary="Members and their figures (managers)",
    openapi_extra=problem_responses(403),
)
def team_members(request: HttpRequest):
    """Return every member with the Team page's figures: available, reserved, spent this
    month, cap and last job. Managers only (403 otherwise)."""
    _only_query(request)
    _requires_manager(request)
    since = month_start()
    return {
        "month_start": since,
        "items": [
            {
                "id": m.pk,
                "username": m.username,
                "email": m.email,
                "rank": m.rank,
                "is_active": m.is_active,
                "available_credits": m.balance,
                "reserved_credits": m.reserved,
                "spent_this_month_credits": m.spent_since,
                "monthly_cap_credits": m.monthly_cap_credits,
                "last_job_at": m.last_job_at,
            }
            for m in members_with_figures(since=since)
        ],
    }


PeriodName = Literal[tuple(Period.values)]  # type: ignore[valid-type]


class SpendFilters(Schema):
    """The Team spend page's filters (local calendar days, both ends included)."""

    first: date | None = Field(None, alias="from", description="Default: 30 days ago.")
    last: date | None = Field(None, alias="to", description="Default: today.")
    period: PeriodName | None = Field(None, description="How the buckets group (default day).")
    member: int | None = Field(None, ge=1, description="Only this member's figures (user id).")
    provider: ProviderName | None = None


@api.get(
    "/team/spend",
    response=TeamSpendOut,
    url_name="team_spend",
    tags=["team"],
    summary="The team's spend (managers)",
    openapi_extra=problem_responses(403, 422),
)
def team_spend_view(request: HttpRequest, filters: Query[SpendFilters]):
    """Return the Team spend page's figures for the same filters. Managers only."""
    _only_query(request, SpendFilters)
    _requires_manager(request)
    given = {
        "from": filters.first.isoformat() if filters.first else None,
        "to": filters.last.isoformat() if filters.last else None,
        "period": filters.period,
        "member": filters.member,
        "provider": filters.provider,
    }
    form = TeamSpendFilterForm({k: v for k, v in given.items() if v is not None})
    if not form.is_valid():
        raise invalid(_form_errors(form))
    first, last = form.date_range()
    report = team_spend(
        first=first,
        last=last,
        period=form.chosen_period(),
        user_id=form.chosen_member(),
        provider=form.chosen_provider(),
    )
    return {
        "first": report.first,
        "last": report.last,
        "period": report.period,
        "provider": report.provider,
        "credits": report.credits,
        "usd": str(report.usd),
        "captures": report.captures,
        "jobs": report.jobs,
        "succeeded": report.succeeded,
        "failed": report.failed,
        "buckets": [
            {"start": b.start, "credits": b.credits, "usd": str(b.usd)} for b in report.buckets
        ],
        "members": [
            {
                "user_id": m.user_id,
                "username": m.username,
                "is_active": m.is_active,
                "credits": m.credits,
                "usd": str(m.usd),
                "jobs": m.jobs,
                "succeeded": m.succeeded,
                "failed": m.failed,
                "failure_rate": None if m.failure_rate is None else str(m.failure_rate),
            }
            for m in report.members
        ],
        "by_mode_resolution": [_group(g) for g in report.by_mode_resolution],
        "by_provider": [_group(g) for g in report.by_provider],
    }


def _group(group) -> dict:
    return {
        "label": group.label,
        "jobs": group.jobs,
        "credits": group.credits,
        "usd": str(group.usd),
    }
