"""The admin's looks (issue #15 item 11; docs/formats.md): it says "Seedance Studio", plays
a generation's stored video through the portal's protected URL, and offers no Save button
on a page where nothing can be edited."""

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generations.models import AuditEntry, CreditEntry, Price, PriceTable, ProviderAlert
from generations.services.audit import audit_record

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db

SAVE_BUTTONS = re.compile(r'name="_(save|continue|addanother)"')


@pytest.fixture
def stored(settings, tmp_path):
    """A succeeded job of another member with a stored video and poster."""
    settings.MEDIA_ROOT = str(tmp_path)
    generation = GenerationFactory(user=UserFactory(), state="succeeded", result_state="stored")
    generation.result_file.save("clip.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42"))
    generation.poster.save("poster.webp", ContentFile(b"RIFF\x00\x00\x00\x00WEBP"))
    return generation


def test_the_admin_says_seedance_studio_and_shows_the_favicon(client, as_role):
    as_role("staff_manager")
    page = client.get(reverse("admin:index")).content.decode()
    assert re.search(r'<div id="site-name"><a href="/admin/">Seedance Studio</a>', page)
    assert "<title>Operations console | Seedance Studio admin</title>" in page
    assert "Django administration" not in page
    assert re.search(r'<link rel="icon" href="/static/favicon\.svg" type="image/svg\+xml">', page)


@pytest.mark.parametrize("role", ["superuser", "staff_manager", "viewer"])
def test_the_generation_page_plays_the_stored_video(client, as_role, role, stored):
    as_role(role)
    page = client.get(reverse("admin:generations_generation_change", args=[stored.pk]))
    html = page.content.decode()
    video = reverse("generations:video", args=[stored.pk])
    poster = reverse("generations:poster", args=[stored.pk])
    assert f'<video class="result-player" src="{video}" poster="{poster}" controls' in html
    # The same protected URLs as the portal, open to staff who view generations.
    assert client.get(video).status_code == 200
    assert client.get(poster).status_code == 200


def test_the_player_urls_stay_closed_to_others(client, as_role, member_client, stored):
    video = reverse("generations:video", args=[stored.pk])
    assert member_client.get(video).status_code == 404  # a member, not the owner
    as_role("plain_staff")  # staff without view_generation
    assert client.get(video).status_code == 404
    assert client.get(reverse("generations:poster", args=[stored.pk])).status_code == 404


def test_a_job_without_a_stored_video_says_so(client, as_role):
    as_role("superuser")
    queued = GenerationFactory(state="queued")
    page = client.get(reverse("admin:generations_generation_change", args=[queued.pk]))
    assert "No stored video." in page.content.decode()
    assert "<video" not in page.content.decode()


def change_pages(superuser, stored):
    """One change page of each admin whose fields are all read-only, with its object."""
    alert = ProviderAlert.objects.create(provider="apixo", kind="http_402", message="Top up.")
    audit_record(actor=superuser, action=AuditEntry.Action.ACCOUNT_CHANGE, memo="x")
    return {
        "generation": stored.pk,  # change permission for its actions, every field read-only
        "provideralert": alert.pk,  # the same
        "creditentry": CreditEntry.objects.first().pk,  # no change permission
        "auditentry": AuditEntry.objects.first().pk,
        "pricetable": PriceTable.objects.current().pk,
    }


def test_pages_with_nothing_to_edit_have_no_save_button(client, as_role, stored):
    superuser = as_role("superuser")
    for model, pk in change_pages(superuser, stored).items():
        page = client.get(reverse(f"admin:generations_{model}_change", args=[pk]))
        assert page.status_code == 200, model
        html = page.content.decode()
        assert not SAVE_BUTTONS.search(html), f"{model} offers Save"
        assert 'class="closelink"' in html, model


def test_a_page_with_an_editable_field_keeps_save(client, as_role):
    as_role("superuser")
    price = Price.objects.filter(table=PriceTable.objects.current()).first()
    html = client.get(reverse("admin:generations_price_change", args=[price.pk])).content.decode()
    assert 'name="_save"' in html
