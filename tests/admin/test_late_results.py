"""The admin lists jobs that finished after expiry, and shows paused providers (issue #12)."""

import pytest
from django.urls import reverse

from generations.models import Generation, ProviderCircuit
from generations.providers.errors import ProviderAuthError
from generations.services.circuit import provider_circuit_open

from ..factories import GenerationFactory

pytestmark = pytest.mark.django_db
State = Generation.State


def test_the_finished_after_expiry_filter_lists_only_late_successes(admin_client):
    late = GenerationFactory(
        state=State.EXPIRED,
        provider_task_id="task_1",
        late_state=State.SUCCEEDED,
        late_result_url="https://file.apixo.test/result.mp4",
    )
    GenerationFactory(state=State.EXPIRED, provider_task_id="task_2")
    GenerationFactory(state=State.SUCCEEDED, provider_task_id="task_3")

    page = admin_client.get(reverse("admin:generations_generation_changelist"), {"late": "yes"})

    assert page.status_code == 200
    assert [g.pk for g in page.context["cl"].result_list] == [late.pk]


def test_the_circuit_admin_shows_a_paused_provider_read_only(admin_client):
    provider_circuit_open(provider="apixo", error=ProviderAuthError(status=401))

    page = admin_client.get(reverse("admin:generations_providercircuit_changelist"))

    assert page.status_code == 200
    assert [c.provider for c in page.context["cl"].result_list] == ["apixo"]
    assert ProviderCircuit.objects.get().is_open
    assert admin_client.get(reverse("admin:generations_providercircuit_add")).status_code == 403
