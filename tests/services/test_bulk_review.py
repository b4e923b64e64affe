"""Findings of the attacker/operator review of the bulk actions and the team library
(docs/storage.md "Bulk actions", docs/gallery.md "Team library"): each fails on the code
before the fix."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generations.models import CreditEntry, Generation
from generations.services import bulk_actions
from generations.services.bulk_actions import BulkRefused
from generations.services.posters import generation_poster_store
from generations.services.sharing import generation_share_set

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_STORAGE = "local"
    settings.MEDIA_ROOT = str(tmp_path / "media")


def stored(user, **fields) -> Generation:
    generation = GenerationFactory(user=user, state="succeeded", result_state="stored", **fields)
    generation.result_file.save(f"r-{generation.pk}.mp4", ContentFile(b"video" * 100))
    generation.poster.save(f"p-{generation.pk}.webp", ContentFile(b"poster"))
    return generation


def test_bulk_generate_again_cannot_extend_a_video_that_was_unshared_since(payer):
    owner = UserFactory()
    source = stored(owner)
    generation_share_set(actor=owner, generation_id=source.pk, shared=True)
    extension = GenerationFactory(
        user=payer, state="succeeded", mode="video-extend", source_generation=source
    )
    own = stored(payer)
    generation_share_set(actor=owner, generation_id=source.pk, shared=False)
    holds = CreditEntry.objects.filter(kind="hold").count()
    with pytest.raises(BulkRefused, match="no longer shared"):
        bulk_actions.generations_again(user=payer, ids=[extension.pk, own.pk])
    assert CreditEntry.objects.filter(kind="hold").count() == holds  # nothing held


def test_delete_marks_a_failed_download_deleted_so_no_retry_or_poster_writes_it_back(payer):
    generation = GenerationFactory(user=payer, state="succeeded", result_state="failed")
    bulk_actions.generations_delete(user=payer, ids=[generation.pk])
    generation.refresh_from_db()
    assert generation.result_state == Generation.ResultState.DELETED
    assert not generation_poster_store(generation_id=generation.pk, data=b"webp")
    generation.refresh_from_db()
    assert not generation.poster


def test_an_id_beyond_a_64_bit_key_is_a_clear_refusal_not_a_server_error(member_client):
    response = member_client.post(
        reverse("generations:bulk"), {"action": "hide", "ids": str(2**70)}, follow=True
    )
    assert response.status_code == 200
    assert "not valid" in response.content.decode()


def test_a_poster_is_revalidated_so_an_unshare_takes_effect_at_once(member_client, member):
    generation = stored(member)
    response = member_client.get(reverse("generations:poster", args=[generation.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
