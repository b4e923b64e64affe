"""Two worker nodes on PostgreSQL and the Redis broker; one is killed mid-run (issue #13.5).

Real processes on a fresh PostgreSQL database: the simulator and two ``manage.py qcluster``
nodes (``WORKER_NODE_NAME`` node-a and node-b, ``Q_BROKER=redis``, a Redis key prefix of
their own so that parallel tests do not share a queue). Forty jobs are created at once; once
both nodes have run tasks and jobs are still in flight, node-a's whole process group gets
SIGKILL. The Redis broker loses the tasks node-a had pulled; the dispatcher on node-b (one
at a time, by its lease) re-drives them from each job's ``next_action_at``, and a submit that
may have reached the provider is never re-sent (it expires with a release at the deadline).

Then every job is final exactly once: one hold and one capture or release each,
``ledger_check`` passes, no prompt reached the simulator twice, and both nodes' heartbeats
show the tasks they ran. About 1-2 minutes.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection

from ..net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
JOBS = 40
DEADLINE_S = 90
pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CREATE_JOBS = f"""
from generations.models import User
from generations.services.generations import GenerationSpec, generation_create
member = User.objects.get(username="member")
for n in range({JOBS}):
    generation_create(user=member, spec=GenerationSpec(
        mode="text-to-video", prompt=f"two nodes, job {{n}}", resolution="480p",
        duration=4, sound=False))
"""


class Cluster:
    """The portal's processes and a direct line to its database."""

    def __init__(self, tmp_path: Path, database_url: str, dsn: str, redis_url: str):
        self.sim_port = free_port()
        self.dsn = dsn
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "APIXO_"))},
            "DJANGO_SETTINGS_MODULE": "seedance_site.settings",
            "DATABASE_URL": database_url,
            "Q_BROKER": "redis",
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": f"nodes-{uuid.uuid4().hex[:12]}",
            "MEDIA_ROOT": str(tmp_path / "media"),
            "SIMULATOR_PORT": str(self.sim_port),
            "SIMULATOR_MEDIA_DIR": str(tmp_path / "sim-media"),
            # A job takes a few seconds at the simulator: many are in flight at the kill.
            "SIMULATOR_TIME_SCALE": "0.08",
            # Every API answer comes late, so the killed node's workers are mid-request with
            # more tasks pulled from Redis behind them: those are lost with the node.
            "SIMULATOR_LATENCY_MS": "300",
            "POLL_TIME_SCALE": "0.08",
            "Q_WORKERS": "2",
            "WORKER_HEARTBEAT_SECONDS": "1",
            "GENERATION_DEADLINE_SECONDS": str(DEADLINE_S),
            # A download killed mid-way is re-driven after this + 60 s.
            "RESULT_DOWNLOAD_TIMEOUT": "3",
            "LOG_LEVEL": "WARNING",
        }
        self.simulator_url = f"http://127.0.0.1:{self.sim_port}"
        self.processes: list[subprocess.Popen] = []
        self.nodes: dict[str, subprocess.Popen] = {}

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    def spawn(self, *command: str, **env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env={**self.env, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: qcluster's workers included
        )
        self.processes.append(process)
        return process

    def start_node(self, name: str) -> None:
        self.nodes[name] = self.spawn("manage.py", "qcluster", WORKER_NODE_NAME=name)

    def kill_node(self, name: str) -> None:
        """SIGKILL the node's whole process group: no worker gets to clean up."""
        os.killpg(self.nodes[name].pid, signal.SIGKILL)
        self.nodes[name].wait(timeout=10)

    def query(self, sql: str, *params) -> list[tuple]:
        with psycopg.connect(self.dsn, autocommit=True) as db:
            return db.execute(sql, params).fetchall()

    def jobs(self) -> dict[int, tuple[str, str]]:
        rows = self.query("SELECT id, state, result_state FROM generations_generation")
        return {pk: (state, result) for pk, state, result in rows}

    def tasks_done(self) -> dict[str, int]:
        return dict(self.query("SELECT node, tasks_done FROM generations_workerheartbeat"))

    def wait_for(self, what: str, condition, *, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := condition():
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: {self.jobs()} {self.tasks_done()}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path, redis_url):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (CI's Redis run does)")
    params = connection.settings_dict
    user, host, port = params["USER"], params["HOST"] or "127.0.0.1", params["PORT"] or 5432
    password = params["PASSWORD"]
    name = f"seedance_nodes_{uuid.uuid4().hex[:10]}"
    auth = f"{user}:{password}@" if password else f"{user}@"
    admin_dsn = f"postgresql://{auth}{host}:{port}/postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    cluster = Cluster(
        tmp_path,
        f"postgres://{auth}{host}:{port}/{name}",
        f"postgresql://{auth}{host}:{port}/{name}",
        redis_url,
    )
    try:
        migrate = cluster.manage("migrate", "--no-input")
        assert migrate.returncode == 0, migrate.stderr
        assert cluster.manage("seed_demo", "--allow-production").returncode == 0
        cluster.spawn("-m", "generations.simulator", "--port", str(cluster.sim_port))
        wait_for_port(cluster.sim_port)
        yield cluster
    finally:
        cluster.stop()
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def final(job: tuple[str, str]) -> bool:
    state, result = job
    return state in ("succeeded", "failed", "expired", "canceled") and result != "pending"


def test_two_nodes_share_the_work_and_a_killed_node_loses_nothing(cluster):
    cluster.start_node("node-a")
    cluster.start_node("node-b")
    cluster.wait_for("both nodes' heartbeats", lambda: len(cluster.tasks_done()) == 2, timeout=60)
    created = cluster.manage("shell", "-c", CREATE_JOBS)
    assert created.returncode == 0, created.stderr

    # Kill node-a once both nodes have worked and jobs are still in flight.
    def mid_run():
        jobs, done = cluster.jobs(), cluster.tasks_done()
        settled = sum(final(job) for job in jobs.values())
        return done.get("node-a", 0) > 0 and done.get("node-b", 0) > 0 and 3 <= settled < JOBS - 10

    cluster.wait_for("both nodes working mid-run", mid_run, timeout=90)
    cluster.kill_node("node-a")
    killed_at = time.monotonic()
    at_kill = cluster.jobs()
    in_flight_at_kill = [pk for pk, job in at_kill.items() if not final(job)]
    node_b_at_kill = cluster.tasks_done()["node-b"]
    assert len(in_flight_at_kill) >= 10

    jobs = cluster.wait_for(
        "every job settled",
        lambda: (jobs := cluster.jobs()) and all(final(job) for job in jobs.values()) and jobs,
        timeout=DEADLINE_S + 90,
    )
    settled_after = time.monotonic() - killed_at
    assert len(jobs) == JOBS

    # Exactly once: each job one hold and one capture (succeeded) or release (otherwise).
    entries = cluster.query(
        "SELECT generation_id, kind, hold_id, id FROM generations_creditentry"
        " WHERE generation_id IS NOT NULL ORDER BY id"
    )
    holds = {job: entry_id for job, kind, _, entry_id in entries if kind == "hold"}
    for pk, (state, _) in jobs.items():
        expected = "capture" if state == "succeeded" else "release"
        kinds = [kind for job_id, kind, *_ in entries if job_id == pk]
        assert kinds == ["hold", expected], (pk, state, kinds)
    assert all(hold_id == holds[job] for job, kind, hold_id, _ in entries if kind != "hold")
    check = cluster.manage("ledger_check")
    assert check.returncode == 0, check.stderr

    # No submit was sent twice, although node-a's pulled tasks were lost with it.
    tasks = requests.get(f"{cluster.simulator_url}/_sim/tasks", timeout=5).json()["data"]
    prompts = [task["request"]["input"]["prompt"] for task in tasks]
    assert len(prompts) == len(set(prompts))
    # Every job succeeded but the submits node-a's workers had on the wire at the kill: their
    # outcome is unknown, so they were never re-sent and expired at the deadline.
    states = [state for state, _ in jobs.values()]
    unsettled = cluster.query(
        "SELECT id, state, fail_code, provider_task_id, submit_sent_at IS NOT NULL"
        " FROM generations_generation WHERE state <> 'succeeded'"
    )
    assert len(unsettled) <= int(cluster.env["Q_WORKERS"]), unsettled
    for pk, state, fail_code, task_id, sent in unsettled:
        assert (state, fail_code, task_id, sent) == ("expired", "EXPIRED", None, True), pk
        assert not final(at_kill[pk]), pk

    # Both nodes did work; node-b finished what node-a left.
    done = cluster.tasks_done()
    assert done["node-a"] > 0
    assert done["node-b"] > node_b_at_kill
    print(
        "\nin flight at the kill:", len(in_flight_at_kill),
        "\ntasks per node:", done, f"\nall settled {settled_after:.0f} s after the kill",
        "\nfinal states:", {s: states.count(s) for s in set(states)},
    )  # fmt: skip
