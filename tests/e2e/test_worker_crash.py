"""Workers killed with SIGKILL mid-submit and mid-download: every job still ends exactly once.

Real processes on a fresh SQLite file: the simulator, ``manage.py generate`` (without
``--wait``) for ten jobs in two batches of five, and ``manage.py qcluster`` with the django-q2
ORM broker, killed twice with SIGKILL on its whole process group:

1. while result downloads run (a relay in front of the simulator stalls ``/files/``): those
   jobs are ``succeeded`` with their hold captured, their video not stored yet;
2. while submits are on the wire (the simulator answers every API request 4 s late): jobs are
   left ``submitting`` with their intent recorded, the request reaching the simulator after
   the worker died; the other submit tasks die with the cluster, pulled from the broker.

After each kill a fresh ``qcluster`` takes over. The dispatcher re-drives lost downloads (after
``download_lease()``: ``RESULT_DOWNLOAD_TIMEOUT`` + 60 s) and lost submits (after
``SUBMIT_GRACE``, 60 s), and a job whose submit may have been sent is never re-sent: it waits
for its deadline (``GENERATION_DEADLINE_SECONDS``, 75 s here) and expires with a release. Then
each job has one hold and exactly one capture or release, ``ledger_check`` passes and nothing
is left in flight. About 95 s.
"""

import contextlib
import os
import signal
import socket
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from ..net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
JOBS = 10
DEADLINE_S = 75
pytestmark = pytest.mark.slow


class StallingRelay(socketserver.ThreadingTCPServer):
    """A TCP relay to the simulator that can stall result downloads (``GET /files/...``).

    The portal reaches the simulator only through it, so result URLs (built from the Host
    the submit arrived with) point here too, and the download guard allows this address as
    the configured simulator. While ``stall`` is set, a connection whose first request is a
    download waits for ``resume`` before it is forwarded. ``submits`` counts the submit
    requests forwarded to the simulator.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int):
        super().__init__(("127.0.0.1", 0), _Relay)
        self.upstream = ("127.0.0.1", upstream_port)
        self.stall = threading.Event()
        self.resume = threading.Event()
        self.stalled = 0
        self.submits = 0
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def note_stalled(self) -> None:
        with self._lock:
            self.stalled += 1

    def note_sent(self, data: bytes) -> None:
        with self._lock:
            self.submits += data.count(b"POST /api/v1/generateTask/")


class _Relay(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        relay: StallingRelay = self.server
        first = self.request.recv(65536)
        if not first:
            return
        if first.startswith(b"GET /files/") and relay.stall.is_set():
            relay.note_stalled()
            relay.resume.wait(timeout=300)
        with socket.create_connection(relay.upstream, timeout=30) as upstream:
            upstream.sendall(first)
            relay.note_sent(first)
            back = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
            back.start()
            _pump(self.request, upstream, relay.note_sent)
            back.join(timeout=30)


def _pump(source: socket.socket, target: socket.socket, sent=None) -> None:
    """Copy bytes until ``source`` closes; then close ``target``'s sending side."""
    try:
        while data := source.recv(65536):
            target.sendall(data)
            if sent is not None:
                sent(data)
    except OSError:
        pass  # the other side is gone (e.g. a killed worker)
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


class Portal:
    """The processes of one portal, and ways to look into its database and simulator."""

    def __init__(self, tmp_path: Path):
        self.sim_port = free_port()
        self.relay = StallingRelay(self.sim_port)
        threading.Thread(target=self.relay.serve_forever, daemon=True).start()
        self.db_path = tmp_path / "portal.sqlite3"
        self.media = tmp_path / "media"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "APIXO_"))},
            "DJANGO_SETTINGS_MODULE": "seedance_site.settings",
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "MEDIA_ROOT": str(self.media),
            # The portal's simulator address is the relay; the simulator gets --port.
            "SIMULATOR_PORT": str(self.relay.port),
            "SIMULATOR_MEDIA_DIR": str(tmp_path / "sim-media"),
            "SIMULATOR_TIME_SCALE": "0.02",
            "POLL_TIME_SCALE": "0.02",
            "Q_WORKERS": "3",
            # With Q_BROKER=redis (CI runs these so too), a broker queue of this portal's own.
            "REDIS_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:12]}",
            "GENERATION_DEADLINE_SECONDS": str(DEADLINE_S),
            # A killed download is re-driven after download_lease(): this + 60 s.
            "RESULT_DOWNLOAD_TIMEOUT": "3",
            "LOG_LEVEL": "WARNING",
        }
        self.simulator_url = f"http://127.0.0.1:{self.sim_port}"
        self.processes: list[subprocess.Popen] = []
        self.cluster: subprocess.Popen | None = None

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def spawn(self, *command: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: qcluster's workers included
        )
        self.processes.append(process)
        return process

    def start_cluster(self) -> None:
        self.cluster = self.spawn("manage.py", "qcluster")

    def kill_cluster(self) -> None:
        """SIGKILL the whole qcluster process group: no worker gets to clean up."""
        os.killpg(self.cluster.pid, signal.SIGKILL)
        self.cluster.wait(timeout=10)

    def configure(self, **knobs) -> None:
        answer = requests.post(f"{self.simulator_url}/_sim/config", json=knobs, timeout=5)
        assert answer.status_code == 200, answer.text

    def sim_tasks(self) -> list[dict]:
        return requests.get(f"{self.simulator_url}/_sim/tasks", timeout=5).json()["data"]

    def wait_until(self, what: str, condition, *, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def query(self, sql: str, *params) -> list[tuple]:
        uri = f"file:{self.db_path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=20)) as db:
            return db.execute(sql, params).fetchall()

    def jobs(self) -> dict[int, dict]:
        rows = self.query(
            "SELECT id, state, result_state, submit_sent_at, download_attempts, prompt,"
            " result_file FROM generations_generation"
        )
        keys = ("state", "result_state", "sent_at", "download_attempts", "prompt", "file")
        return {row[0]: dict(zip(keys, row[1:], strict=True)) for row in rows}

    def wait_for(self, what: str, predicate, *, timeout: float) -> dict[int, dict]:
        """Poll the portal's database until ``predicate(jobs)`` holds; return the jobs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs()
            if predicate(jobs):
                return jobs
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {self.jobs()}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.relay.resume.set()
        self.relay.shutdown()
        self.relay.server_close()


@pytest.fixture
def portal(tmp_path):
    portal = Portal(tmp_path)
    try:
        assert portal.manage("migrate", "--no-input").returncode == 0
        assert portal.manage("seed_demo", "--allow-production").returncode == 0
        portal.spawn("-m", "generations.simulator", "--port", str(portal.sim_port))
        wait_for_port(portal.sim_port)
        yield portal
    finally:
        portal.stop()


def submitting_with_intent(jobs: dict) -> set[int]:
    return {pk for pk, job in jobs.items() if job["state"] == "submitting" and job["sent_at"]}


def downloading(jobs: dict) -> set[int]:
    return {
        pk
        for pk, job in jobs.items()
        if job["state"] == "succeeded" and job["result_state"] == "pending"
        and job["download_attempts"] >= 1
    }  # fmt: skip


def generate(portal: Portal, batch: str) -> None:
    """Create JOBS // 2 jobs with ``manage.py generate`` (no --wait), in parallel."""
    creations = [
        portal.spawn(
            "manage.py", "generate", "--user", "member", "--prompt", f"crash test {batch} {n}",
            "--resolution", "480p", "--duration", "4",
        )
        for n in range(JOBS // 2)
    ]  # fmt: skip
    assert [process.wait(timeout=60) for process in creations] == [0] * (JOBS // 2)


def test_killed_workers_leave_every_job_settled_exactly_once(portal):
    portal.start_cluster()

    # Kill 1: jobs succeeded (hold captured), their result downloads in progress.
    portal.relay.stall.set()
    generate(portal, "downloads")
    portal.wait_for("a download in progress", downloading, timeout=60)
    portal.wait_until(
        "the started downloads to reach the relay",
        lambda: portal.relay.stalled >= len(downloading(portal.jobs())),
    )
    portal.kill_cluster()
    killed_downloading = downloading(portal.jobs())
    assert killed_downloading
    portal.relay.stall.clear()
    portal.relay.resume.set()

    # Kill 2: submits sent, their answers not back yet (every API answer comes 4 s late).
    portal.configure(latency_ms=4000)
    sent_before = portal.relay.submits
    portal.start_cluster()
    generate(portal, "submits")
    portal.wait_for(
        "two submits on the wire", lambda jobs: len(submitting_with_intent(jobs)) >= 2, timeout=30
    )
    portal.wait_until(
        "those submits to reach the simulator",
        lambda: portal.relay.submits - sent_before >= len(submitting_with_intent(portal.jobs())),
    )
    portal.kill_cluster()
    killed_submitting = submitting_with_intent(portal.jobs())
    assert len(killed_submitting) >= 2
    portal.configure(latency_ms=0)
    portal.start_cluster()

    # Every job final, every video stored or given up: nothing in flight any more.
    jobs = portal.wait_for(
        "every job settled",
        lambda jobs: all(
            job["state"] in ("succeeded", "failed", "expired") and job["result_state"] != "pending"
            for job in jobs.values()
        ),
        timeout=DEADLINE_S + 45,
    )
    assert len(jobs) == JOBS

    entries = portal.query(
        "SELECT generation_id, kind, hold_id, id FROM generations_creditentry"
        " WHERE generation_id IS NOT NULL ORDER BY id"
    )
    holds = {job: entry_id for job, kind, _, entry_id in entries if kind == "hold"}
    for pk, job in jobs.items():
        expected = "capture" if job["state"] == "succeeded" else "release"
        kinds = [kind for job_id, kind, *_ in entries if job_id == pk]
        assert kinds == ["hold", expected], (pk, job, kinds)
    assert all(hold_id == holds[job] for job, kind, hold_id, _ in entries if kind != "hold")

    # A download killed mid-way is re-driven: the video is stored, the capture not repeated.
    for pk in killed_downloading:
        job = jobs[pk]
        assert (job["state"], job["result_state"]) == ("succeeded", "stored"), (pk, job)
        assert job["download_attempts"] >= 2
        assert (portal.media / job["file"]).stat().st_size > 0
    # A submit that may have reached the provider is never sent again: it expired, refunded,
    # although the simulator did create a task for it after the worker died.
    sent_prompts = [task["request"]["input"]["prompt"] for task in portal.sim_tasks()]
    assert len(sent_prompts) == len(set(sent_prompts)), sent_prompts
    for pk in killed_submitting:
        assert jobs[pk]["state"] == "expired", (pk, jobs[pk])
    assert any(jobs[pk]["prompt"] in sent_prompts for pk in killed_submitting)
    # The submits lost with the killed cluster (not sent) were re-driven and succeeded.
    assert sum(job["state"] == "succeeded" for job in jobs.values()) > len(killed_downloading)

    check = portal.manage("ledger_check")
    assert check.returncode == 0, check.stderr
    stats = requests.get(f"{portal.simulator_url}/_sim/stats", timeout=5).json()["data"]
    print(
        "\njobs:", {pk: (job["state"], job["result_state"]) for pk, job in sorted(jobs.items())},
        "\nkilled downloading:", sorted(killed_downloading),
        "killed submitting:", sorted(killed_submitting),
        "\nsimulator requests:", stats["requests"],
    )  # fmt: skip
