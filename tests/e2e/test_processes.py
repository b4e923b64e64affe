"""The real processes: simulator, ``qcluster`` and ``generate --wait`` from the shell.

Proves the README's flow on a fresh SQLite file: the django-q2 ORM broker carries the submit
task to a real worker process, the dispatcher loop polls the simulator, and the command prints
the final JSON with a stored, playable video.
"""

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import av
import pytest

from generations.simulator.video import SHORT_SIDE_PX

from ..media import image_bytes
from ..net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def portal_env(tmp_path):
    port, portal_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "APIXO_"))},
        "DJANGO_SETTINGS_MODULE": "seedance_site.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "SIMULATOR_PORT": str(port),
        "SIMULATOR_MEDIA_DIR": str(tmp_path / "sim-media"),
        "SIMULATOR_TIME_SCALE": "0.02",
        "POLL_TIME_SCALE": "0.02",
        "Q_WORKERS": "2",
        # With Q_BROKER=redis (CI runs these so too), a broker queue of this portal's own.
        "REDIS_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:12]}",
        # Uploaded inputs are fetched by the simulator from the portal's public input URLs.
        "PORTAL_ADDRESS": f"127.0.0.1:{portal_port}",
    }

    def manage(*args, **kwargs):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            **kwargs,
        )

    assert manage("migrate", "--no-input").returncode == 0
    assert manage("seed_demo", "--allow-production").returncode == 0
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "generations.simulator", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
        subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{portal_port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        ),
    ]
    wait_for_port(port)
    wait_for_port(portal_port)
    manage.simulator_url = f"http://127.0.0.1:{port}"
    yield manage
    # The whole process groups: qcluster's workers are its children. A worker may be in the
    # middle of a dispatcher loop, so after a short grace they are killed.
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_generate_wait_with_a_real_worker(portal_env):
    result = portal_env(
        "generate",
        "--user",
        "member",
        "--mode",
        "text-to-video",
        "--prompt",
        "a hot air balloon over a canyon at sunrise",
        "--resolution",
        "480p",
        "--duration",
        "4",
        "--sound",
        "--wait",
        "--timeout",
        "120",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["state"] == "succeeded"
    assert data["price_credits"] == 80
    assert data["provider_task_id"]
    with av.open(data["result_file"]) as container:
        assert abs(container.duration / av.time_base - 4) < 0.5
    assert portal_env("ledger_check").returncode == 0


def final_json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_generate_at_aivideoapi_through_the_default_settings(portal_env):
    """No provider key: settings point aivideoapi.ai at the simulator's /aivideoapi/v1 too."""
    data = final_json(
        portal_env(
            *("generate", "--user", "member", "--prompt", "fireflies over a summer meadow"),
            *("--provider", "aivideoapi", "--resolution", "1080p", "--duration", "4"),
            *("--wait", "--timeout", "120"),
        )
    )
    assert (data["state"], data["provider"]) == ("succeeded", "aivideoapi")
    assert (data["model_id"], data["price_credits"]) == ("doubao-seedance-1.5-pro", 4 * 75)
    with av.open(data["result_file"]) as container:
        assert abs(container.duration / av.time_base - 4) < 0.5
    assert portal_env("ledger_check").returncode == 0


def test_generate_image_to_video_then_extend_it_at_1080p(portal_env, tmp_path):
    """The README's other two modes from the shell: an uploaded start frame and a URL end
    frame, then an extend of that finished generation by its id."""
    start = tmp_path / "start.png"
    start.write_bytes(image_bytes("PNG", size=(320, 180)))
    frames = final_json(
        portal_env(
            "generate", "--user", "member", "--mode", "image-to-video",
            "--prompt", "the kite climbs into the wind",
            "--image", str(start), "--image", f"{portal_env.simulator_url}/samples/frame.jpg",
            "--resolution", "480p", "--duration", "4", "--wait", "--timeout", "120",
        )
    )  # fmt: skip
    assert frames["state"] == "succeeded" and frames["price_credits"] == 40
    extension = final_json(
        portal_env(
            "generate", "--user", "member", "--mode", "video-extend",
            "--prompt", "the kite string snaps and it drifts away",
            "--video", str(frames["id"]), "--resolution", "1080p", "--duration", "4",
            "--seed", "7", "--no-camera-fixed", "--wait", "--timeout", "180",
        )
    )  # fmt: skip
    assert extension["state"] == "succeeded"
    # docs/providers/apixo.md "Billing": 1080p silent $0.052/s
    assert extension["price_credits"] == 52 * 4
    with av.open(extension["result_file"]) as container:
        assert abs(container.duration / av.time_base - 8) < 0.5
        # The simulator renders small frames, scaled by resolution, to stay fast.
        assert container.streams.video[0].height == SHORT_SIDE_PX["1080p"]
    assert portal_env("ledger_check").returncode == 0


def test_generate_wait_reports_a_failed_job_with_exit_1(portal_env):
    result = portal_env(
        "generate",
        "--user",
        "member",
        "--prompt",
        "please fail [sim:fail]",
        "--resolution",
        "480p",
        "--duration",
        "4",
        "--wait",
        "--timeout",
        "120",
    )
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["state"] == "failed" and data["fail_message"]
    assert portal_env("ledger_check").returncode == 0


def test_bad_input_exits_2_with_the_form_message(portal_env):
    result = portal_env("generate", "--user", "member", "--prompt", "no", "--duration", "20")
    assert result.returncode == 2
    assert "--prompt: Write at least 3 characters" in result.stderr
    assert "--duration:" in result.stderr
