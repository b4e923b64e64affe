"""The machine-readable verdict each benchmark prints last, and its parser for the suite.

A benchmark ends with one line ``BENCH-SUMMARY {json}``: ``{"benchmark": name, "ok": bool,
"figures": [{"name", "value", "target", "ok"}, ...]}`` (``benchmarks/suite.py`` collects them;
``tests/benchmarks/test_summary.py`` checks the round trip). The human table comes before it.
"""

from __future__ import annotations

import json

PREFIX = "BENCH-SUMMARY "


def figure(name: str, value: str, target: str, ok: bool) -> dict:
    """Return one figure: its name, measured value and target as printed, and the verdict."""
    return {"name": name, "value": value, "target": target, "ok": bool(ok)}


def summary_line(benchmark: str, figures: list[dict], **extra) -> str:
    """Return the ``BENCH-SUMMARY`` line of ``benchmark`` (ok when every figure is)."""
    body = {"benchmark": benchmark, "ok": all(f["ok"] for f in figures), "figures": figures}
    return PREFIX + json.dumps(body | extra, sort_keys=True)


def parse_summaries(output: str) -> list[dict]:
    """Return every ``BENCH-SUMMARY`` object in a benchmark's output, in order.

    Raises:
        ValueError: a summary line whose JSON is malformed or lacks ``figures``.
    """
    found = []
    for line in output.splitlines():
        if not line.startswith(PREFIX):
            continue
        body = json.loads(line[len(PREFIX) :])
        if not isinstance(body, dict) or not isinstance(body.get("figures"), list):
            raise ValueError(f"malformed benchmark summary: {line[:200]}")
        found.append(body)
    return found
