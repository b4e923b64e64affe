"""Poster frames: made from a real MP4 when the result is stored, backfilled by make_posters,
served to the owner only, and never a reason to fail a job (docs/storage.md "Posters")."""

import io
import logging
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from PIL import Image

from generations.models import Generation
from generations.providers.http import DownloadResult
from generations.services import lifecycle, posters
from generations.simulator.video import render

from ..factories import GenerationFactory, UserFactory
from .conftest import VIDEO

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def mp4(tmp_path_factory) -> bytes:
    """A real, 2 s, 256x144 H.264 MP4 (the simulator's renderer)."""
    path = Path(tmp_path_factory.mktemp("video")) / "clip.mp4"
    render(path, width=256, height=144, duration_s=2, sound=False)
    return path.read_bytes()


@pytest.fixture(scope="module")
def wide_mp4(tmp_path_factory) -> bytes:
    """A 1 s, 1280x720 MP4, wider than a poster may be."""
    path = Path(tmp_path_factory.mktemp("video")) / "wide.mp4"
    render(path, width=1280, height=720, duration_s=1, sound=False)
    return path.read_bytes()


def stored(user, content: bytes, **fields) -> Generation:
    generation = GenerationFactory(user=user, state="succeeded", result_state="stored", **fields)
    generation.result_file.save(f"generation-{generation.pk}.mp4", ContentFile(content))
    return generation


def test_a_poster_is_a_webp_frame_of_the_video(mp4):
    data = posters.poster_from_video(io.BytesIO(mp4))

    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    assert image.size == (256, 144)
    # A real frame (the simulator's gradient and box), not a blank image.
    low, high = image.convert("L").getextrema()
    assert high - low > 30


def test_a_wide_video_gets_a_poster_at_most_640_px_wide(wide_mp4):
    image = Image.open(io.BytesIO(posters.poster_from_video(io.BytesIO(wide_mp4))))
    assert image.size == (640, 360)


def test_bytes_that_are_not_a_video_raise_poster_error():
    with pytest.raises(posters.PosterError):
        posters.poster_from_video(io.BytesIO(VIDEO))  # an MP4 header and noise


@pytest.fixture
def downloads(monkeypatch):
    """Fake the provider's CDN at the download seam; set ``downloads.body`` to its answer."""

    class Download:
        body = b""

    def download_to_file(url, fileobj, **kwargs):
        fileobj.write(Download.body)
        size = len(Download.body)
        return DownloadResult(content_type="video/mp4", size_bytes=size, final_url=url)

    monkeypatch.setattr(lifecycle, "download_to_file", download_to_file)
    monkeypatch.setattr(lifecycle, "_enqueue_notify", lambda generation_id: None)
    return Download


def pending(user) -> Generation:
    return GenerationFactory(
        user=user,
        state="succeeded",
        result_state="pending",
        result_url="https://cdn.provider.test/result.mp4",
    )


def test_storing_a_result_stores_its_poster_beside_it(local_media, downloads, mp4, member):
    downloads.body = mp4
    generation = pending(member)

    assert lifecycle.generation_store_result(generation_id=generation.pk) == "stored"

    generation.refresh_from_db()
    assert generation.poster.name.startswith("posters/")
    assert generation.poster.name.endswith(f"/generation-{generation.pk}.webp")
    assert Image.open(local_media / generation.poster.name).format == "WEBP"


def test_a_video_with_no_frame_is_stored_without_a_poster(local_media, downloads, member, caplog):
    downloads.body = VIDEO  # passes the download's checks, but FFmpeg finds no frame
    generation = pending(member)
    balance = member.credit_account.balance

    with caplog.at_level(logging.WARNING, logger="generations.services.posters"):
        assert lifecycle.generation_store_result(generation_id=generation.pk) == "stored"

    generation.refresh_from_db()
    assert (generation.state, generation.result_state, generation.poster.name) == (
        "succeeded",
        "stored",
        "",
    )
    assert f"No poster for generation {generation.pk}" in caplog.text
    member.credit_account.refresh_from_db()
    assert member.credit_account.balance == balance  # no money moved


def test_a_storage_failure_on_the_poster_does_not_fail_the_result(
    local_media, downloads, mp4, member, monkeypatch, caplog
):
    downloads.body = mp4
    generation = pending(member)
    field_file = type(Generation().poster)

    def refuse(self, name, content, save=True):
        raise OSError("disk full")

    original_save = field_file.save

    def save(self, name, content, save=True):
        if self.field.name == "poster":
            return refuse(self, name, content, save)
        return original_save(self, name, content, save)

    monkeypatch.setattr(field_file, "save", save)

    with caplog.at_level(logging.WARNING, logger="generations.services.posters"):
        assert lifecycle.generation_store_result(generation_id=generation.pk) == "stored"

    generation.refresh_from_db()
    assert generation.result_state == "stored" and generation.result_file and not generation.poster
    assert f"Poster of generation {generation.pk} not stored" in caplog.text


def test_make_posters_backfills_old_results_once(local_media, mp4, member, capsys):
    old = [stored(member, mp4) for _ in range(3)]
    broken = stored(member, VIDEO)
    GenerationFactory(user=member, state="failed")  # no video: not read

    call_command("make_posters", batch=2)
    out, err = capsys.readouterr()

    assert "Posters made: 3; could not be made: 1." in out
    assert f"#{broken.pk}" in err
    for generation in old:
        generation.refresh_from_db()
        assert Image.open(local_media / generation.poster.name).format == "WEBP"
    names = sorted(p.name for p in (local_media / "posters").rglob("*.webp"))

    call_command("make_posters")  # again: only the broken one is tried
    out, _ = capsys.readouterr()
    assert "Posters made: 0; could not be made: 1." in out
    assert sorted(p.name for p in (local_media / "posters").rglob("*.webp")) == names


def test_the_poster_is_served_to_its_owner_only(local_media, mp4, member, client):
    generation = stored(member, mp4)
    posters.generation_poster_make(generation_id=generation.pk)
    without = stored(member, mp4)
    url = reverse("generations:poster", args=[generation.pk])

    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert "private" in response["Cache-Control"]
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).format == "WEBP"
    assert client.get(reverse("generations:poster", args=[without.pk])).status_code == 404

    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
