"""The gallery's bulk-action form without JavaScript (issue #15 item 4; docs/storage.md
"Bulk actions"): checkboxes, an action select, messages, the delete confirmation page."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from generations.models import AuditEntry, CreditAccount, Generation
from generations.services.ledger import credits_revoke

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db

BULK = "/bulk/"


@pytest.fixture
def signed_in(client, payer):
    client.force_login(payer)
    return client


def done_job(user, **fields):
    return GenerationFactory(
        user=user, state="succeeded", result_state="stored", result_file="results/x.mp4", **fields
    )


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_gallery_carries_the_bulk_form_and_a_checkbox_per_card(signed_in, payer):
    job = done_job(payer)
    html = signed_in.get(reverse("generations:list")).content.decode()
    assert reverse("generations:bulk") == BULK
    assert f'<form method="post" action="{BULK}" id="bulk-form"' in html
    assert (
        f'<input type="checkbox" name="ids" value="{job.pk}" form="bulk-form" data-bulk-id>' in html
    )
    for value in ("download", "favourite", "again", "hide", "delete"):
        assert f'<option value="{value}">' in html
    assert '<button type="submit" class="secondary">Apply</button>' in html


def test_hide_then_the_hidden_filter_then_show_again(signed_in, payer):
    job, other = done_job(payer, prompt="hide me please"), done_job(payer)
    theirs = done_job(UserFactory())
    response = signed_in.post(BULK, {"action": "hide", "ids": [job.pk, theirs.pk], "next": "/?q=x"})
    assert response.status_code == 302 and response.url == "/?q=x"
    assert texts(response) == [
        "Hid 1 video; the Hidden filter lists them and shows them again. "
        "1 selected item was skipped (not yours, or nothing to change)."
    ]
    gallery = signed_in.get(reverse("generations:list")).content.decode()
    assert "hide me please" not in gallery and f"generation-{other.pk}" in gallery
    hidden = signed_in.get(reverse("generations:list"), {"hidden": "1"}).content.decode()
    assert "hide me please" in hidden and f"generation-{other.pk}" not in hidden
    assert '<option value="unhide">Show again</option>' in hidden
    signed_in.post(BULK, {"action": "unhide", "ids": [job.pk]})
    assert "hide me please" in signed_in.get(reverse("generations:list")).content.decode()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "hide"}, "Select at least one video."),
        ({"action": "hide", "ids": ["x"]}, "The selection is not valid"),
        ({"action": "hide", "ids": ["-3"]}, "The selection is not valid"),
        ({"action": "explode", "ids": ["1"]}, "Choose what to do with the selected videos."),
        ({"action": "hide", "ids": [str(i) for i in range(1, 102)]}, "at most 100 videos"),
    ],
)
def test_bad_input_changes_nothing_and_says_why(signed_in, payer, data, message):
    job = done_job(payer)
    response = signed_in.post(BULK, {**data, "next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == reverse("generations:list")
    assert message in texts(response)[0]
    job.refresh_from_db()
    assert job.hidden_at is None and not AuditEntry.objects.exists()


def test_the_form_needs_its_csrf_token(payer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(payer)
    job = done_job(payer)
    assert client.post(BULK, {"action": "hide", "ids": [job.pk]}).status_code == 403
    assert Generation.objects.get(pk=job.pk).hidden_at is None


def test_a_get_is_not_an_action(signed_in):
    assert signed_in.get(BULK).status_code == 405


def test_delete_asks_on_a_page_first_then_deletes(signed_in, payer, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    job = done_job(payer, prompt="the doomed clip")
    theirs = done_job(UserFactory(), prompt="their clip")
    response = signed_in.post(BULK, {"action": "delete", "ids": [job.pk, theirs.pk]})
    assert response.status_code == 302
    assert response.url.startswith(reverse("generations:bulk_delete") + "?ids=")
    assert Generation.objects.get(pk=job.pk).deleted_at is None  # not yet

    page = signed_in.get(response.url).content.decode()
    assert "Delete 1 video?" in page and "the doomed clip" in page
    assert "their clip" not in page and "1 selected item is not listed" in page
    assert '<input type="hidden" name="confirmed" value="1">' in page
    assert f'<input type="hidden" name="ids" value="{job.pk}">' in page
    assert f'value="{theirs.pk}"' not in page

    done = signed_in.post(BULK, {"action": "delete", "confirmed": "1", "ids": [job.pk]})
    assert texts(done)[0].startswith("Deleted 1 video from storage")
    assert Generation.objects.get(pk=job.pk).result_state == "deleted"
    gallery = signed_in.get(reverse("generations:list")).content.decode()
    assert "the doomed clip" not in gallery
    detail = signed_in.get(reverse("generations:detail", args=[job.pk])).content.decode()
    assert "You deleted this video" in detail


def test_the_confirmation_page_says_which_jobs_still_run(signed_in, make_job):
    running = make_job(state="submitted")
    page = signed_in.get(reverse("generations:bulk_delete"), {"ids": [running.pk]})
    html = page.content.decode()
    assert f"Still running: #{running.pk}" in html and "disabled" in html
    refused = signed_in.post(BULK, {"action": "delete", "confirmed": "1", "ids": [running.pk]})
    assert f"Generation #{running.pk} is still running" in texts(refused)[0]
    assert Generation.objects.get(pk=running.pk).deleted_at is None


def test_favourite_says_how_many(signed_in, payer):
    jobs = [done_job(payer), done_job(payer)]
    response = signed_in.post(BULK, {"action": "favourite", "ids": [j.pk for j in jobs]})
    assert texts(response) == ["Added 2 videos to favourites."]
    assert Generation.objects.filter(favourite=True).count() == 2


def test_generate_again_on_one_opens_the_form(signed_in, payer):
    job = done_job(payer)
    response = signed_in.post(BULK, {"action": "again", "ids": [job.pk]})
    assert response.url == f"{reverse('generations:new')}?again={job.pk}"
    assert Generation.objects.count() == 1


def test_generate_again_on_several_queues_them_or_says_why_not(
    signed_in, payer, make_job, django_capture_on_commit_callbacks
):
    jobs = [make_job(state="failed"), make_job(state="failed")]
    with django_capture_on_commit_callbacks():
        response = signed_in.post(
            BULK, {"action": "again", "ids": [j.pk for j in jobs], "token": "t1"}
        )
    (text,) = texts(response)
    assert text.startswith("Queued 2 new jobs (#") and "80 credits are reserved" in text
    assert Generation.objects.filter(state="queued").count() == 2

    balance = CreditAccount.objects.get(user=payer).balance
    credits_revoke(user=payer, amount=balance - 50, actor=None, memo="test")
    refused = signed_in.post(BULK, {"action": "again", "ids": [j.pk for j in jobs], "token": "t2"})
    assert texts(refused)[-1:] == [
        "2 new jobs: This costs 80 credits; you have 50 available. Nothing was submitted; "
        "select fewer videos."
    ]
    assert Generation.objects.filter(state="queued").count() == 2


def test_generate_again_on_several_is_made_once_per_form(
    signed_in, payer, make_job, django_capture_on_commit_callbacks
):
    """A double click or a resent form: the second post of one token makes nothing."""
    jobs = [make_job(state="failed"), make_job(state="failed")]
    token = signed_in.get(reverse("generations:list")).context["bulk_token"]
    data = {"action": "again", "ids": [j.pk for j in jobs], "token": token}
    with django_capture_on_commit_callbacks():
        signed_in.post(BULK, data)
        again = signed_in.post(BULK, data)
    assert texts(again)[-1] == "These jobs were already submitted; nothing more was charged."
    assert Generation.objects.filter(state="queued").count() == 2
    no_token = signed_in.post(BULK, {"action": "again", "ids": [j.pk for j in jobs]})
    assert "already submitted" in texts(no_token)[-1]
    assert Generation.objects.filter(state="queued").count() == 2


def test_generate_again_is_made_once_per_form_across_processes(
    signed_in, payer, make_job, django_capture_on_commit_callbacks
):
    """Without Redis each gunicorn process has its own cache: the second post of one form
    may reach a process that never saw the first. The database decides, not the cache."""
    from django.core.cache import cache

    from generations.models import CreditEntry

    jobs = [make_job(state="failed"), make_job(state="failed")]
    token = signed_in.get(reverse("generations:list")).context["bulk_token"]
    data = {"action": "again", "ids": [j.pk for j in jobs], "token": token}
    with django_capture_on_commit_callbacks():
        first = signed_in.post(BULK, data)
    assert texts(first)[-1].startswith("Queued 2 new jobs")
    entries = CreditEntry.objects.count()
    account = CreditAccount.objects.get(user=payer)
    cache.clear()  # another process: nothing of the first post in its cache
    with django_capture_on_commit_callbacks():
        again = signed_in.post(BULK, data)
    assert texts(again)[-1] == "These jobs were already submitted; nothing more was charged."
    assert Generation.objects.filter(state="queued").count() == 2
    assert CreditEntry.objects.count() == entries
    refreshed = CreditAccount.objects.get(user=payer)
    assert (refreshed.balance, refreshed.held) == (account.balance, account.held)
