"""Schemathesis against the served schema (issue #16 "Tests that must exist").

The schema is loaded from ``/api/v1/openapi.json`` as the portal serves it, and every operation
is called in-process (WSGI) with a valid token and generated requests, valid and invalid:
no answer may be a 5xx, and every answer must conform to the schema (status, content type,
headers, body). The number of examples per operation is bounded (``SCHEMA_TEST_EXAMPLES``,
25 by default) so CI stays quick.

Host names in generated URLs are not looked up (no network in tests): IP literals resolve to
themselves, names fail as "could not be found", which the form reports as a 422.
"""

import ipaddress
import os

import pytest
import schemathesis
from django.core import signals
from django.core.files.base import ContentFile
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from generations.providers import addresses
from generations.providers.errors import DownloadError, DownloadReason
from generations.services.api_tokens import api_token_create
from seedance_site.wsgi import application

from ..factories import GenerationFactory, ManagerFactory

MAX_EXAMPLES = int(os.environ.get("SCHEMA_TEST_EXAMPLES", "25"))


def _resolve_without_network(host: str, port: int) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        raise DownloadError("No DNS in tests.", reason=DownloadReason.DNS, detail=host) from None


@pytest.fixture(autouse=True)
def _isolated(db, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    monkeypatch.setattr(addresses, "_resolve", _resolve_without_network)
    monkeypatch.setattr("generations.services.generations.enqueue", lambda *a, **k: None)
    # As Django's test client does: the WSGI handler must not close the test's connection
    # (and its transaction) at the end of each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db):
    """A manager's token (so the team endpoints answer too), with jobs and a stored video."""
    user = ManagerFactory(credits=1_000_000)
    for state in ("queued", "submitted", "failed"):
        GenerationFactory(user=user, state=state)
    done = GenerationFactory(user=user, state="succeeded", result_state="stored")
    done.result_file.save("r.mp4", ContentFile(b"\0\0\0\x18ftypmp42" + bytes(200)), save=True)
    return {"Authorization": f"Bearer {api_token_create(user=user, name='schema').secret}"}


# The schema as the portal serves it (no database needed to build it).
# Operations whose forms have rules across fields and beyond the request that JSON Schema
# cannot state (docs/api.md "One validation"): a file or a URL, not both; one's own finished
# video; a URL whose host resolves; a date range in order and within 2000-2100. A request the
# schema allows may get a 422 naming its field there; every other operation must accept every
# request its schema allows.
FORM_RULES_BEYOND_THE_SCHEMA = {"POST /api/v1/generations", "GET /api/v1/team/spend"}

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=os.environ.get("SCHEMA_TEST_RANDOM") != "1",
)
def test_the_api_conforms_to_its_schema(case, bearer):
    excluded = []
    # A cursor is opaque: only one the API gave out is valid, whatever string the schema allows.
    if case.operation.label in FORM_RULES_BEYOND_THE_SCHEMA or "cursor" in (case.query or {}):
        excluded.append(positive_data_acceptance)
    # A negative case may be "invalid" only because it leaves out the required Authorization
    # header, which this test then supplies: the API rightly answers it like a valid request.
    if "authorization" not in {name.lower() for name in (case.headers or {})}:
        excluded.append(negative_data_rejection)
    case.call_and_validate(headers=bearer, excluded_checks=excluded)
