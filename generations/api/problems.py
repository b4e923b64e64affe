"""Errors of the REST API as RFC 9457 problem details (``application/problem+json``).

Every error answer is one JSON object with ``type`` (a URN naming the kind of problem, listed
in docs/api.md "Errors"), ``title``, ``status``, ``detail`` (a sentence for a person) and, for
some kinds, extension members: ``errors`` (one ``{"field", "message", "code"}`` per invalid
field), ``needed``/``available`` credits, ``retry_after`` seconds. The same shape is
documented in the OpenAPI schema (``Problem``), so clients and the schema test can rely on it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:seedance:problem:"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: its name in the request (``None`` for the request as a whole)."""

    field: str | None
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message, "code": self.code}


@dataclass
class ApiProblem(Exception):
    """An error answer of the API; raise it from a view or service adapter.

    Attributes:
        status: the HTTP status (4xx or 5xx).
        kind: the problem's short name; ``type`` is ``urn:seedance:problem:<kind>``.
        detail: what went wrong, for a person.
        errors: field errors (422).
        extra: extension members (e.g. ``{"needed": 400, "available": 120}``).
        headers: response headers (e.g. ``Retry-After``, ``WWW-Authenticate``).
    """

    status: int
    kind: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.kind}: {self.detail}"

    def as_dict(self) -> dict:
        body = {
            "type": TYPE_PREFIX + self.kind,
            "title": _title(self.status),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        body.update(self.extra)
        return body

    def response(self) -> HttpResponse:
        """Return the problem as an ``application/problem+json`` response."""
        response = HttpResponse(
            json.dumps(self.as_dict(), cls=DjangoJSONEncoder),
            status=self.status,
            content_type=CONTENT_TYPE,
        )
        for name, value in self.headers.items():
            response[name] = value
        response["Cache-Control"] = "no-store"
        return response


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def unauthorized(detail: str) -> ApiProblem:
    """Return the 401 for a missing, unknown, revoked or expired token."""
    return ApiProblem(
        401,
        "unauthorized",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'},
    )


def not_found(detail: str = "No such object, or it is not yours.") -> ApiProblem:
    """Return the 404 for an object that does not exist or belongs to another member."""
    return ApiProblem(404, "not-found", detail)


def invalid(errors: list[FieldError], detail: str = "") -> ApiProblem:
    """Return the 422 listing ``errors``; ``detail`` defaults to the first message."""
    named = [e for e in errors if e.field]
    summary = detail or (
        f"Check {', '.join(sorted({e.field for e in named}))}." if named else errors[0].message
    )
    return ApiProblem(422, "validation", summary, errors=errors)


# The OpenAPI description of every problem answer (docs/api.md "Errors").
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:seedance:problem:<kind>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message", "code"],
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                    "code": {"type": "string"},
                },
            },
        },
        "needed": {"type": "integer", "description": "Credits the request needs."},
        "available": {"type": "integer", "description": "Credits available."},
        "cap": {"type": "integer", "description": "The monthly cap, in credits."},
        "used": {"type": "integer", "description": "Credits used this month (spent + reserved)."},
        "retry_after": {"type": "integer", "description": "Seconds to wait (429)."},
    },
}

_DESCRIPTIONS = {
    401: "Missing, unknown, revoked or expired token",
    402: "The available balance does not cover the price",
    403: "Managers only",
    404: "No such object, or not yours",
    409: "Conflict (monthly cap reached, or the job can no longer be canceled)",
    413: "Request body too large",
    415: "Unsupported content type",
    416: "Range not satisfiable",
    422: "Invalid request: see errors",
    429: "Rate limit exceeded: see Retry-After",
}


def problem_responses(*statuses: int) -> dict:
    """Return an operation's ``openapi_extra`` documenting problem answers with ``statuses``.

    401 and 429 are added to every authenticated operation by the API itself.
    """
    responses = {}
    for status in statuses:
        headers = {}
        if status == 429:
            headers["Retry-After"] = {
                "description": "Seconds until the token may call again",
                "schema": {"type": "integer"},
            }
        responses[str(status)] = {
            "description": _DESCRIPTIONS.get(status, _title(status)),
            "content": {CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": headers} if headers else {}),
        }
    return {"responses": responses}
