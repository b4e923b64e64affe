"""The portal's settings, plus the statement counter of ``benchmarks.probe`` when
``BENCH_PROBE_DIR`` is set (benchmarks/ladder.py sets it for the worker nodes it starts), and
its final-commit log when ``BENCH_COMMIT_LOG`` is (benchmarks/browser_latency.py)."""

import os

from seedance_site.settings import *  # noqa: F403

if os.environ.get("BENCH_PROBE_DIR"):
    from benchmarks.probe import install

    install()

if os.environ.get("BENCH_COMMIT_LOG"):
    from benchmarks.probe import record_final_commits

    record_final_commits()
