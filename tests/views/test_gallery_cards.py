"""Gallery cards' actions (issue #15 item 2): download, generate again, extend, copy prompt,
favourite; "Refunded" on a failed card; elapsed time."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


def card_html(response, generation) -> str:
    """The HTML of ``generation``'s card on a gallery page (or the fragment itself)."""
    html = response.content.decode()
    match = re.search(rf'<article id="generation-{generation.pk}".*?</article>', html, re.S)
    assert match, f"no card for #{generation.pk}"
    return match.group(0)


@pytest.fixture
def jobs(make_job):
    return {
        "finished": make_job(state="succeeded", result_state="stored", result_file="results/x.mp4"),
        "failed": make_job(state="failed", fail_message="The provider refused the prompt."),
        "running": make_job(state="submitted"),
    }


def test_a_finished_card_offers_every_action(client, payer, jobs):
    client.force_login(payer)
    job = jobs["finished"]
    card = card_html(client.get(reverse("generations:list")), job)

    assert f'href="/g/{job.pk}/video/?download=1" download' in card
    assert f'href="/new/?again={job.pk}"' in card
    assert f'href="/new/?extend={job.pk}"' in card
    assert "data-copy-prompt hidden" in card  # shown by gallery.js, which can copy
    assert f'action="/g/{job.pk}/favourite/"' in card
    assert 'name="csrfmiddlewaretoken"' in card
    assert 'aria-pressed="false"' in card
    assert "Refunded" not in card and "Running for" not in card


def test_a_failed_card_says_refunded_with_the_released_amount(client, payer, jobs):
    client.force_login(payer)
    job = jobs["failed"]
    for response in (
        client.get(reverse("generations:list")),
        client.get(reverse("generations:card", args=[job.pk])),
    ):
        card = card_html(response, job)
        assert "Refunded: 40 credits returned to your balance" in card
        assert "download" not in card and "?extend=" not in card
        assert f'href="/new/?again={job.pk}"' in card


def test_a_running_card_shows_its_elapsed_time(client, payer, jobs):
    """The running count in the title is static/js/live.js's (tests/views/test_updates.py)."""
    client.force_login(payer)
    response = client.get(reverse("generations:list"))
    card = card_html(response, jobs["running"])

    created = jobs["running"].created_at.isoformat()
    assert f'Running for <time datetime="{created}" data-elapsed-since>' in card


def test_the_gallery_reads_refunds_in_one_query_whatever_the_page_size(client, payer, make_job):
    client.force_login(payer)
    make_job(state="failed")
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("generations:list"))
    for _ in range(5):
        make_job(state="failed")
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("generations:list"))
    assert len(many) == len(few)


# --- Favourite: the owner only, POST only, with the CSRF token -------------------------


def favourite_url(job) -> str:
    return reverse("generations:favourite", args=[job.pk])


def test_the_owner_marks_and_unmarks_a_favourite_and_returns_to_the_page(client, payer, jobs):
    client.force_login(payer)
    job = jobs["finished"]
    back = f"/?state=succeeded&page=1#generation-{job.pk}"

    response = client.post(favourite_url(job), {"favourite": "1", "next": back})
    assert response.status_code == 302 and response.url == back
    job.refresh_from_db()
    assert job.favourite
    assert 'aria-pressed="true"' in card_html(client.get(reverse("generations:list")), job)

    response = client.post(
        favourite_url(job), {"favourite": "0"}, headers={"accept": "application/json"}
    )
    assert response.json() == {"favourite": False}
    job.refresh_from_db()
    assert not job.favourite


def test_favourite_refuses_get_and_other_members_and_visitors(client, payer, jobs):
    job = jobs["finished"]
    client.force_login(payer)
    assert client.get(favourite_url(job)).status_code == 405

    client.force_login(UserFactory())
    assert client.post(favourite_url(job), {"favourite": "1"}).status_code == 404

    client.logout()
    response = client.post(favourite_url(job), {"favourite": "1"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    job.refresh_from_db()
    assert not job.favourite


def test_favourite_needs_the_csrf_token(payer, jobs):
    job = jobs["finished"]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(payer)

    assert browser.post(favourite_url(job), {"favourite": "1"}).status_code == 403
    job.refresh_from_db()
    assert not job.favourite

    page = browser.get(reverse("generations:list")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(favourite_url(job), {"favourite": "1", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.favourite


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "#top", ""])
def test_favourite_never_redirects_off_the_site(client, payer, jobs, target):
    client.force_login(payer)
    response = client.post(favourite_url(jobs["finished"]), {"favourite": "1", "next": target})
    assert response.url == reverse("generations:list")


def test_the_card_fragment_leads_its_forms_back_to_the_gallery(client, payer, jobs):
    client.force_login(payer)
    job = jobs["running"]
    card = card_html(client.get(reverse("generations:card", args=[job.pk])), job)
    assert f'name="next" value="/#generation-{job.pk}"' in card


def test_another_members_job_never_shows_in_the_gallery(client, payer, jobs):
    theirs = GenerationFactory(user=UserFactory(), state="failed", prompt="their secret")
    client.force_login(payer)
    assert "their secret" not in client.get(reverse("generations:list")).content.decode()
    assert client.get(reverse("generations:card", args=[theirs.pk])).status_code == 404
