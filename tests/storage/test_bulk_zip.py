"""The gallery's bulk ZIP (docs/storage.md "Bulk actions"): streamed with bounded memory from
local disk and from object storage, a valid archive, sensible names, the member's own videos."""

import os
import tracemalloc
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generations.archives import zip_member_name
from generations.selectors.generations import bulk_zip_generations

from ..factories import GenerationFactory, UserFactory

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def video_of(user, size: int, **fields):
    """A succeeded job of ``user`` whose stored video is ``size`` random bytes."""
    generation = GenerationFactory(user=user, state="succeeded", result_state="stored", **fields)
    generation.result_file.save(f"v-{generation.pk}.mp4", ContentFile(os.urandom(size)))
    return generation


def download(client, ids, tmp_path, *, measure=False):
    """POST the bulk download; write the streamed body to a file; return (response, path, peak).

    With ``measure``, one small download first loads every module and template the request
    touches (about 5 MB of allocations that stay), so the peak is the ZIP's own.
    """
    if measure:
        warm = client.post(reverse("generations:bulk"), {"action": "download", "ids": ids[:1]})
        for _ in warm.streaming_content:
            pass
        tracemalloc.start()
    response = client.post(reverse("generations:bulk"), {"action": "download", "ids": ids})
    target = tmp_path / "out.zip"
    with target.open("wb") as sink:
        for chunk in response.streaming_content:
            sink.write(chunk)
    peak = 0
    if measure:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return response, target, peak


def test_a_zip_of_several_mb_streams_with_bounded_memory_and_reads_back(
    client, payer, local_media, tmp_path
):
    jobs = [video_of(payer, 2 * MB, prompt=f"A red fox, take {n}!") for n in range(4)]
    total = sum(j.result_file.size for j in jobs)
    client.force_login(payer)

    response, path, peak = download(client, [j.pk for j in jobs], tmp_path, measure=True)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="seedance-videos-')
    assert int(response["Content-Length"]) == path.stat().st_size > total
    # Peak Python allocations while making and streaming 8 MB: a few 256 KiB chunks.
    assert peak < total / 8, f"peak {peak} bytes for {total} bytes of video"
    print(f"zip: peak {peak:,} bytes of Python allocations for {total:,} bytes of video")
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None  # every CRC matches
        names = archive.namelist()
        assert names == [f"{j.pk}-a-red-fox-take-{n}.mp4" for n, j in enumerate(jobs)]
        for job, name in zip(jobs, names, strict=True):
            with job.result_file.open("rb") as stored:
                assert archive.read(name) == stored.read()


def test_only_the_members_own_stored_videos_go_in(client, payer, local_media, tmp_path):
    mine = video_of(payer, 1000)
    failed = GenerationFactory(user=payer, state="failed")
    theirs = video_of(UserFactory(), 1000)
    client.force_login(payer)

    _, path, _ = download(client, [mine.pk, failed.pk, theirs.pk], tmp_path)

    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [zip_member_name(mine)]
    follow = client.get(reverse("generations:list"))
    assert "The ZIP left out 2 selected items" in follow.content.decode()


# Closing a response fires request_finished, which closes the database connection as a
# server's would: inside a test's transaction (PostgreSQL) that would end the test, so this
# test commits for real.
@pytest.mark.django_db(transaction=True)
def test_one_zip_at_a_time_per_member_and_the_slot_frees_when_the_stream_ends(
    client, payer, local_media, tmp_path
):
    """A ZIP holds a web thread for the whole transfer: a member's second download waits
    for the first to end (or to be abandoned: the server closes the stream)."""
    job = video_of(payer, 300_000)
    other = UserFactory()
    other_job = video_of(other, 1000)
    client.force_login(payer)
    post = {"action": "download", "ids": [job.pk], "next": "/"}
    first = client.post(reverse("generations:bulk"), post)
    stream = iter(first.streaming_content)
    next(stream)  # the transfer has begun and is still going
    second = client.post(reverse("generations:bulk"), post, follow=True)
    assert "One of your ZIP downloads is still running" in second.content.decode()
    # Another member is not held up.
    other_client = type(client)()
    other_client.force_login(other)
    theirs = other_client.post(reverse("generations:bulk"), {**post, "ids": [other_job.pk]})
    assert theirs.status_code == 200 and theirs["Content-Type"] == "application/zip"
    theirs.close()
    first.close()  # the client went away: the server closes the response
    _, path, _ = download(client, [job.pk], tmp_path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == [zip_member_name(job)]
    # A response closed before its first byte (the client left at once) frees it too.
    client.post(reverse("generations:bulk"), post).close()
    _, path, _ = download(client, [job.pk], tmp_path)
    assert zipfile.ZipFile(path).namelist() == [zip_member_name(job)]


def test_nothing_to_download_is_a_message_not_an_empty_zip(client, payer, local_media):
    theirs = video_of(UserFactory(), 1000)
    client.force_login(payer)
    response = client.post(
        reverse("generations:bulk"),
        {"action": "download", "ids": [theirs.pk], "next": "/?q=fox"},
        follow=True,
    )
    assert response.redirect_chain[0][0] == "/?q=fox"
    assert "None of the selected videos can be downloaded." in response.content.decode()


def test_the_zip_takes_at_most_the_cap(payer, local_media):
    jobs = [video_of(payer, 10) for _ in range(5)]
    rows, left_out = bulk_zip_generations(user=payer, ids=[j.pk for j in jobs], limit=3)
    assert [r.pk for r in rows] == sorted(j.pk for j in jobs)[:3] and left_out == 2


def test_names_are_id_and_prompt_slug():
    job = GenerationFactory.build(pk=12, prompt="Ünïcode & symbols: *** a cat/dog ***")
    job.result_file.name = "results/2026/11/x.MP4"
    assert zip_member_name(job) == "12-unicode-symbols-a-catdog.mp4"
    job.prompt = "***"
    assert zip_member_name(job) == "12-video.mp4"


def test_a_zip_streams_from_object_storage(client, payer, s3_media, tmp_path):
    """Each object's body is streamed: reading a 2 MB object whole (``S3File.read`` does,
    into memory by default) would alone exceed the bound."""
    jobs = [video_of(payer, 2 * MB) for _ in range(3)]
    client.force_login(payer)
    response, path, peak = download(client, [j.pk for j in jobs], tmp_path, measure=True)
    assert response.status_code == 200
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert len(archive.namelist()) == 3
    assert peak < 1.5 * MB, f"peak {peak} bytes for 6 MB of video"
    print(f"zip from S3: peak {peak:,} bytes of Python allocations for {6 * MB:,} bytes")
