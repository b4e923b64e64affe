"""Uploads reach the media storage outside the transaction that holds the credits.

With ``MEDIA_STORAGE=s3`` each write is an HTTP request; docs/style.md practice 3 keeps HTTP out
of transactions, and this one locks the member's account row (``credits_hold``).
"""

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import connection

from generations.models import GenerationInput
from generations.services.generations import GenerationSpec, generation_create
from generations.services.inputs import InputSpec
from generations.services.ledger import InsufficientCredits

from ..factories import UserFactory
from ..media import image_bytes

pytestmark = pytest.mark.django_db


def image_spec() -> GenerationSpec:
    upload = InputSpec(
        kind="image",
        name="start.png",
        content=image_bytes("PNG"),
        content_type="image/png",
        thumbnail=image_bytes("JPEG"),
    )
    return GenerationSpec(
        mode="image-to-video",
        prompt="a boat drifts",
        resolution="480p",
        duration=4,
        sound=False,
        inputs=(upload,),
    )


@pytest.fixture
def writes(local_media, settings, monkeypatch):
    """Record, for each file written, how many transactions were open around it."""
    settings.PUBLIC_BASE_URL = "https://studio.example.com"
    depths = []
    original = FileSystemStorage._save

    def save(self, name, content):
        depths.append(len(connection.atomic_blocks))
        return original(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", save)
    return depths


def test_uploads_are_stored_before_the_transaction_opens(writes, local_media):
    outside = len(connection.atomic_blocks)  # the test's own transaction
    generation = generation_create(user=UserFactory(credits=1000), spec=image_spec())

    assert writes == [outside, outside]  # the image and its thumbnail
    stored = GenerationInput.objects.get(generation=generation)
    assert stored.file.name.startswith("inputs/") and stored.thumbnail.name
    assert (local_media / stored.file.name).read_bytes() == image_bytes("PNG")


def test_a_refused_submit_leaves_no_file_behind(writes, local_media):
    with pytest.raises(InsufficientCredits):
        generation_create(user=UserFactory(credits=10), spec=image_spec())

    assert len(writes) == 2
    assert not [path for path in local_media.rglob("*") if path.is_file()]
