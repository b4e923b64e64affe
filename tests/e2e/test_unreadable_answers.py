"""End to end against the simulator: unreadable answers never end a job (issue #12 item 1).

The simulator's ``rate_unreadable`` answers every API request with what a proxy in front of
the provider sends during maintenance (an HTML page with status 200, or a 302 to it). Jobs
wait with their holds through it, for both providers, and finish normally after it.
"""

import pytest
import requests
from django.utils import timezone

from generations.models import Generation
from generations.selectors.ledger import ledger_mismatches
from generations.services.generations import GenerationSpec, generation_create
from generations.services.ledger import credits_grant
from generations.services.lifecycle import generation_poll

from .conftest import drive_until_settled

pytestmark = pytest.mark.django_db(transaction=True)
State = Generation.State


def configure(simulator, prefix: str, **knobs) -> None:
    answer = requests.post(f"{simulator.base_url}{prefix}/_sim/config", json=knobs, timeout=5)
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("provider", "prefix"), [("apixo", ""), ("aivideoapi", "/aivideoapi")])
def test_a_maintenance_window_delays_jobs_but_never_fails_them(member, simulator, provider, prefix):
    credits_grant(user=member, amount=1000, actor=None)
    spec = GenerationSpec(
        mode="text-to-video",
        prompt="a lantern on a pier",
        resolution="480p",
        duration=4,
        sound=False,
        provider=provider,
    )
    generation = generation_create(user=member, spec=spec)
    generation.refresh_from_db()
    assert generation.state == State.SUBMITTED

    configure(simulator, prefix, rate_unreadable=1.0)
    for _ in range(6):
        assert generation_poll(generation_id=generation.pk) == State.SUBMITTED
    generation.refresh_from_db()
    assert generation.poll_errors == 6
    assert list(generation.credit_entries.values_list("kind", flat=True)) == ["hold"]

    configure(simulator, prefix, rate_unreadable=0.0)
    Generation.objects.filter(pk=generation.pk).update(next_action_at=timezone.now())
    generation = drive_until_settled(generation)

    assert (generation.state, generation.result_state) == (State.SUCCEEDED, "stored")
    assert list(generation.credit_entries.order_by("id").values_list("kind", flat=True)) == [
        "hold",
        "capture",
    ]
    assert ledger_mismatches() == []
