"""`warmpool demo` end to end: the scripted day passes its own checks and writes its report."""

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from warmpool.cli.main import main

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


@dataclass
class Day:
    code: int
    out: str  # what the terminal showed
    report: str  # report.html


def _run_day(out_dir: Path, *extra: str) -> Iterator[Day]:
    """The day replayed once for the tests that read it (it takes about 10 s)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(ROOT)
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        shown = io.StringIO()
        with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(shown):
            code = main(["demo", "--out", str(out_dir), *extra])
        report = out_dir / "report.html"
        assert report.is_file(), shown.getvalue()
        yield Day(code, shown.getvalue(), report.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    yield from _run_day(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def odd_names_day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    """The day under a policy whose selector's name holds HTML's and Slack's special characters, caps
    the g5 pools at 5 minutes and values their people's time at 40 $/h: the decisions quote the name,
    and three checks fail."""
    folder = tmp_path_factory.mktemp("odd-names")
    policy = (ROOT / "policies" / "example.yaml").read_text()
    policy = policy.replace("  - name: big-gpus", '  - name: "g5<b>&\\"x"')
    policy = policy.replace('match: {instance_types: ["ml.p4d.*"]}', 'match: {instance_types: ["ml.g5.*"]}')
    policy = policy.replace(
        "rules: {max_horizon_minutes: 60, people_cost_per_hour: 200}",
        "rules: {max_horizon_minutes: 5, people_cost_per_hour: 40}",
    )
    assert 'name: "g5<b>&\\"x"' in policy
    assert "rules: {max_horizon_minutes: 5, people_cost_per_hour: 40}" in policy
    return _day_in_a_process(folder, policy)


@pytest.fixture(scope="module")
def roomy_nlp_day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    """The day under the example policy but for nlp's limit: three warm instances, not two."""
    policy = (ROOT / "policies" / "example.yaml").read_text()
    limit = "    keep_alive_strategy: break-even\n    max_warm_instances: 2\n"
    assert limit in policy
    policy = policy.replace(limit, limit.replace(": 2", ": 3"))
    return _day_in_a_process(tmp_path_factory.mktemp("roomy-nlp"), policy)


@pytest.fixture(scope="module")
def failed_overnight_day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    """The day under the example policy but vision may keep no g5 pool warm: the overnight pool still
    ends, by the denied type, not by the working hours."""
    policy = (ROOT / "policies" / "example.yaml").read_text()
    vision = "  vision:\n    max_warm_instances: 6\n"
    assert vision in policy
    policy = policy.replace(vision, vision + '    denied_instance_types: ["ml.g5.*"]\n')
    return _day_in_a_process(tmp_path_factory.mktemp("vision-denied"), policy)


def _day_in_a_process(folder: Path, policy: str) -> Day:
    """The day under `policy`, in a process of its own: a second day in this one finds the first one's
    tables in moto."""
    (folder / "policy.yaml").write_text(policy)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT)]),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    out = folder / "out"
    command = [sys.executable, "-m", "warmpool.cli.main", "demo", "--out", str(out)]
    ran = subprocess.run(
        [*command, "--policy", str(folder / "policy.yaml")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert (out / "report.html").is_file(), ran.stdout + ran.stderr
    return Day(ran.returncode, ran.stdout, (out / "report.html").read_text(encoding="utf-8"))


class _Tags(HTMLParser):
    """The report's tags, checked to nest, and whatever it would fetch."""

    VOID = frozenset({"meta", "br", "img", "hr", "input", "link", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.unbalanced: list[str] = []
        self.fetched: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.fetched += [v for k, v in attrs if k in ("src", "href", "xlink:href") and v]
        if tag in {"link", "script"}:
            self.fetched.append(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.fetched += [v for k, v in attrs if k in ("src", "href", "xlink:href") and v]

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.unbalanced.append(f"</{tag}> at line {self.getpos()[0]} inside {self.open[-3:]}")

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def _parsed(report: str) -> _Tags:
    tags = _Tags()
    tags.feed(report)
    tags.close()
    assert tags.unbalanced == []
    assert tags.open == []
    assert tags.fetched == []  # it opens offline: inline SVG and CSS, nothing to fetch
    return tags


def _text(report: str) -> str:
    """The report's text as a browser shows it: its cells apart, its runs of spaces one space."""
    return re.sub(r"\s+", " ", " ".join(_parsed(report).texts))


def _costs(out: str) -> dict[str, tuple[float, float, float]]:
    """The terminal's cost of the day: per strategy, (idle, cold starts, total)."""
    rows = re.findall(
        r"^  (.+?)\s+idle \$\s*([\d.]+)\s+cold starts \$\s*([\d.]+)\s+total \$\s*([\d.]+)$", out, re.M
    )
    return {label: (float(idle), float(cold), float(total)) for label, idle, cold, total in rows}


def test_demo_passes_its_checks(day: Day) -> None:
    code, out = day.code, day.out
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
    assert "  09:12  slack              bob: Release now -> release vision-exp-3: done" in out
    assert "keep-alive - s" not in out
    assert "<svg" in day.report
    assert "vision-exp-1" in day.report


def test_the_baselines_price_each_job_at_its_own_instance_type(day: Day) -> None:
    # the p5 job's cold start cost p5's price in warmpool's row, and g5's in the baselines' rows: no
    # manager looked cheaper than warmpool for it. Without a manager every job starts cold, warmpool's two
    # warm starts (vision's g5.2xlarge x1) included: 130 s of the instance and of people at 100 $/h each
    costs = _costs(day.out)
    assert list(costs) == ["warmpool", "no manager (no keep-alive)", "fixed 60-minute keep-alive"]
    warm_starts_cold = 2 * 130 * (1.515 + 100) / 3600
    assert costs["no manager (no keep-alive)"][1] == pytest.approx(
        costs["warmpool"][1] + warm_starts_cold, abs=0.011
    )
    # a fixed hour keeps the p5 pool warm for its hour too: 113.068 $/h
    assert costs["fixed 60-minute keep-alive"][0] > 113


def test_a_pool_is_extended_at_its_step_not_left_to_expire_between_two_ticks(day: Day) -> None:
    # nlp-run-2 is warm until 10:11 and its break-even strategy wants it warm 2.4 h: its step is due at
    # 10:06, between two of the day's 10-minute ticks. It fired at 10:12, after the pool had expired, so
    # the timeline showed a pool warmpool meant to keep warm ending early, and no 'expires at' notice
    assert "  10:06  decision           nlp-run-2: extend (keep-alive 3600 s)" in day.out
    assert "<@U0BOB> Warm pool of nlp-run-2 expires at 2026-03-02 11:36:10 UTC" in day.out
    assert "  11:37  recorded           nlp-run-2: Terminated (step-due)" in day.out


def test_nlp_s_limit_is_the_one_the_policy_gives(day: Day, roomy_nlp_day: Day) -> None:
    # a policy that lets nlp keep three pools warm failed the check that it kept no more than two (exit
    # 1, as if warmpool had broken its limit), and the story still told of a limit of two
    assert "nlp starts three pools; its limit is 2 warm instances" in day.out
    assert "[PASS] nlp stays within its limit of 2 warm instances" in day.out
    assert "released-for-limit" in day.out
    roomy = roomy_nlp_day
    assert roomy.code == 0, roomy.out
    assert "nlp starts three pools; its limit is 3 warm instances" in roomy.out
    assert "[PASS] nlp stays within its limit of 3 warm instances" in roomy.out
    assert "released-for-limit" not in roomy.out


def test_the_overnight_check_names_the_rule_that_released_the_pool(
    day: Day, failed_overnight_day: Day
) -> None:
    assert "[PASS] the overnight pool is released by the working-hours rule" in day.out
    # vision may keep no g5 pool: its overnight pool is released at once, by the denied type. The check
    # passed (the pool was Terminated), and a regression of the working hours went unseen
    failed = failed_overnight_day
    assert failed.code == 1
    assert (
        "  [FAIL] the overnight pool is released by the working-hours rule (status Terminated, its last "
        "decision's rule teams.vision.denied_instance_types)"
    ) in failed.out.splitlines()


def test_the_report_prices_warmpool_s_row_job_by_job(day: Day) -> None:
    # the cost of the day gave warmpool's idle and cold-start totals alone: no reader could tell which
    # pool cost what, nor check the figures, and the chart's bars had no figures a screen reader reads
    rows = re.findall(
        r"<tr><th scope=row>([^<]+)</th><td>([^<]+)</td><td>(warm|cold)</td>"
        r"<td class=n>(\d+) min</td><td class=n>\$([\d.]+)</td><td class=n>\$([\d.]+)</td></tr>",
        day.report,
    )
    jobs = {job: rest for job, *rest in rows}
    assert len(jobs) == 11
    # 43 min idle at 1.515 $/h; warm: no cold start
    assert jobs["vision-exp-3"] == ["ml.g5.2xlarge x1", "warm", "43", "1.09", "0.00"]
    # released at once; its cold start 130 s of a p5 at 113.068 $/h and of people at 100 $/h
    assert jobs["p5-experiment"] == ["ml.p5.48xlarge x1", "cold", "0", "0.00", "7.69"]
    idle, cold, _ = _costs(day.out)["warmpool"]
    assert sum(float(r[3]) for r in jobs.values()) == pytest.approx(idle, abs=0.06)  # cents, each rounded
    assert sum(float(r[4]) for r in jobs.values()) == pytest.approx(cold, abs=0.06)
    assert "<th scope=col>warm and idle</th>" in day.report


def test_the_report_says_what_the_terminal_says_and_how_to_read_it(day: Day) -> None:
    text = _text(day.report)
    # the cost of the day: the terminal's figures, with what they count and in which unit
    for label, (idle, cold, total) in _costs(day.out).items():
        assert f"{label} ${idle:.2f} ${cold:.2f} ${total:.2f}" in text
    assert "idle warm instances + cold starts at the policy's 100 $/h of people's time" in text
    assert "US dollars" in text
    for check in re.findall(r"^  \[PASS\] (.+)$", day.out, re.M):
        assert f"PASS: {check}" in text
    # what the day was, at the times the terminal told it (Berlin), and which zone every other time is in
    story = re.findall(r"^(\d\d:\d\d) Berlin  (.+)$", day.out, re.M)
    assert len(story) == 7
    for told, act in story:
        assert f"{told} Berlin — {act}" in text
    assert "Times are UTC (virtual time; Berlin is UTC+1)" in text
    assert "time (UTC)" in text
    chart = re.search(r"<svg [^>]*><title>([^<]+)</title>", day.report)
    assert chart is not None
    assert "UTC" in chart.group(1)
    # the timeline's rows, every one of them: the terminal's first lines
    rows = re.findall(r"^  (\d\d:\d\d)  (slack #\S+|\S+)\s+(.+)$", day.out, re.M)
    assert len(rows) > 60
    for when, kind, first in rows:
        assert " ".join([when, kind, *first.split()]) in text
    # readable times: the demo's own lines name a time of the day, not an ISO timestamp
    assert "vision-exp-1: UpdateTrainingJob 3600 s, until 08:25 UTC" in day.out
    assert "vision-exp-1: UpdateTrainingJob 3600 s, until 08:25 UTC" in text
    assert not re.search(r"UpdateTrainingJob \d+ s, until \d{4}-", text)
    # every entry of the day in words, none as the registry's JSON ({"by": "vision-exp-2"})
    assert "vision-exp-1: reused by vision-exp-2" in day.out
    assert (
        "nlp-run-0: released for the limit, by teams.nlp.keep_alive_strategy: strategy break-even wants"
        in day.out
    )
    assert "sweep-trial-0: warmpool's to manage now: tuning job sweep-lr ended Completed" in day.out
    assert not re.search(r"^  \d\d:\d\d  .*[{\[]\"", day.out, re.M)
    # and the decisions' reasons a moment as the headlines do, not as code: 2026-03-02T09:38:18+00:00
    assert "kept warm until 2026-03-02 09:38:18 UTC on request" in day.out
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", day.out + text)
    for unreadable in ("None", "nan", "$-0.00"):
        assert unreadable not in text


def test_names_with_html_and_slack_characters_are_shown_as_written(odd_names_day: Day) -> None:
    day = odd_names_day
    assert day.code == 1  # vision's pools are capped at 5 minutes: its warm starts fail
    text = _text(day.report)
    rule = 'selectors[0:g5<b>&"x].max_horizon_minutes'
    assert rule in text  # the page reads the name as written: escaped, once
    assert "&amp;lt;" not in day.report
    assert "<b>" not in day.report
    # alice's Slack reply quotes the rule: as Slack shows it, not Slack's escaped text
    assert f"alice: Extend 60 min -> extend vision-exp-3: refused ({rule}" in day.out
    assert f"alice: Extend 60 min -> extend vision-exp-3: refused ({rule}" in text
    assert "&lt;b&gt;" not in day.out
    # a failed check says why, on the page as in the terminal
    failed = re.findall(r"^  \[FAIL\] (.+)$", day.out, re.M)
    assert len(failed) == 3
    for check in failed:
        assert f"FAIL: {check}" in text


def test_the_cost_of_the_day_counts_people_s_time_as_the_policy_does(day: Day, odd_names_day: Day) -> None:
    # `--policy` values the g5 jobs' waits at 40 $/h, the p5 job's at the defaults' 100: the cost of the
    # day said 100 $/h whatever the policy, and priced every cold start at it
    basis = "idle warm instances + cold starts at the policy's 40 or 100 $/h of people's time"
    assert f"Cost of the day ({basis})" in odd_names_day.out
    assert basis in _text(odd_names_day.report)
    # without a manager each of the day's ten g5 jobs starts cold: 130 s of people at 40 $/h, not 100
    cheaper = 10 * 130 * (100 - 40) / 3600
    example, odd = _costs(day.out), _costs(odd_names_day.out)
    assert odd["no manager (no keep-alive)"][1] == pytest.approx(
        example["no manager (no keep-alive)"][1] - cheaper, abs=0.011
    )


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


def test_an_out_directory_the_report_cannot_be_written_to_is_refused_before_the_day_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a folder where the report goes (or a read-only --out): the day ran, then ended in a traceback
    (tmp_path / "report.html").mkdir()
    code = main(["demo", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2
    assert f"warmpool demo: --out {tmp_path}: cannot write {tmp_path / 'report.html'}" in captured.err
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


def test_the_timeline_s_text_starts_in_one_column_whatever_the_entry_s_kind(day: Day) -> None:
    # `keep-alive-updated` and `released-for-limit` are wider than the kind's column was (16): their
    # rows' text began two characters right of every other row's, and their continuation lines' left
    timeline = day.out[day.out.index("\nTimeline") : day.out.index("\nCost of the day")]
    rows = [line for line in timeline.splitlines()[2:] if line.strip()]
    heads = re.findall(r"^  \d\d:\d\d  (slack #\S+|\S+)", timeline, re.M)
    assert {"keep-alive-updated", "released-for-limit"} <= set(heads)
    width = max(len(kind) for kind in heads)
    column = len("  09:12  ") + width + 1  # where every row's text starts
    for line in rows:
        assert line[column - 1 : column + 1].startswith(" "), line
        assert line[column] != " ", line
    assert "  09:11  released-for-limit nlp-run-0: released for the limit" in day.out
    assert "  09:12  slack              bob: Release now -> release vision-exp-3: done" in day.out
