"""aivideoapi.ai results: a real, playable MP4 of the requested duration, aspect ratio and audio
at the reported 24 fps, served with Range support; image inputs fetched like APIXO's
(docs/architecture.md "Provider simulator"; docs/providers/aivideoapi.md "Completed", "Generation
Modes", "Image URLs Format")."""

import io

import pytest
from PIL import Image

from generations.simulator import video

from .conftest import aiv_input, http_request


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def fetch_result(data: dict, tmp_path):
    answer = http_request(data["output"]["urls"][0])
    assert answer.status == 200
    path = tmp_path / "result.mp4"
    path.write_bytes(answer.body)
    return answer, path


@pytest.mark.parametrize(
    ("duration", "audio", "aspect_ratio", "resolution", "size"),
    [
        (4, False, "16:9", "480p", (256, 144)),
        (5, True, "9:16", "720p", (180, 320)),
        (6, True, "21:9", "1080p", (504, 216)),
        (12, False, "1:1", "480p", (144, 144)),
    ],
)
def test_result_is_a_playable_mp4_matching_the_request_and_metadata(
    aiv, tmp_path, duration, audio, aspect_ratio, resolution, size
):
    task_id = aiv.submit_ok(
        aiv_input(
            duration=duration,
            generate_audio=audio,
            aspect_ratio=aspect_ratio,
            resolution=resolution,
        )
    )
    data = aiv.wait_final(task_id)

    answer, path = fetch_result(data, tmp_path)

    assert answer.headers["Content-Type"] == "video/mp4"
    assert int(answer.headers["Content-Length"]) == len(answer.body)
    assert answer.body[4:8] == b"ftyp"
    assert answer.body.find(b"moov") < answer.body.find(b"mdat")  # faststart
    info = video.probe(path)
    assert info.duration_s == pytest.approx(duration, abs=0.5)
    assert info.has_audio is audio
    assert (info.width, info.height) == size
    metadata = data["output"]["metadata"]
    with video.av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == metadata["framespersecond"] == 24
        assert sum(1 for _ in container.decode(stream)) == duration * 24


def test_range_request_gives_206_partial_content(aiv):
    data = aiv.wait_final(aiv.submit_ok(aiv_input()))
    url = data["output"]["urls"][0]
    whole = http_request(url).body

    part = http_request(url, headers={"Range": "bytes=100-199"})
    tail = http_request(url, headers={"Range": "bytes=-50"})
    beyond = http_request(url, headers={"Range": f"bytes={len(whole)}-"})
    head = http_request(url, method="HEAD")

    assert (part.status, part.body) == (206, whole[100:200])
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert (tail.status, tail.body) == (206, whole[-50:])
    assert beyond.status == 416
    assert head.status == 200
    assert head.headers["Accept-Ranges"] == "bytes"
    assert head.headers["Content-Length"] == str(len(whole))


def test_files_of_unknown_failed_or_other_provider_tasks_are_404(aiv):
    failed = aiv.submit_ok(aiv_input(prompt="no video [sim:fail]"))
    aiv.wait_final(failed)
    done = aiv.wait_final(aiv.submit_ok(aiv_input()))["id"]

    assert http_request(f"{aiv.base_url}/aivideoapi/files/{failed}.mp4").status == 404
    assert http_request(f"{aiv.base_url}/aivideoapi/files/../../etc/passwd").status == 404
    assert http_request(f"{aiv.base_url}/files/{done}.mp4").status == 404  # not an APIXO file
    assert http_request(f"{aiv.base_url}/aivideoapi/files/{done}.mp4").status == 200
    post = http_request(f"{aiv.base_url}/aivideoapi/files/{done}.mp4", method="POST")
    assert post.status == 405


@pytest.mark.parametrize("as_objects", [False, True], ids=["strings", "objects"])
def test_first_and_last_frame_images_are_fetched(aiv, local_server, as_objects):
    local_server.routes["/start.png"] = (200, png_bytes())
    local_server.routes["/end.png"] = (200, png_bytes())
    urls = [local_server.url("/start.png"), local_server.url("/end.png")]
    images = [{"url": url} for url in urls] if as_objects else urls

    data = aiv.wait_final(aiv.submit_ok(aiv_input(image_urls=images)))

    assert data["status"] == "completed"


@pytest.mark.parametrize(
    ("route", "message_part"),
    [
        ((404, b"gone"), "HTTP 404"),
        (None, "Cannot access image URL image_urls[1]"),
        ((200, b"<html>not an image</html>"), "not a JPEG, PNG or WebP"),
    ],
    ids=["http-404", "unreachable", "html"],
)
def test_unusable_image_fails_the_task_and_refunds_it(aiv, local_server, route, message_part):
    local_server.routes["/ok.png"] = (200, png_bytes())
    if route is None:
        bad_url = "http://127.0.0.1:9/closed-port.png"
    else:
        local_server.routes["/bad"] = route
        bad_url = local_server.url("/bad")

    task_id = aiv.submit_ok(aiv_input(image_urls=[local_server.url("/ok.png"), bad_url]))
    data = aiv.wait_final(task_id)

    assert data["status"] == "failed"
    assert data["error"]["code"] == "upstream_error"
    assert message_part in data["error"]["message"]
    assert aiv.credits()["balance"] == 20000


def test_oversized_image_fails_the_task(make_aiv, local_server):
    aiv = make_aiv(max_image_bytes=1000)
    local_server.routes["/big.png"] = (200, png_bytes() + b"\x00" * 2000)

    data = aiv.wait_final(aiv.submit_ok(aiv_input(image_urls=[local_server.url("/big.png")])))

    assert data["error"]["code"] == "upstream_error"
    assert "exceeds" in data["error"]["message"]


def test_sample_images_work_as_inputs(aiv):
    data = aiv.wait_final(
        aiv.submit_ok(aiv_input(image_urls=[f"{aiv.base_url}/samples/frame.jpg"]))
    )

    assert data["status"] == "completed"
