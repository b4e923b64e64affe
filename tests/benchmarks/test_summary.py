"""The benchmark suite's verdicts: each part's summary line (or reports.py's table) and its
exit status become the suite's figures (benchmarks/suite.py; docs/architecture.md
"Performance targets"). Nothing here runs a benchmark."""

import pytest

from benchmarks.suite import verdicts
from benchmarks.summary import figure, parse_pipe_table, parse_summaries, summary_line

REPORTS_TABLE = """\
database: postgresql
page                        |   p95 ms | queries |   target | ok/MISS
----------------------------+----------+---------+----------+--------
usage                       |     42.0 |       9 |    < 100 | ok
team spend, 365 days by week|    312.5 |      11 |    < 100 | MISS
statement CSV               |   1200.0 |       4 |        - | -
2 of 3 figures miss their target
"""


def test_summary_line_round_trips_among_other_output():
    figures = [figure("p95 finalize delay", "8.1 s", "< 10 s", True)]
    output = "a table\n" + summary_line("inflight-polling", figures, mode="polling") + "\n"

    [body] = parse_summaries(output)

    assert body["benchmark"] == "inflight-polling"
    assert body["ok"] is True
    assert body["mode"] == "polling"
    assert body["figures"] == figures


def test_a_missed_figure_makes_the_summary_not_ok():
    line = summary_line("webhook", [figure("a", "1", "2", True), figure("b", "0.3", ">= 0.5", 0)])

    assert parse_summaries(line)[0]["ok"] is False


def test_a_malformed_summary_line_is_an_error_not_a_pass():
    with pytest.raises(ValueError):
        parse_summaries('BENCH-SUMMARY {"benchmark": "x"}')


def test_reports_table_rows_become_figures_and_untargeted_rows_are_left_out():
    body = parse_pipe_table(REPORTS_TABLE, "reports")

    assert [(f["name"], f["ok"]) for f in body["figures"]] == [
        ("usage", True),
        ("team spend, 365 days by week", False),
    ]
    assert body["figures"][1]["value"] == "312.5 ms p95, 11 queries"
    assert body["ok"] is False


def test_the_last_summary_line_wins_and_a_failed_exit_without_a_miss_still_misses():
    early = summary_line("ladder-orm", [figure("x", "1", "1", False)])
    last = summary_line("ladder", [figure("orm 100 jobs final", "100/100", "all", True)])

    result = verdicts("ladder", f"{early}\n{last}\n", returncode=1)

    assert result["ok"] is False
    assert result["figures"][0]["name"] == "orm 100 jobs final"
    assert result["figures"][-1] == figure("exit status", "1", "0", False)


def test_a_part_that_crashed_without_output_is_a_miss():
    result = verdicts("webhook", "Traceback (most recent call last):\n", returncode=2)

    assert result["ok"] is False
    assert result["figures"] == [figure("exit status", "2", "0", False)]


def test_a_clean_part_passes():
    line = summary_line("webhook", [figure("ratio", "0.6", ">= 0.5", True)])

    assert verdicts("webhook", line, returncode=0)["ok"] is True


def test_a_part_that_printed_no_figure_does_not_pass_on_its_exit_status_alone():
    result = verdicts("reports", "database: sqlite\nusage 42 ms\n", returncode=0)

    assert result["ok"] is False
    assert result["figures"] == [figure("figures with targets", "none printed", "some", False)]
