"""What changed since a page last asked (issue #14 item 3): the cheap JSON behind live pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from generations.models import Generation
from tests.factories import GenerationFactory

pytestmark = pytest.mark.django_db
State = Generation.State
URL = reverse("generations:updates")


def ask(client, since=None):
    response = client.get(URL, {"since": since.isoformat()} if since else {})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    return response.json()


def test_the_first_call_lists_nothing_and_counts_running_jobs(member_client, member):
    GenerationFactory(user=member, state=State.SUBMITTED)
    GenerationFactory(user=member, state=State.SUCCEEDED, result_state="pending")
    GenerationFactory(user=member, state=State.SUCCEEDED, result_state="stored")
    GenerationFactory(user=member, state=State.FAILED)
    answer = ask(member_client)
    assert (answer["changed"], answer["running"]) == ([], 2)
    assert timezone.datetime.fromisoformat(answer["cursor"]) <= timezone.now()


def test_a_change_after_the_cursor_is_listed_with_its_state(member_client, member):
    job = GenerationFactory(user=member, state=State.FAILED)  # refunded, as the lifecycle does
    Generation.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    cursor = timezone.datetime.fromisoformat(ask(member_client)["cursor"])
    assert ask(member_client, cursor)["changed"] == []
    Generation.objects.filter(pk=job.pk).update(updated_at=cursor + timedelta(seconds=1))
    (change,) = ask(member_client, cursor)["changed"]
    assert change["id"] == job.pk and change["state"] == "failed" and change["final"]
    assert change["url"] == f"/g/{job.pk}/"


def test_a_succeeded_job_still_downloading_is_not_final_yet(member_client, member):
    job = GenerationFactory(user=member, state=State.SUCCEEDED, result_state="pending")
    (change,) = ask(member_client, timezone.now() - timedelta(minutes=1))["changed"]
    assert (change["id"], change["final"]) == (job.pk, False)


def test_old_changes_are_not_listed_but_the_overlap_is(member_client, member):
    now = timezone.now()
    old = GenerationFactory(user=member)
    Generation.objects.filter(pk=old.pk).update(updated_at=now - timedelta(minutes=5))
    just_before = GenerationFactory(user=member)
    Generation.objects.filter(pk=just_before.pk).update(updated_at=now - timedelta(seconds=2))
    listed = {change["id"] for change in ask(member_client, now)["changed"]}
    assert listed == {just_before.pk}  # within the 5 s overlap; the old one is not


def test_another_members_jobs_never_appear(member_client, member):
    GenerationFactory(state=State.SUBMITTED)  # someone else's
    answer = ask(member_client, timezone.now() - timedelta(minutes=1))
    assert (answer["changed"], answer["running"]) == ([], 0)


@pytest.mark.parametrize("since", ["yesterday", "2026-11-29T10:00:00"])
def test_a_bad_since_is_a_400(member_client, since):
    response = member_client.get(URL, {"since": since})
    assert response.status_code == 400
    assert "since" in response.json()["error"]


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("history", [10, 300])
def test_the_cost_does_not_grow_with_the_history(
    member_client, member, history, django_assert_num_queries
):
    for _ in range(history):
        GenerationFactory(user=member, state=State.SUCCEEDED)
    # session, user, the changes, the running count
    with django_assert_num_queries(4):
        ask(member_client, timezone.now() - timedelta(seconds=30))


def test_the_partial_index_selects_exactly_the_running_jobs(member):
    """The index ``generation_user_active`` spells its condition out (a migration cannot call
    ``Generation.active_q``); both must select the same jobs, or the count stops using it."""
    index = next(i for i in Generation._meta.indexes if i.name == "generation_user_active")
    for state in State.values:
        for result_state in ("", "pending", "stored", "failed"):
            job = GenerationFactory(user=member, state=state)
            Generation.objects.filter(pk=job.pk).update(result_state=result_state)
    by_index = set(Generation.objects.filter(index.condition).values_list("pk", flat=True))
    by_model = set(Generation.objects.filter(Generation.active_q()).values_list("pk", flat=True))
    assert by_index == by_model and len(by_model) == 4 * len(State.in_flight()) + 1


def test_a_since_far_in_the_past_or_future_is_clamped(member_client, member):
    """Review finding: year 1 overflowed the overlap subtraction (a 500)."""
    job = GenerationFactory(user=member, state=State.SUBMITTED)
    response = member_client.get(URL, {"since": "0001-01-01T00:00:00+00:00"})
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["changed"]] == [job.pk]  # within the last day
    response = member_client.get(URL, {"since": "9999-12-31T23:59:59+00:00"})
    assert response.status_code == 200
