"""The generation endpoints: create in each mode (URLs and uploads), idempotency, list,
detail, cancel and the video with byte ranges; money refusals and validation as problems."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile

from generations.models import ApiIdempotencyKey, CreditAccount, CreditEntry, Generation
from generations.services.ledger import credits_grant

from ..factories import GenerationFactory, UserFactory
from ..media import image_bytes
from .conftest import EXTEND, IMAGE, PUBLIC_PNG, TEXT, client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/generations"
PROBLEM = "application/problem+json"


def account(user) -> tuple[int, int]:
    row = CreditAccount.objects.get(user=user)
    return row.balance, row.held


def field_errors(response) -> dict:
    assert response["Content-Type"] == PROBLEM, response.content
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


# --- Create -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [TEXT, IMAGE, EXTEND], ids=["text", "image", "extend"])
def test_a_job_is_created_in_each_mode_with_its_price_held(api_client, rich, body):
    response = api_client.post(URL, body)
    assert response.status_code == 201, response.content
    job = response.json()
    generation = Generation.objects.get()
    assert job["id"] == generation.pk and job["state"] == "queued" and job["mode"] == body["mode"]
    assert response["Location"].endswith(f"/api/v1/generations/{generation.pk}")
    assert account(rich) == (10_000 - generation.price_credits, generation.price_credits)
    assert job["price_credits"] == generation.price_credits > 0


def test_defaults_are_the_forms(api_client):
    response = api_client.post(URL, {"mode": "text-to-video", "prompt": "a quiet lake"})
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["resolution"], job["duration"], job["sound"], job["aspect_ratio"]) == (
        "720p",
        8,
        False,
        "16:9",
    )
    extend = api_client.post(URL, {**EXTEND, "seed": None}).json()
    assert extend["camera_fixed"] is True and extend["aspect_ratio"] is None


def test_the_same_price_as_the_form_is_held(api_client, rich, client):
    """One validation and one price: the page and the API make the same job."""
    api_job = api_client.post(URL, TEXT).json()
    client.force_login(rich)
    client.post(
        "/new/",
        {
            **TEXT,
            "prompt": "the same settings from the page",
            "duration": "4",
            "sound": "off",
            "aspect_ratio": "16:9",
            "client_token": "x1",
        },
    )
    web_job = Generation.objects.exclude(pk=api_job["id"]).get()
    assert web_job.price_credits == api_job["price_credits"]
    assert web_job.provider == api_job["provider"] and web_job.model_id == api_job["model_id"]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"prompt": "  hi  "}, "prompt", "Write at least 3 characters"),
        ({"duration": 13}, "duration", "from 4 to 12"),
        ({"resolution": "4k"}, "resolution", "Choose 480p, 720p or 1080p."),
        ({"seed": 7}, "seed", "does not take this field"),
        ({"aspect_ratio": "5:4"}, "aspect_ratio", "Choose one of the aspect ratios"),
        ({"start_image_url": PUBLIC_PNG}, "start_image_url", "does not take this field"),
        ({"duration": "8"}, "duration", "Give a whole number"),
        ({"sound": "on"}, "sound", "Give true or false"),
        ({"colour": "red"}, "colour", "Unknown field"),
        ({"variations": 2}, "variations", "one job per request"),  # docs/api.md "Variations"
        ({"start_image": "x"}, "start_image", "multipart/form-data"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(
    api_client, rich, changes, field, message
):
    response = api_client.post(URL, {**TEXT, **changes})
    assert response.status_code == 422
    errors = field_errors(response)
    assert message in errors[field], errors
    assert response.json()["type"] == "urn:seedance:problem:validation"
    assert Generation.objects.count() == 0
    assert account(rich) == (10_000, 0)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({**IMAGE, "start_image_url": "http://127.0.0.1:9/a.png"}, "start_image_url", "private"),
        ({**IMAGE, "start_image_url": None}, "start_image", "Add a start frame"),
        ({**EXTEND, "source_video_url": "ftp://93.184.215.14/a"}, "source_video_url", "http"),
        ({**EXTEND, "resolution": "720p", "provider": "aivideoapi"}, "provider", "does not offer"),
    ],
)
def test_mode_rules_are_the_forms(api_client, body, field, message):
    response = api_client.post(URL, body)
    assert response.status_code == 422
    assert message in field_errors(response)[field]


def test_malformed_json_and_other_content_types(api_client):
    bad = api_client.client.post(
        URL, "{", content_type="application/json", headers=api_client._headers(None)
    )
    assert bad.status_code == 400 and bad["Content-Type"] == PROBLEM
    text = api_client.client.post(
        URL, "mode=x", content_type="text/plain", headers=api_client._headers(None)
    )
    assert text.status_code == 415
    array = api_client.post(URL, [1, 2])
    assert array.status_code == 422


def test_a_short_balance_is_a_402_and_changes_nothing(db):
    poor = UserFactory(credits=10)
    response = client_for(poor).post(URL, TEXT)
    assert response.status_code == 402
    problem = response.json()
    assert problem["type"] == "urn:seedance:problem:insufficient-credits"
    assert problem["available"] == 10 and problem["needed"] > 10
    assert "only 10 are available" in problem["detail"]
    assert Generation.objects.count() == 0 and account(poor) == (10, 0)


def test_the_monthly_cap_is_a_409_and_changes_nothing(db):
    capped = UserFactory(credits=10_000, monthly_cap_credits=30)
    response = client_for(capped).post(URL, TEXT)
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "urn:seedance:problem:monthly-cap-exceeded"
    assert problem["cap"] == 30 and "monthly cap" in problem["detail"]
    assert Generation.objects.count() == 0 and account(capped) == (10_000, 0)


# --- Uploads ----------------------------------------------------------------------------------


def test_an_uploaded_start_frame_is_checked_and_stored_like_the_forms(api_client):
    upload = SimpleUploadedFile("frame.png", image_bytes("PNG"), "image/png")
    data = {
        "mode": "image-to-video",
        "prompt": "the lantern slowly lights up",
        "resolution": "480p",
        "duration": "4",
        "sound": "true",
        "start_image": upload,
    }
    response = api_client.post(URL, data=data)
    assert response.status_code == 201, response.content
    generation = Generation.objects.get()
    (stored,) = generation.inputs.all()
    assert stored.is_stored and stored.content_type == "image/png"
    assert generation.sound is True and response.json()["inputs"][0]["url"] is None


def test_an_upload_that_is_not_an_image_is_refused_with_the_forms_message(api_client, rich):
    fake = SimpleUploadedFile("frame.png", b"GIF89a" + b"\0" * 64, "image/png")
    response = api_client.post(
        URL,
        data={**{k: str(v) for k, v in IMAGE.items() if k != "start_image_url"}}
        | {"start_image": fake},
    )
    assert response.status_code == 422
    assert "GIF files are not accepted" in field_errors(response)["start_image"]
    assert Generation.objects.count() == 0 and account(rich) == (10_000, 0)


def test_an_uploaded_clip_is_extended(api_client, tmp_path):
    from generations.simulator.video import render

    clip = tmp_path / "clip.mp4"
    render(clip, width=64, height=36, duration_s=1.0, sound=False)
    data = {
        "mode": "video-extend",
        "prompt": "the boat sails on",
        "duration": "4",
        "resolution": "480p",
        "source_video": SimpleUploadedFile("clip.mp4", clip.read_bytes(), "video/mp4"),
    }
    response = api_client.post(URL, data=data)
    assert response.status_code == 201, response.content
    (stored,) = Generation.objects.get().inputs.all()
    assert stored.kind == "video" and stored.is_stored


def test_an_upload_without_a_public_address_is_a_422(api_client, settings):
    settings.PUBLIC_BASE_URL = ""
    settings.USE_SIMULATOR = False
    upload = SimpleUploadedFile("frame.png", image_bytes("PNG"), "image/png")
    response = api_client.post(
        URL,
        data={"mode": "image-to-video", "prompt": "a lantern", "start_image": upload},
    )
    assert response.status_code == 422
    assert "PUBLIC_BASE_URL" in field_errors(response)["start_image"]


# --- Idempotency ------------------------------------------------------------------------------


def test_the_same_key_and_body_return_the_same_job(api_client, rich):
    headers = {"Idempotency-Key": "batch-row-17"}
    first = api_client.post(URL, TEXT, headers=headers)
    second = api_client.post(URL, TEXT, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert Generation.objects.count() == 1
    assert CreditEntry.objects.filter(kind="hold").count() == 1


def test_the_same_key_with_another_body_is_refused(api_client, rich):
    headers = {"Idempotency-Key": "batch-row-17"}
    api_client.post(URL, TEXT, headers=headers)
    other = api_client.post(URL, {**TEXT, "prompt": "something else"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:seedance:problem:idempotency-key-reused"
    assert Generation.objects.count() == 1


def test_a_key_refused_for_money_can_be_retried_after_a_top_up(db):
    poor = UserFactory(credits=10)
    api = client_for(poor)
    headers = {"Idempotency-Key": "k1"}
    assert api.post(URL, TEXT, headers=headers).status_code == 402
    credits_grant(user=poor, amount=1000, actor=None)
    assert api.post(URL, TEXT, headers=headers).status_code == 201
    assert Generation.objects.count() == 1


def test_keys_are_per_member(api_client, db):
    headers = {"Idempotency-Key": "same"}
    mine = api_client.post(URL, TEXT, headers=headers).json()
    theirs = client_for(UserFactory(credits=1000)).post(URL, TEXT, headers=headers).json()
    assert mine["id"] != theirs["id"]
    assert ApiIdempotencyKey.objects.count() == 2


def test_a_bad_key_is_a_422(api_client):
    response = api_client.post(URL, TEXT, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 422
    assert "Idempotency-Key" in field_errors(response)


# --- Read -------------------------------------------------------------------------------------


def test_list_filters_and_cursor_pagination(api_client, rich):
    jobs = [GenerationFactory(user=rich, state="succeeded") for _ in range(5)]
    jobs += [GenerationFactory(user=rich, mode="image-to-video") for _ in range(2)]
    GenerationFactory(user=UserFactory())  # another member's: never listed
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api_client.get(URL, params).json()
        seen += [job["id"] for job in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted((j.pk for j in jobs), reverse=True)
    succeeded = api_client.get(URL, {"state": "succeeded"}).json()["items"]
    assert {j["id"] for j in succeeded} == {j.pk for j in jobs[:5]}
    images = api_client.get(URL, {"mode": "image-to-video"}).json()["items"]
    assert {j["id"] for j in images} == {j.pk for j in jobs[5:]}
    newest = jobs[-1].created_at.isoformat()
    recent = api_client.get(URL, {"created_after": newest}).json()["items"]
    assert [j["id"] for j in recent] == [jobs[-1].pk]
    older = api_client.get(URL, {"created_before": newest}).json()["items"]
    assert jobs[-1].pk not in [j["id"] for j in older] and len(older) == 6


@pytest.mark.parametrize(
    ("params", "field"),
    [({"state": "done"}, "state"), ({"limit": 0}, "limit"), ({"cursor": "nope"}, "cursor")],
)
def test_bad_filters_are_a_422(api_client, params, field):
    response = api_client.get(URL, params)
    assert response.status_code == 422
    assert field in field_errors(response)


def test_another_members_job_is_a_404_everywhere(api_client):
    theirs = GenerationFactory(
        user=UserFactory(), state="succeeded", result_state="stored", result_file="results/x.mp4"
    )
    for response in (
        api_client.get(f"{URL}/{theirs.pk}"),
        api_client.post(f"{URL}/{theirs.pk}/cancel"),
        api_client.get(f"{URL}/{theirs.pk}/video"),
    ):
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
    assert Generation.objects.get(pk=theirs.pk).state == "succeeded"


def test_detail(api_client, rich):
    mine = GenerationFactory(user=rich, state="failed", fail_message="The provider refused.")
    job = api_client.get(f"{URL}/{mine.pk}").json()
    assert (job["id"], job["state"], job["fail_message"]) == (
        mine.pk,
        "failed",
        "The provider refused.",
    )
    assert job["video_url"] is None


# --- Cancel -----------------------------------------------------------------------------------


def test_cancel_releases_a_queued_job_and_refuses_a_sent_one(api_client, rich):
    created = api_client.post(URL, TEXT).json()
    response = api_client.post(f"{URL}/{created['id']}/cancel")
    assert response.status_code == 200 and response.json()["state"] == "canceled"
    assert account(rich) == (10_000, 0)
    assert CreditEntry.objects.filter(kind="release", actor=rich).count() == 1
    again = api_client.post(f"{URL}/{created['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["type"] == "urn:seedance:problem:not-cancelable"
    sent = GenerationFactory(user=rich, state="submitted")
    assert api_client.post(f"{URL}/{sent.pk}/cancel").status_code == 409
    assert Generation.objects.get(pk=sent.pk).state == "submitted"


# --- Video ------------------------------------------------------------------------------------


@pytest.fixture
def finished(rich, settings):
    generation = GenerationFactory(user=rich, state="succeeded", result_state="stored")
    generation.result_file.save("r.mp4", ContentFile(bytes(range(256)) * 4), save=True)
    return generation


def test_the_video_is_sent_whole_or_by_byte_range(api_client, finished):
    whole = api_client.get(f"{URL}/{finished.pk}/video")
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == bytes(range(256)) * 4
    part = api_client.get(f"{URL}/{finished.pk}/video", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part["Content-Range"] == "bytes 10-19/1024"
    assert b"".join(part.streaming_content) == bytes(range(10, 20))
    past = api_client.get(f"{URL}/{finished.pk}/video", headers={"Range": "bytes=5000-"})
    assert past.status_code == 416
    job = api_client.get(f"{URL}/{finished.pk}").json()
    assert job["video_url"] == f"http://testserver/api/v1/generations/{finished.pk}/video"
    download = api_client.get(f"{URL}/{finished.pk}/video", {"download": "1"})
    assert download["Content-Disposition"].startswith("attachment")


def test_a_job_without_a_video_is_a_404(api_client, rich):
    running = GenerationFactory(user=rich, state="submitted")
    response = api_client.get(f"{URL}/{running.pk}/video")
    assert response.status_code == 404 and "no stored video" in response.json()["detail"]


def test_a_body_over_the_portals_limit_is_a_413_problem_before_it_is_read(api_client):
    from generations.uploads import REQUEST_MAX_BYTES

    response = api_client.client.generic(
        "POST",
        URL,
        b"",
        content_type="multipart/form-data; boundary=x",
        headers={**api_client._headers(None), "Content-Length": str(REQUEST_MAX_BYTES + 1)},
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert Generation.objects.count() == 0


def test_a_video_deleted_in_the_gallery_reads_as_deleted(api_client, rich, finished):
    """docs/storage.md "Bulk actions": the job stays, its video is gone."""
    from generations.services.bulk_actions import generations_delete

    generations_delete(user=rich, ids=[finished.pk])
    job = api_client.get(f"{URL}/{finished.pk}")
    assert job.status_code == 200
    assert job.json()["result_state"] == "deleted" and job.json()["video_url"] is None
    assert api_client.get(f"{URL}/{finished.pk}/video").status_code == 404
