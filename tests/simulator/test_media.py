"""Result videos, Range requests and input fetching (docs/architecture.md "Provider simulator";
docs/providers/apixo.md "Task failure codes")."""

import io
import json

import pytest
from PIL import Image

from generations.simulator import video

from .conftest import EXTEND, extend_input, http_request, t2v_input


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def result_url(data: dict) -> str:
    return json.loads(data["resultJson"])["resultUrls"][0]


def fetch_result(sim, data, tmp_path):
    answer = http_request(result_url(data))
    assert answer.status == 200
    path = tmp_path / "result.mp4"
    path.write_bytes(answer.body)
    return answer, path


@pytest.mark.parametrize(
    ("duration", "sound", "aspect_ratio", "resolution", "size"),
    [
        (4, False, "16:9", "480p", (256, 144)),
        (8, True, "9:16", "720p", (180, 320)),
        (12, True, "21:9", "480p", (336, 144)),
    ],
)
def test_result_is_a_playable_mp4_of_the_requested_duration(
    sim, tmp_path, duration, sound, aspect_ratio, resolution, size
):
    task_id = sim.submit_ok(
        t2v_input(duration=duration, sound=sound, aspect_ratio=aspect_ratio, resolution=resolution)
    )
    data = sim.wait_final(task_id)

    answer, path = fetch_result(sim, data, tmp_path)

    assert answer.headers["Content-Type"] == "video/mp4"
    assert int(answer.headers["Content-Length"]) == len(answer.body)
    assert answer.body[4:8] == b"ftyp"
    assert answer.body.find(b"moov") < answer.body.find(b"mdat")  # faststart
    info = video.probe(path)
    assert info.duration_s == pytest.approx(duration, abs=0.5)
    assert info.has_audio is sound
    assert (info.width, info.height) == size
    with video.av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert sum(1 for _ in container.decode(stream)) == duration * video.FPS


def test_range_request_gives_206_partial_content(sim):
    data = sim.wait_final(sim.submit_ok(t2v_input()))
    url = result_url(data)
    whole = http_request(url).body

    part = http_request(url, headers={"Range": "bytes=100-199"})
    tail = http_request(url, headers={"Range": "bytes=-50"})
    open_ended = http_request(url, headers={"Range": f"bytes={len(whole) - 10}-"})
    beyond = http_request(url, headers={"Range": f"bytes={len(whole)}-"})
    head = http_request(url, method="HEAD")

    assert part.status == 206
    assert part.body == whole[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert part.headers["Content-Length"] == "100"
    assert (tail.status, tail.body) == (206, whole[-50:])
    assert (open_ended.status, open_ended.body) == (206, whole[-10:])
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == f"bytes */{len(whole)}"
    assert head.status == 200
    assert head.headers["Accept-Ranges"] == "bytes"
    assert head.headers["Content-Length"] == str(len(whole))


def test_files_of_unknown_or_failed_tasks_are_404(sim):
    failed = sim.submit_ok(t2v_input(prompt="no video [sim:fail]"))
    sim.wait_final(failed)

    assert http_request(f"{sim.base_url}/files/{failed}.mp4").status == 404
    assert http_request(f"{sim.base_url}/files/../../etc/passwd").status == 404


def test_image_to_video_fetches_valid_images(sim, local_server):
    local_server.routes["/start.png"] = (200, png_bytes())
    local_server.routes["/end.png"] = (200, png_bytes())
    urls = [local_server.url("/start.png"), local_server.url("/end.png")]

    data = sim.wait_final(sim.submit_ok(t2v_input(mode="image-to-video", image_urls=urls)))

    assert data["state"] == "success"


@pytest.mark.parametrize(
    ("route", "fail_code", "message_part"),
    [
        ((404, b"gone"), "INVALID_IMAGE_URL", "HTTP 404"),
        (None, "INVALID_IMAGE_URL", "Cannot access image URL image_urls[1]"),
        ((200, b"<html>not an image</html>"), "ImageFormatIncorrect", "image_urls[1]"),
        ((200, b"\x00" * 64), "ImageFormatIncorrect", "not a JPEG, PNG or WebP"),
    ],
    ids=["http-404", "unreachable", "html", "binary-junk"],
)
def test_bad_image_fails_the_task_with_the_documented_code(
    sim, local_server, route, fail_code, message_part
):
    local_server.routes["/ok.png"] = (200, png_bytes())
    if route is None:
        bad_url = "http://127.0.0.1:9/closed-port.png"
    else:
        local_server.routes["/bad"] = route
        bad_url = local_server.url("/bad")
    urls = [local_server.url("/ok.png"), bad_url]

    data = sim.wait_final(sim.submit_ok(t2v_input(mode="image-to-video", image_urls=urls)))

    assert data["state"] == "failed"
    assert data["failCode"] == fail_code
    assert message_part in data["failMsg"]


def test_image_redirects_are_followed_to_http_only(sim, local_server):
    local_server.routes["/real.png"] = (200, png_bytes())
    local_server.routes["/moved.png"] = (302, local_server.url("/real.png").encode())
    local_server.routes["/ftp.png"] = (302, b"ftp://127.0.0.1/real.png")

    moved = sim.submit_ok(
        t2v_input(mode="image-to-video", image_urls=[local_server.url("/moved.png")])
    )
    ftp = sim.submit_ok(t2v_input(mode="image-to-video", image_urls=[local_server.url("/ftp.png")]))

    assert sim.wait_final(moved)["state"] == "success"
    assert sim.wait_final(ftp)["failCode"] == "INVALID_IMAGE_URL"


def test_oversized_image_fails_the_task(make_sim, local_server):
    sim = make_sim(max_image_bytes=1000)
    local_server.routes["/big.png"] = (200, png_bytes() + b"\x00" * 2000)

    data = sim.wait_final(
        sim.submit_ok(t2v_input(mode="image-to-video", image_urls=[local_server.url("/big.png")]))
    )

    assert data["failCode"] == "IMAGE_TOO_LARGE"


@pytest.fixture(scope="module")
def source_clip(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("source") / "source.mp4"
    video.render(path, width=256, height=144, duration_s=5, sound=True)
    return path.read_bytes()


def test_extend_result_is_longer_than_the_source(sim, local_server, source_clip, tmp_path):
    local_server.routes["/source.mp4"] = (200, source_clip)

    task_id = sim.submit_ok(
        extend_input(local_server.url("/source.mp4"), duration="4", sound=True), EXTEND
    )
    data = sim.wait_final(task_id, EXTEND)

    assert data["state"] == "success"
    _, path = fetch_result(sim, data, tmp_path)
    info = video.probe(path)
    assert info.duration_s == pytest.approx(5 + 4, abs=0.5)
    assert info.duration_s > 5
    assert info.has_audio
    assert info.width * 9 == info.height * 16  # the source's aspect, not a requested one


@pytest.mark.parametrize(
    ("route", "message_part"),
    [
        ((404, b""), "Cannot access source video"),
        ((200, b"this is text, not a video" * 10), "not a readable video"),
        ((200, png_bytes()), "not a readable video"),
    ],
    ids=["http-404", "text", "still-image"],
)
def test_bad_source_video_fails_with_invalid_parameter(sim, local_server, route, message_part):
    local_server.routes["/source.mp4"] = route

    task_id = sim.submit_ok(extend_input(local_server.url("/source.mp4")), EXTEND)
    data = sim.wait_final(task_id, EXTEND)

    assert data["state"] == "failed"
    assert data["failCode"] == "INVALID_PARAMETER"
    assert message_part in data["failMsg"]


def test_identical_parameters_share_one_encoded_file(sim, media_dir):
    first = sim.submit_ok(t2v_input(duration=5, aspect_ratio="4:3"))
    second = sim.submit_ok(t2v_input(duration=5, aspect_ratio="4:3"))
    sim.wait_final(first)
    sim.wait_final(second)

    assert len(list(media_dir.glob("sim_192x144_50ds_mute.mp4"))) == 1
    assert (
        http_request(f"{sim.base_url}/files/{first}.mp4").body
        == http_request(f"{sim.base_url}/files/{second}.mp4").body
    )
