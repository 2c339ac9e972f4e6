"""`warmpool demo` end to end: the scripted day passes its own checks and writes its report."""

from pathlib import Path

import pytest
from warmpool.cli.main import main

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def test_demo_passes_its_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    code = main(["demo", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "demo passed" in out
    assert out.count("[PASS]") >= 9
    assert "[FAIL]" not in out
    assert "no manager (no keep-alive)" in out
    assert "[Extend 30 min]  [Extend 60 min]  [Release now]" in out
    # the story is told at the moments of the timeline: bob's press at 10:12 in Berlin is the timeline's
    # 09:12 UTC entry of it (the story once said 12:00 for it), and 'unknown' keep-alives read as words
    assert "10:12 Berlin  bob releases alice's extended pool from Slack" in out
    assert "Berlin is UTC+1" in out
    assert "  09:12  slack            bob: Release now -> release vision-exp-3: done" in out
    assert "keep-alive - s" not in out
    report = (tmp_path / "report.html").read_text()
    assert "<svg" in report
    assert "vision-exp-1" in report


def test_an_out_directory_that_cannot_be_made_is_refused_before_the_day_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = main(["demo", "--out", str(blocker / "report")])
    captured = capsys.readouterr()
    assert code == 2
    assert f"warmpool demo: --out {blocker / 'report'}: cannot create it" in captured.err
    assert "pass a writable directory" in captured.err
    assert captured.out == ""  # refused before the day was replayed


def test_a_policy_that_is_invalid_or_a_folder_is_refused_before_the_day_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "policy.yaml"  # an unquoted 18:00 is the number 1080 to YAML: that was a traceback
    policy.write_text("version: 1\ndefaults:\n  working_hours: {timezone: UTC, end: 18:00}\n")
    assert main(["demo", "--out", str(tmp_path / "out"), "--policy", str(policy)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"warmpool demo: invalid policy {policy}:\n"
        "  - defaults.working_hours.end: YAML reads an unquoted 18:00 as the number 1080. "
        'Quote it: "18:00".\n'
    )
    assert captured.out == ""  # refused before the day was replayed
    assert main(["demo", "--out", str(tmp_path / "out"), "--policy", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"warmpool demo: --policy {tmp_path} is a folder; name a policy file in it\n"


def test_the_demo_leaves_the_process_s_logs_and_metrics_as_it_found_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `main(["demo"])` in a process that goes on (a notebook, a test run): the handlers it runs after
    # must still log and publish their metrics, which the demo silences for its own timeline
    import logging
    import os

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_LOG_LEVEL", raising=False)
    level = logging.getLogger("warmpool").level
    assert main(["demo", "--out", str(tmp_path / "out"), "--policy", str(tmp_path)]) == 2
    capsys.readouterr()
    assert "POWERTOOLS_METRICS_DISABLED" not in os.environ
    assert "POWERTOOLS_LOG_LEVEL" not in os.environ
    assert logging.getLogger("warmpool").level == level
