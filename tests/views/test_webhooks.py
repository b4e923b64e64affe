"""The webhook view: POST only, CSRF-exempt (the only such view), capped, 404 for strangers."""

import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from generations.models import Generation
from generations.views.webhooks import WEBHOOK_MAX_BYTES
from tests.fake_apixo import (
    STATUS_URL,
    callback_body,
    envelope,
    give_token,
    settlements,
    task_data,
)

pytestmark = pytest.mark.django_db
State = Generation.State


@pytest.fixture
def provider_client():
    """An anonymous client that enforces CSRF, like a request from the provider would meet."""
    return Client(enforce_csrf_checks=True)


def hook(generation_id: int, token: str) -> str:
    return reverse("generation_webhook", kwargs={"generation_id": generation_id, "token": token})


def post(client, url, body: bytes):
    return client.post(url, data=body, content_type="application/json")


def test_a_recognised_delivery_is_answered_200_and_finalized(api, make_job, provider_client):
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    token = give_token(generation)
    api.get(STATUS_URL, json=envelope(task_data("task_1", "success")))

    response = post(provider_client, hook(generation.pk, token), callback_body("task_1", "success"))

    assert response.status_code == 200
    generation.refresh_from_db()
    assert generation.state == State.SUCCEEDED
    assert settlements(generation) == ["hold", "capture"]


@pytest.mark.parametrize("which", ["wrong token", "unknown generation"])
def test_a_wrong_or_unknown_token_is_a_404_and_writes_nothing(
    api, make_job, provider_client, which
):
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    token = give_token(generation)
    before = Generation.objects.filter(pk=generation.pk).values().get()
    url = hook(generation.pk, "x" * 43) if which == "wrong token" else hook(10_000, token)

    response = post(provider_client, url, callback_body("task_1", "success"))

    assert response.status_code == 404
    assert Generation.objects.filter(pk=generation.pk).values().get() == before
    assert settlements(generation) == ["hold"]
    assert len(api.calls) == 0


def test_only_post_is_allowed(make_job, provider_client):
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    token = give_token(generation)
    url = hook(generation.pk, token)
    for method in ("get", "put", "delete", "patch"):
        assert getattr(provider_client, method)(url).status_code == 405


def test_an_oversized_body_is_refused_before_parsing(api, make_job, provider_client):
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    token = give_token(generation)
    padding = {"padding": "x" * WEBHOOK_MAX_BYTES}
    body = json.dumps(envelope(task_data("task_1", "success")) | padding).encode()

    response = post(provider_client, hook(generation.pk, token), body)

    assert response.status_code == 413
    assert Generation.objects.get(pk=generation.pk).state == State.SUBMITTED
    assert len(api.calls) == 0


def test_a_late_delivery_is_still_answered_200(
    api, make_job, provider_client, django_assert_num_queries
):
    generation = make_job(state=State.FAILED, provider_task_id="task_1")
    token = give_token(generation)

    with django_assert_num_queries(1):  # issue #14 item 4: one indexed query, nothing more
        response = post(
            provider_client, hook(generation.pk, token), callback_body("task_1", "success")
        )

    assert response.status_code == 200
    assert len(api.calls) == 0


def test_a_forged_delivery_costs_one_query_and_no_log_line(
    make_job, provider_client, django_assert_num_queries, caplog
):
    """Issue #14 item 4: a flood of wrong tokens costs one indexed query each, and no
    django.request line (they are counted in /metrics and in gunicorn's access log)."""
    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    give_token(generation)

    with caplog.at_level("INFO"), django_assert_num_queries(1):
        response = post(provider_client, hook(generation.pk, "x" * 43), b"{}")

    assert response.status_code == 404
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_the_callback_read_loads_the_fields_it_needs_and_defers_the_rest(make_job):
    from generations.selectors.callbacks import generation_for_callback

    generation = make_job(state=State.SUBMITTED, provider_task_id="task_1")
    token = give_token(generation)
    loaded = generation_for_callback(generation.pk)
    assert (loaded.pk, loaded.state, loaded.provider, loaded.provider_task_id) == (
        generation.pk,
        State.SUBMITTED,
        "apixo",
        "task_1",
    )
    assert loaded.callback_token_hash and token not in loaded.callback_token_hash
    assert "prompt" in loaded.get_deferred_fields()
    assert loaded.prompt == generation.prompt  # a deferred field still loads when touched
    assert generation_for_callback(10_000_000) is None


def _views(resolver: URLResolver, prefix: str = ""):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def test_the_webhook_is_the_only_csrf_exempt_view():
    exempt = [
        route for route, view in _views(get_resolver()) if getattr(view, "csrf_exempt", False)
    ]
    # The REST API (docs/api.md "Tokens") is exempt as a whole: it authenticates with bearer
    # tokens only, never the session cookie, so there is no cross-site request to forge.
    pages = [route for route in exempt if not route.startswith("api/v1/")]
    assert pages == ["webhooks/generations/<int:generation_id>/<str:token>/"]


def test_a_forged_id_past_bigint_is_a_404_not_a_500(provider_client):
    """Review finding: SQLite raised OverflowError on the raw lookup."""
    response = post(provider_client, "/webhooks/generations/99999999999999999999/x/", b"{}")
    assert response.status_code == 404


def test_a_delivery_for_an_unknown_job_naming_no_task_is_a_503_the_provider_retries(
    api, make_job, provider_client
):
    """The job's submit answer was lost; 200 would end the provider's retries and the job
    would expire with a refund though the task ran (review: lost taskIds)."""
    generation = make_job(state=State.UNKNOWN, submit_attempts=1)
    token = give_token(generation)

    response = post(provider_client, hook(generation.pk, token), b"<html>oops</html>")

    assert response.status_code == 503
    assert response["Retry-After"]
    generation.refresh_from_db()
    assert (generation.state, generation.provider_task_id) == (State.UNKNOWN, None)
    assert settlements(generation) == ["hold"]
