"""The benchmark suite's verdicts: each part's summary line (or reports.py's table) and its
exit status become the suite's figures (benchmarks/suite.py; docs/architecture.md
"Performance targets"). Nothing here runs a benchmark."""

import pytest

from benchmarks.suite import verdicts
from benchmarks.summary import figure, parse_summaries, summary_line


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


def test_the_reports_table_ends_with_a_summary_line_the_suite_reads(capsys, monkeypatch):
    """benchmarks/reports.py's table has columns after the verdict (CPU, SQL, median): the
    suite reads its BENCH-SUMMARY line, not the table; untargeted rows are left out."""
    from benchmarks import reports

    monkeypatch.setattr(
        reports,
        "FIGURES",
        [
            ("usage", 42.0, 9, 100.0, 20.0, 5.0, 30.0),
            ("team spend, 365 days by week", 312.5, 11, 100.0, 50.0, 100.0, 200.0),
            ("statement CSV", 1200.0, 4, None, 1.0, 1.0, 1.0),
        ],
    )
    assert reports.summary() == 1
    result = verdicts("reports", capsys.readouterr().out, returncode=1)

    assert [(f["name"], f["ok"]) for f in result["figures"]] == [
        ("usage", True),
        ("team spend, 365 days by week", False),
    ]
    assert result["figures"][1]["value"] == "312.5 ms p95 (200.0 median), 11 queries"
    assert result["ok"] is False


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
