"""The hierarchy rule on the admin console's money actions (issue #12 item 8).

Cancel and expire release a job's hold. A manager who is not a superuser must not do that
to their own jobs (expiring one's own job just before the provider finishes returns the
credits, while the late result, ``late_result_url``, is shown to managers in the admin: a
free video), nor to a superuser's or another manager's. Refused jobs are skipped with a
message; nothing is written for them, and the other selected jobs are still handled.
"""

import pytest
from django.urls import reverse

from generations.models import AuditEntry, CreditEntry, Generation
from generations.services.console import generation_cancel, generation_expire
from generations.services.team import TeamPermissionDenied

from ..factories import GenerationFactory, ManagerFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:generations_generation_changelist"
# admin action -> (state the job starts in, state the action leaves it in, service)
ACTIONS = {
    "cancel_queued": ("queued", "canceled", generation_cancel),
    "release_stuck": ("submitted", "expired", generation_expire),
}


def job_of(owner, state: str) -> Generation:
    fields = {"provider_task_id": f"task_{owner.pk}"} if state == "submitted" else {}
    return GenerationFactory(user=owner, state=state, **fields)


def owners(staff_manager, superuser):
    return {
        "themselves": staff_manager,
        "a superuser": superuser,
        "another manager": ManagerFactory(username="peer", is_staff=True),
    }


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("whose", ["themselves", "a superuser", "another manager"])
def test_a_manager_cannot_release_a_hold_above_their_rank_in_the_admin(
    client, staff_manager, superuser, action, whose
):
    start, _, _ = ACTIONS[action]
    refused = job_of(owners(staff_manager, superuser)[whose], start)
    allowed = job_of(UserFactory(username="ana"), start)
    entries = CreditEntry.objects.count()
    client.force_login(staff_manager)

    response = client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [refused.pk, allowed.pk]},
        follow=True,
    )

    refused.refresh_from_db(), allowed.refresh_from_db()
    assert refused.state == start
    assert not CreditEntry.objects.filter(generation=refused, kind="release").exists()
    assert not AuditEntry.objects.filter(subject=f"Generation #{refused.pk}").exists()
    assert allowed.state == ACTIONS[action][1]  # the member's job in the same batch
    assert CreditEntry.objects.count() == entries + 1
    shown = " ".join(str(m) for m in response.context["messages"])
    assert "Skipped 1" in shown and "superuser" in shown


@pytest.mark.parametrize("action", ACTIONS)
def test_the_service_refuses_a_managers_own_job_and_writes_nothing(staff_manager, action):
    start, _, service = ACTIONS[action]
    job = job_of(staff_manager, start)
    with pytest.raises(TeamPermissionDenied):
        service(generation_id=job.pk, actor=staff_manager)
    job.refresh_from_db()
    assert job.state == start and not AuditEntry.objects.exists()


@pytest.mark.parametrize("action", ACTIONS)
def test_a_superuser_may_release_anyones_hold_their_own_included(superuser, action):
    start, end, service = ACTIONS[action]
    for owner in (superuser, ManagerFactory(username="peer")):
        job = job_of(owner, start)
        assert service(generation_id=job.pk, actor=superuser) is True
        job.refresh_from_db()
        assert job.state == end
