"""Bulk actions on a member's own generations (issue #15 item 4; docs/storage.md "Bulk actions").

The autouse ``ledger_check`` fixture runs after each test: deleting a video or refusing an
action never leaves the ledger inconsistent.
"""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generations.models import AuditEntry, CreditAccount, CreditEntry, Generation
from generations.services import bulk_actions
from generations.services.bulk_actions import BULK_MAX, BulkAlreadySubmitted, BulkRefused
from generations.services.team import member_cap_set

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_STORAGE = "local"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def stored(user, **fields) -> Generation:
    """A succeeded job of ``user`` with a video and a poster in the storage."""
    generation = GenerationFactory(user=user, state="succeeded", result_state="stored", **fields)
    generation.result_file.save(f"r-{generation.pk}.mp4", ContentFile(b"video" * 100))
    generation.poster.save(f"p-{generation.pk}.webp", ContentFile(b"poster"))
    return generation


def ledger_rows():
    return list(CreditEntry.objects.order_by("pk").values_list("pk", "kind", "amount"))


def test_hide_acts_on_own_jobs_only_and_counts_the_rest(payer):
    mine = [stored(payer), stored(payer)]
    theirs = stored(UserFactory())
    outcome = bulk_actions.generations_hide(
        user=payer, ids=[mine[0].pk, mine[1].pk, theirs.pk, 999_999]
    )
    assert {g.pk for g in outcome.done} == {mine[0].pk, mine[1].pk}
    assert outcome.skipped == 2
    assert Generation.objects.filter(hidden_at__isnull=False).count() == 2
    theirs.refresh_from_db()
    assert theirs.hidden_at is None
    entry = AuditEntry.objects.get(action="hide")
    assert entry.actor == payer and entry.after["generations"] == sorted(g.pk for g in mine)

    again = bulk_actions.generations_hide(user=payer, ids=[mine[0].pk], hidden=False)
    assert [g.pk for g in again.done] == [mine[0].pk]
    assert Generation.objects.get(pk=mine[0].pk).hidden_at is None
    assert AuditEntry.objects.filter(action="unhide").count() == 1


def test_an_empty_or_oversized_selection_is_refused_and_changes_nothing(payer):
    job = stored(payer)
    with pytest.raises(BulkRefused, match="at least one"):
        bulk_actions.generations_hide(user=payer, ids=[])
    with pytest.raises(BulkRefused, match=f"at most {BULK_MAX}"):
        bulk_actions.generations_favourite(user=payer, ids=list(range(1, BULK_MAX + 2)))
    job.refresh_from_db()
    assert job.hidden_at is None and not job.favourite
    assert not AuditEntry.objects.exists()


def test_favourite_sets_the_mark_on_own_jobs(payer):
    one, two = stored(payer), stored(payer, favourite=True)
    theirs = stored(UserFactory())
    outcome = bulk_actions.generations_favourite(user=payer, ids=[one.pk, two.pk, theirs.pk])
    assert [g.pk for g in outcome.done] == [one.pk]
    assert outcome.skipped == 2  # already a favourite, and not theirs
    assert set(Generation.objects.filter(favourite=True).values_list("pk", flat=True)) == {
        one.pk,
        two.pk,
    }


def test_delete_removes_files_keeps_the_row_and_every_ledger_entry(payer, make_job):
    job = stored(payer)
    failed = make_job(state="failed")
    video, poster = job.result_file.name, job.poster.name
    assert default_storage.exists(video) and default_storage.exists(poster)
    before = ledger_rows()
    account = CreditAccount.objects.get(user=payer)

    outcome = bulk_actions.generations_delete(user=payer, ids=[job.pk, failed.pk])

    assert {g.pk for g in outcome.done} == {job.pk, failed.pk}
    assert not default_storage.exists(video) and not default_storage.exists(poster)
    job.refresh_from_db()
    assert job.deleted_at is not None and job.result_state == "deleted"
    assert not job.result_file and not job.poster and not job.has_video
    assert job.state == "succeeded" and job.price_credits == 40
    assert ledger_rows() == before  # append-only: nothing removed, nothing added
    refreshed = CreditAccount.objects.get(user=payer)
    assert (refreshed.balance, refreshed.held) == (account.balance, account.held)
    assert AuditEntry.objects.get(action="delete").after["files"] == [video, poster]


def test_an_in_flight_job_cannot_be_deleted_and_nothing_is(payer, make_job):
    done = stored(payer)
    running = make_job(state="submitted")
    with pytest.raises(BulkRefused, match=f"#{running.pk} is still running"):
        bulk_actions.generations_delete(user=payer, ids=[done.pk, running.pk])
    done.refresh_from_db()
    assert done.deleted_at is None and default_storage.exists(done.result_file.name)
    assert not AuditEntry.objects.exists()


def test_a_video_being_saved_cannot_be_deleted(payer, make_job):
    saving = make_job(state="succeeded", result_state="pending")
    with pytest.raises(BulkRefused, match="still running"):
        bulk_actions.generations_delete(user=payer, ids=[saving.pk])


def test_the_source_of_a_running_extend_cannot_be_deleted(payer, make_job):
    from generations.models import GenerationInput

    source = stored(payer)
    extend = make_job(state="submitted", mode="video-extend", source_generation=source)
    GenerationInput.objects.create(generation=extend, kind="video", file=source.result_file.name)
    with pytest.raises(BulkRefused, match=f"source of generation #{extend.pk}"):
        bulk_actions.generations_delete(user=payer, ids=[source.pk])
    assert default_storage.exists(source.result_file.name)


def test_another_members_job_is_never_deleted(payer):
    theirs = stored(UserFactory())
    outcome = bulk_actions.generations_delete(user=payer, ids=[theirs.pk])
    assert outcome.done == [] and outcome.skipped == 1
    theirs.refresh_from_db()
    assert theirs.deleted_at is None and default_storage.exists(theirs.result_file.name)


def test_generate_again_holds_each_new_job_on_its_own(
    payer, make_job, django_capture_on_commit_callbacks
):
    first, second = stored(payer), make_job(state="failed", duration=8, price_credits=80)
    theirs = stored(UserFactory())
    available = CreditAccount.objects.get(user=payer).balance
    with django_capture_on_commit_callbacks():
        outcome = bulk_actions.generations_again(user=payer, ids=[first.pk, second.pk, theirs.pk])
    assert outcome.skipped == 1
    assert [(g.prompt, g.duration, g.state) for g in outcome.done] == [
        (first.prompt, 4, "queued"),
        (second.prompt, 8, "queued"),
    ]
    holds = CreditEntry.objects.filter(kind="hold", generation__in=outcome.done)
    assert sorted(h.amount for h in holds) == sorted(-g.price_credits for g in outcome.done)
    spent = sum(g.price_credits for g in outcome.done)
    assert CreditAccount.objects.get(user=payer).balance == available - spent
    assert AuditEntry.objects.get(action="again").after["created"] == [g.pk for g in outcome.done]


def test_generate_again_is_all_or_nothing_when_the_balance_is_short(payer, make_job):
    jobs = [make_job(state="failed", duration=12) for _ in range(3)]
    account = CreditAccount.objects.get(user=payer)
    price = jobs[0].price_credits  # as recorded; the new jobs are priced now
    assert price > 0
    before = Generation.objects.count(), ledger_rows()
    # 4 s -> 12 s at 480p silent: 120 credits each, 360 for three; leave less than that.
    from generations.services.ledger import credits_revoke

    credits_revoke(user=payer, amount=account.balance - 300, actor=None, memo="test")
    with pytest.raises(BulkRefused, match="3 new jobs: This costs 360 credits; you have 300"):
        bulk_actions.generations_again(user=payer, ids=[j.pk for j in jobs])
    assert Generation.objects.count() == before[0]
    assert len(ledger_rows()) == len(before[1]) + 1  # the revoke only


def test_generate_again_is_all_or_nothing_under_the_monthly_cap(payer, make_job, manager):
    jobs = [make_job(state="failed") for _ in range(2)]
    count = Generation.objects.count()
    member_cap_set(user=payer, cap=60, actor=manager)  # 40 + 40 > 60 (failed jobs used 0)
    with pytest.raises(BulkRefused, match="Nothing was submitted"):
        bulk_actions.generations_again(user=payer, ids=[j.pk for j in jobs])
    assert Generation.objects.count() == count


def test_another_members_running_extend_of_a_shared_video_is_not_named(payer):
    from generations.models import GenerationInput

    source = stored(payer)
    colleague = UserFactory(credits=1000)
    theirs = GenerationFactory(
        user=colleague, state="submitted", mode="video-extend", source_generation=source
    )
    GenerationInput.objects.create(generation=theirs, kind="video", file=source.result_file.name)
    with pytest.raises(BulkRefused) as refused:
        bulk_actions.generations_delete(user=payer, ids=[source.pk])
    message = str(refused.value)
    assert "another member" in message and "Nothing was deleted." in message
    assert f"#{theirs.pk}" not in message and "#" not in message
    source.refresh_from_db()
    assert source.deleted_at is None and default_storage.exists(source.result_file.name)
    assert not AuditEntry.objects.exists()

    # With the member's own running extend as well, their own job is the one named.
    mine = GenerationFactory(
        user=payer, state="submitted", mode="video-extend", source_generation=source
    )
    GenerationInput.objects.create(generation=mine, kind="video", file=source.result_file.name)
    with pytest.raises(BulkRefused, match=f"source of generation #{mine.pk}"):
        bulk_actions.generations_delete(user=payer, ids=[source.pk])


def test_generate_again_with_a_used_token_creates_and_holds_nothing(payer, make_job):
    jobs = [make_job(state="failed"), make_job(state="failed")]
    ids = [j.pk for j in jobs]
    made = bulk_actions.generations_again(user=payer, ids=ids, token="form-1")
    assert len(made.done) == 2
    assert {g.client_token for g in made.done} == {
        bulk_actions.again_client_token(token="form-1", source_id=pk) for pk in ids
    }
    before, generations = ledger_rows(), Generation.objects.count()
    account = CreditAccount.objects.get(user=payer)
    with pytest.raises(BulkAlreadySubmitted, match="already submitted"):
        bulk_actions.generations_again(user=payer, ids=ids, token="form-1")
    # Part of the same selection is a replay too: all or nothing.
    with pytest.raises(BulkAlreadySubmitted):
        bulk_actions.generations_again(user=payer, ids=[ids[1]], token="form-1")
    assert ledger_rows() == before and Generation.objects.count() == generations
    refreshed = CreditAccount.objects.get(user=payer)
    assert (refreshed.balance, refreshed.held) == (account.balance, account.held)
    assert AuditEntry.objects.filter(action="again").count() == 1
    # Another form (a new token) makes new jobs; so does another member with the same token.
    assert len(bulk_actions.generations_again(user=payer, ids=ids, token="form-2").done) == 2


def test_generate_again_refused_for_credits_can_be_retried_with_the_same_form(payer, make_job):
    from generations.services.ledger import credits_grant, credits_revoke

    jobs = [make_job(state="failed"), make_job(state="failed")]
    balance = CreditAccount.objects.get(user=payer).balance
    credits_revoke(user=payer, amount=balance - 50, actor=None, memo="test")
    with pytest.raises(BulkRefused, match="Nothing was submitted"):
        bulk_actions.generations_again(user=payer, ids=[j.pk for j in jobs], token="form-1")
    assert not Generation.objects.filter(state="queued").exists()
    # Nothing was made, so the same form works once the member has the credits.
    credits_grant(user=payer, amount=100, actor=None, memo="test")
    made = bulk_actions.generations_again(user=payer, ids=[j.pk for j in jobs], token="form-1")
    assert len(made.done) == 2
