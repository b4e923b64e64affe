"""Failover (issue #7): a submit APIXO keeps refusing with 5xx goes to aivideoapi.ai.

Both providers are faked at the HTTP seam with ``responses``. Prices come from
docs/prices.md "Default price table": 8 s, 720p, sound on is 40 credits/s at APIXO (320) and 70 at
aivideoapi.ai (560).
"""

from datetime import timedelta

import pytest
import requests
from django.db.models import F
from django.utils import timezone

from generations.models import CreditEntry, Generation, ProviderAlert
from generations.selectors.ledger import ledger_mismatches
from generations.services.generations import GenerationSpec, generation_create
from generations.services.lifecycle import SUBMIT_MAX_ATTEMPTS, generation_poll, generation_submit
from generations.services.sweeper import generations_sweep

from ..factories import UserFactory
from ..fake_apixo import BASE, SUBMIT_URL, envelope

AIV_BASE = "https://api.aivideoapi.test/v1"
AIV_SUBMIT_URL = f"{AIV_BASE}/videos/generations"
AIV_TASK = "7d89c51e-9430-410e-909e-df347131ebaa"
State = Generation.State
Kind = CreditEntry.Kind


@pytest.fixture
def both(api, settings):
    """APIXO and aivideoapi.ai both configured (faked), failover on."""
    settings.AIVIDEOAPI_BASE_URL = AIV_BASE
    settings.AIVIDEOAPI_API_KEY = "sk-test-key"
    settings.PROVIDER_FAILOVER = True
    return api


def spec(**changes) -> GenerationSpec:
    fields = {
        "mode": "text-to-video",
        "prompt": "A lighthouse at dusk, waves below",
        "resolution": "720p",
        "duration": 8,
        "sound": True,
        "aspect_ratio": "16:9",
    }
    return GenerationSpec(**(fields | changes))


def apixo_down(api, status: int = 503, url: str = SUBMIT_URL) -> None:
    body = envelope(None, code=status, message="Service unavailable")
    api.post(url, json=body, status=status)


def submit_until_settled(generation: Generation) -> str:
    """Run submit attempts (the dispatcher's re-drives, each after its backoff wait)."""
    state, provider = "", generation.provider
    for _ in range(SUBMIT_MAX_ATTEMPTS + 1):
        make_due(generation)
        state = generation_submit(generation_id=generation.pk)
        generation.refresh_from_db()
        if generation.state != State.QUEUED or generation.provider != provider:
            break
    return state


def make_due(generation: Generation) -> None:
    """Let a queued job's backoff wait pass."""
    Generation.objects.filter(pk=generation.pk, state=State.QUEUED).update(
        next_action_at=timezone.now()
    )


def expire_at_deadline(generation: Generation) -> None:
    generation.refresh_from_db()
    generations_sweep(now=generation.deadline_at + timedelta(seconds=1))
    generation.refresh_from_db()


def entries(generation: Generation) -> list[tuple[str, int]]:
    return list(generation.credit_entries.order_by("id").values_list("kind", "amount"))


def aiv_task(status: str) -> dict:
    task = {
        "id": AIV_TASK,
        "status": status,
        "model": "doubao-seedance-1.5-pro",
        "created_at": 1774790227,
    }
    if status == "completed":
        task |= {
            "completed_at": 1774790327,
            "output": {"urls": ["https://file.aivideoapi.test/videos/abc.mp4"]},
        }
    return task


@pytest.mark.django_db
def test_apixo_down_moves_the_job_to_aivideoapi_at_its_price(both):
    member = UserFactory(credits=1000)
    apixo_down(both)
    generation = generation_create(user=member, spec=spec())
    assert (generation.provider, generation.price_credits) == ("apixo", 320)

    assert submit_until_settled(generation) == State.QUEUED
    generation.refresh_from_db()
    assert (generation.provider, generation.failover_from) == ("aivideoapi", "apixo")
    assert (generation.model_id, generation.price_credits) == ("doubao-seedance-1.5-pro", 560)
    assert generation.submit_attempts == 0
    assert "moved to aivideoapi.ai" in generation.fail_message
    # The first hold is released and the new price held: the ledger shows the difference.
    assert entries(generation) == [(Kind.HOLD, -320), (Kind.RELEASE, 320), (Kind.HOLD, -560)]
    member.credit_account.refresh_from_db()
    assert (member.credit_account.balance, member.credit_account.held) == (440, 560)
    assert ledger_mismatches() == []
    apixo_calls = [c for c in both.calls if c.request.url == SUBMIT_URL]
    assert len(apixo_calls) == SUBMIT_MAX_ATTEMPTS

    both.post(AIV_SUBMIT_URL, json={"code": 200, "msg": "success", "data": {"taskId": AIV_TASK}})
    both.get(f"{AIV_BASE}/tasks/{AIV_TASK}", json=aiv_task("completed"))
    assert generation_submit(generation_id=generation.pk) == State.SUBMITTED
    assert generation_poll(generation_id=generation.pk) == State.SUCCEEDED
    generation.refresh_from_db()
    assert generation.provider_task_id == AIV_TASK
    assert entries(generation)[-1] == (Kind.CAPTURE, -560)
    member.credit_account.refresh_from_db()
    assert (member.credit_account.balance, member.credit_account.held) == (440, 0)
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_a_short_balance_skips_failover_and_the_job_backs_off_until_its_deadline(both):
    member = UserFactory(credits=400)  # covers APIXO's 320, not aivideoapi.ai's 560
    apixo_down(both)
    generation = generation_create(user=member, spec=spec())

    assert submit_until_settled(generation) == State.QUEUED
    generation.refresh_from_db()
    assert (generation.provider, generation.failover_from) == ("apixo", "")
    assert "Failover to aivideoapi.ai at its price was skipped" in generation.fail_message
    assert "needs 560 credits but only 400 are available" in generation.fail_message
    # The release inside the refused failover was rolled back with it: the hold stays.
    assert entries(generation) == [(Kind.HOLD, -320)]
    assert not [c for c in both.calls if c.request.url == AIV_SUBMIT_URL]
    assert ledger_mismatches() == []

    expire_at_deadline(generation)  # docs/architecture.md "What must hold"
    assert generation.state == State.EXPIRED
    assert entries(generation) == [(Kind.HOLD, -320), (Kind.RELEASE, 320)]
    member.credit_account.refresh_from_db()
    assert (member.credit_account.balance, member.credit_account.held) == (400, 0)


@pytest.mark.django_db
def test_a_monthly_cap_skips_failover(both):
    member = UserFactory(credits=5000, monthly_cap_credits=500)
    apixo_down(both)
    generation = generation_create(user=member, spec=spec())

    assert submit_until_settled(generation) == State.QUEUED
    generation.refresh_from_db()
    assert "monthly cap of 500 credits" in generation.fail_message
    assert entries(generation) == [(Kind.HOLD, -320)]
    assert ledger_mismatches() == []


@pytest.mark.django_db
def test_failover_is_off_by_default(both, settings):
    settings.PROVIDER_FAILOVER = False
    member = UserFactory(credits=1000)
    apixo_down(both)
    generation = generation_create(user=member, spec=spec())

    assert submit_until_settled(generation) == State.QUEUED
    generation.refresh_from_db()
    assert generation.provider == "apixo"
    assert "Failover" not in generation.fail_message
    assert entries(generation) == [(Kind.HOLD, -320)]  # held until it runs or expires


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "expected"),
    # 402: the provider is paused and the job waits with its hold (issue #12 item 1); 429:
    # the job backs off until its deadline (docs/architecture.md "What must hold").
    [(400, State.FAILED), (429, State.QUEUED), (402, State.QUEUED)],
)
def test_only_server_errors_and_network_failures_fail_over(both, status, expected):
    member = UserFactory(credits=1000)
    both.post(SUBMIT_URL, json=envelope(None, code=status, message="No"), status=status)
    generation = generation_create(user=member, spec=spec())

    submit_until_settled(generation)
    generation.refresh_from_db()
    assert generation.state == expected
    assert (generation.provider, generation.failover_from) == ("apixo", "")
    assert not [c for c in both.calls if c.request.url == AIV_SUBMIT_URL]


@pytest.mark.django_db
def test_a_refused_connection_fails_over(both):
    member = UserFactory(credits=1000)
    both.post(SUBMIT_URL, body=requests.exceptions.ConnectTimeout("nothing sent"))
    generation = generation_create(user=member, spec=spec())

    assert submit_until_settled(generation) == State.QUEUED
    generation.refresh_from_db()
    assert (generation.provider, generation.failover_from) == ("aivideoapi", "apixo")


@pytest.mark.django_db
def test_never_after_a_submit_with_an_unknown_outcome(both):
    member = UserFactory(credits=1000)
    both.post(SUBMIT_URL, body=requests.exceptions.ReadTimeout("sent, no answer"))
    generation = generation_create(user=member, spec=spec())

    assert generation_submit(generation_id=generation.pk) == State.UNKNOWN
    generation.refresh_from_db()
    assert (generation.provider, generation.failover_from) == ("apixo", "")
    assert entries(generation) == [(Kind.HOLD, -320)]
    assert not [c for c in both.calls if c.request.url == AIV_SUBMIT_URL]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [502, 504])
def test_a_gateways_502_or_504_on_submit_is_an_unknown_outcome_never_resent(both, status):
    """A gateway may have passed the submit on (docs/providers.md "Stricter reading"): the
    task may exist and be billed, so the job waits in ``unknown`` for a callback or its
    deadline; it is neither re-sent nor failed over, and its hold stays."""
    member = UserFactory(credits=1000)
    both.post(SUBMIT_URL, body=f"<html>{status} Gateway</html>", status=status)
    generation = generation_create(user=member, spec=spec())

    assert generation_submit(generation_id=generation.pk) == State.UNKNOWN
    assert generation_submit(generation_id=generation.pk) == ""  # not queued: nothing sent
    generation.refresh_from_db()
    assert (generation.state, generation.provider, generation.failover_from) == (
        State.UNKNOWN,
        "apixo",
        "",
    )
    assert entries(generation) == [(Kind.HOLD, -320)]
    assert len([c for c in both.calls if c.request.url == SUBMIT_URL]) == 1
    assert not [c for c in both.calls if c.request.url == AIV_SUBMIT_URL]
    alert = ProviderAlert.objects.get()  # jobs will wait in unknown: managers hear of it
    assert (alert.provider, alert.kind) == ("apixo", f"http_{status}")


@pytest.mark.django_db
@pytest.mark.parametrize("status", [500, 503])
def test_the_providers_own_500_or_503_on_submit_is_retried(both, status, settings):
    settings.PROVIDER_FAILOVER = False
    member = UserFactory(credits=1000)
    both.post(SUBMIT_URL, json=envelope(None, code=status, message="down"), status=status)
    generation = generation_create(user=member, spec=spec())

    assert generation_submit(generation_id=generation.pk) == State.QUEUED
    generation.refresh_from_db()
    assert entries(generation) == [(Kind.HOLD, -320)]


@pytest.mark.django_db
def test_video_extend_has_nowhere_to_go(both):
    member = UserFactory(credits=1000)
    apixo_down(both, url=f"{BASE}/generateTask/seedance-1-5-pro-extend")
    generation = generation_create(
        user=member,
        spec=spec(mode="video-extend", aspect_ratio="", camera_fixed=True),
    )
    Generation.objects.filter(pk=generation.pk).update(prompt="Continue the shot")
    generation.inputs.create(kind="video", position=0, source_url="https://cdn.example/a.mp4")

    assert submit_until_settled(generation) == State.QUEUED  # backs off until its deadline
    generation.refresh_from_db()
    assert (generation.provider, generation.failover_from) == ("apixo", "")
    assert "Failover" not in generation.fail_message


@pytest.mark.django_db
def test_failover_happens_once_then_the_job_expires_with_one_release(both):
    member = UserFactory(credits=1000)
    apixo_down(both)
    both.post(
        AIV_SUBMIT_URL,
        json={"error": {"code": "upstream_error", "message": "Upstream", "type": "upstream_error"}},
        status=503,
    )
    generation = generation_create(user=member, spec=spec())
    submit_until_settled(generation)
    generation.refresh_from_db()
    assert generation.provider == "aivideoapi"

    assert submit_until_settled(generation) == State.QUEUED  # backs off, no second failover
    generation.refresh_from_db()
    assert (generation.provider, generation.failover_from) == ("aivideoapi", "apixo")
    expire_at_deadline(generation)
    assert generation.state == State.EXPIRED
    assert entries(generation) == [
        (Kind.HOLD, -320),
        (Kind.RELEASE, 320),
        (Kind.HOLD, -560),
        (Kind.RELEASE, 560),
    ]
    member.credit_account.refresh_from_db()
    assert (member.credit_account.balance, member.credit_account.held) == (1000, 0)
    assert ledger_mismatches() == []


@pytest.mark.django_db
@pytest.mark.broken_ledger(reason="two open holds, then none, on purpose")
def test_ledger_check_wants_exactly_one_open_hold_per_job_in_flight(make_job, payer):
    from generations.services.ledger import credits_hold, credits_release

    generation = make_job(state=State.QUEUED)
    assert ledger_mismatches() == []
    second = credits_hold(
        user=payer, amount=10, generation=generation, idempotency_key="hold:extra"
    )
    problems = [str(p) for p in ledger_mismatches()]
    assert problems == [f"generation {generation.pk}: is queued but has 2 open holds or a capture"]
    credits_release(hold=second)
    first = generation.credit_entries.filter(kind=Kind.HOLD).earliest("pk")
    credits_release(hold=first)
    problems = [str(p) for p in ledger_mismatches()]
    assert problems == [f"generation {generation.pk}: is queued but has 0 open holds or a capture"]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_provider_refusing_for_longer_than_the_attempt_cap_does_not_fail_the_job(
    both, settings, status
):
    """Review: 429 and the provider's own 5xx failed the job after SUBMIT_MAX_ATTEMPTS (about
    a minute). They back off until the deadline (docs/architecture.md "What must hold"),
    uncounted, with a growing wait, and the job is sent once the provider takes it."""
    settings.PROVIDER_FAILOVER = False
    member = UserFactory(credits=1000)
    apixo_down(both, status=status)
    generation = generation_create(user=member, spec=spec())

    waits = []
    for _ in range(3 * SUBMIT_MAX_ATTEMPTS):
        make_due(generation)
        assert generation_submit(generation_id=generation.pk) == State.QUEUED
        generation.refresh_from_db()
        waits.append((generation.next_action_at - timezone.now()).total_seconds())
    assert (generation.submit_attempts, generation.submit_refusals) == (0, 3 * SUBMIT_MAX_ATTEMPTS)
    assert all(1.0 <= wait <= 301.0 for wait in waits)
    assert entries(generation) == [(Kind.HOLD, -320)]

    both.replace("POST", SUBMIT_URL, json=envelope({"taskId": "task_late"}))
    make_due(generation)
    assert generation_submit(generation_id=generation.pk) == State.SUBMITTED


@pytest.mark.django_db
def test_a_duplicate_submit_task_does_not_cut_a_backoff_short(both, settings):
    settings.PROVIDER_FAILOVER = False
    member = UserFactory(credits=1000)
    apixo_down(both, status=429)
    generation = generation_create(user=member, spec=spec())
    assert generation_submit(generation_id=generation.pk) == State.QUEUED
    generation.refresh_from_db()
    waiting = (generation.next_action_at, generation.submit_attempts, generation.submit_refusals)

    assert generation_submit(generation_id=generation.pk) == ""  # a stale or duplicate task
    assert generation_submit(generation_id=generation.pk, claimed_until=timezone.now()) == ""

    generation.refresh_from_db()
    after = (generation.next_action_at, generation.submit_attempts, generation.submit_refusals)
    assert after == waiting
    assert len([c for c in both.calls if c.request.url == SUBMIT_URL]) == 1
    # The dispatcher's own claim is honoured.
    Generation.objects.filter(pk=generation.pk).update(next_action_at=generation.next_action_at)
    assert (
        generation_submit(generation_id=generation.pk, claimed_until=generation.next_action_at)
        == State.QUEUED
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "status", "body"),
    [
        ("apixo", 524, "<html>A timeout occurred</html>"),  # a CDN: the origin took it
        ("apixo", 520, ""),  # a CDN: the origin's answer was empty or unreadable
        ("apixo", 503, "<html>Service Unavailable</html>"),  # a proxy's own page
        ("apixo", 500, '{"error": "upstream"}'),  # foreign JSON, not APIXO's envelope
        ("apixo", 503, '{"code": 502, "message": "bad gateway"}'),  # code is not the status
        ("aivideoapi", 503, "<html>Service Unavailable</html>"),
        ("aivideoapi", 500, '{"code": 500, "message": "oops"}'),  # not its {"error": {...}}
    ],
)
def test_a_5xx_not_in_the_providers_own_shape_is_an_unknown_outcome_never_resent(
    both, settings, provider, status, body
):
    """Review: only the provider's own error body says nothing was created. A CDN's 520/524
    or a proxy's 503 may come after the provider took the submit, so re-sending could start a
    second billed task; the job waits in ``unknown`` with its hold."""
    settings.PROVIDER_FAILOVER = True
    member = UserFactory(credits=1000)
    url = AIV_SUBMIT_URL if provider == "aivideoapi" else SUBMIT_URL
    both.post(url, body=body, status=status)
    generation = generation_create(user=member, spec=spec(provider=provider))

    assert generation_submit(generation_id=generation.pk) == State.UNKNOWN
    make_due(generation)
    assert generation_submit(generation_id=generation.pk) == ""  # never re-sent
    generation.refresh_from_db()
    assert (generation.state, generation.provider, generation.failover_from) == (
        State.UNKNOWN,
        provider,
        "",
    )
    assert len(entries(generation)) == 1
    assert len([c for c in both.calls if c.request.url == url]) == 1
    assert ProviderAlert.objects.filter(provider=provider).exists()  # managers hear of it


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("provider", "status", "body"),
    [
        ("apixo", 500, {"code": 500, "message": "Internal error", "data": None}),
        ("apixo", 503, {"code": 503, "message": "Service unavailable"}),
        ("aivideoapi", 500, {"error": {"code": "internal_error", "message": "x", "type": "s"}}),
        ("aivideoapi", 503, {"error": {"code": "upstream_error", "message": "x", "type": "s"}}),
    ],
)
def test_a_5xx_in_the_providers_own_shape_created_nothing_and_is_retried(
    both, settings, provider, status, body
):
    settings.PROVIDER_FAILOVER = False
    member = UserFactory(credits=1000)
    url = AIV_SUBMIT_URL if provider == "aivideoapi" else SUBMIT_URL
    both.post(url, json=body, status=status)
    generation = generation_create(user=member, spec=spec(provider=provider))

    assert generation_submit(generation_id=generation.pk) == State.QUEUED
    generation.refresh_from_db()
    assert generation.submit_refusals == 1


@pytest.mark.django_db
def test_a_stale_task_cannot_claim_once_a_backoff_is_set_under_it(both, settings, monkeypatch):
    """Review: the backoff is part of the claim's UPDATE, not only of the read before it. A
    claim-less task reads a due job; before it claims, another task's refusal sets a new
    backoff: the stale task then claims and sends nothing."""
    from generations.services import lifecycle

    settings.PROVIDER_FAILOVER = False
    member = UserFactory(credits=1000)
    apixo_down(both, status=429)
    generation = generation_create(user=member, spec=spec())
    assert generation_submit(generation_id=generation.pk) == State.QUEUED
    make_due(generation)
    sent = len([c for c in both.calls if c.request.url == SUBMIT_URL])

    def another_task_refused_meanwhile(*, provider):
        Generation.objects.filter(pk=generation.pk).update(
            next_action_at=timezone.now() + timedelta(seconds=30),
            submit_refusals=F("submit_refusals") + 1,
        )
        return None  # the provider is not paused

    monkeypatch.setattr(lifecycle, "provider_paused_until", another_task_refused_meanwhile)

    assert generation_submit(generation_id=generation.pk) == ""

    generation.refresh_from_db()
    assert (generation.state, generation.submit_refusals) == (State.QUEUED, 2)
    assert len([c for c in both.calls if c.request.url == SUBMIT_URL]) == sent
