"""The machine-readable verdict each benchmark prints last, and its parser for the suite.

A benchmark ends with one line ``BENCH-SUMMARY {json}``: ``{"benchmark": name, "ok": bool,
"figures": [{"name", "value", "target", "ok"}, ...]}`` (``benchmarks/suite.py`` collects them;
``tests/benchmarks/test_summary.py`` checks the round trip). The human table comes before it.
"""

from __future__ import annotations

import json
import re

PREFIX = "BENCH-SUMMARY "
# ``benchmarks/reports.py``'s table: "label | p95 ms | queries | < target | ok/MISS" (until it
# prints a summary line itself).
PIPE_ROW = re.compile(
    r"^(?P<name>[^|]+?)\s*\|\s*(?P<value>[\d.,]+)\s*\|\s*(?P<queries>\d+)\s*\|"
    r"\s*(?P<target>[^|]*?)\s*\|\s*(?P<verdict>ok|MISS|MISSED|-)\s*$"
)


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


def parse_pipe_table(output: str, benchmark: str) -> dict | None:
    """Return a summary built from the ``label | p95 ms | queries | target | ok/MISS`` rows of
    ``benchmarks/reports.py``'s table, or None when there are none. Rows without a target
    ("-") are left out."""
    figures = []
    for line in output.splitlines():
        match = PIPE_ROW.match(line.strip())
        if match is None or match["verdict"] == "-":
            continue
        figures.append(
            figure(
                match["name"],
                f"{match['value']} ms p95, {match['queries']} queries",
                f"{match['target']} ms",
                match["verdict"] == "ok",
            )
        )
    if not figures:
        return None
    return {"benchmark": benchmark, "ok": all(f["ok"] for f in figures), "figures": figures}
