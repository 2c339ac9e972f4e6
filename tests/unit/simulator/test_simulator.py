"""The simulator's arithmetic, its CSV contract, and the JSON document other tools read."""

import io
import json
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import main
from warmpool.domain.model import EngineLimits
from warmpool.domain.policy import parse_policy
from warmpool.domain.policy.document import PolicyDocument
from warmpool.simulator.compare import compare, figure
from warmpool.simulator.replay import Scenario, oracle, replay, static_best, static_holdout
from warmpool.simulator.synthetic import bundled_traces, large_fleet, write_all
from warmpool.simulator.trace import TraceError, TraceJob, load_trace, read_trace

from tests.unit.simulator import without_timing

# price 3.6 $/h = 0.001 $/s; cold - warm = 100 s; no people cost: a cold start costs 0.1 $ (break-even 100 s)
SCENARIO = Scenario("ml.test", 3.6, 0.0, 120.0, 20.0)
JOBS = [TraceJob(0, 100, "p"), TraceJob(160, 100, "p"), TraceJob(1260, 100, "p")]


def test_costs_by_hand_for_fixed_keep_alive() -> None:
    result = replay(JOBS, SCENARIO, "fixed-600")
    # job 1 ends at 100, job 2 arrives at 160: warm, 60 s idle; job 2 ends at 260, its pool expires at
    # 860 unused (600 s idle); job 3 at 1260 starts cold; after it, 600 s idle again.
    assert (result.cold_starts, result.warm_starts) == (2, 1)
    assert result.idle_instance_seconds == 60 + 600 + 600
    assert result.total_cost_usd == pytest.approx(1260 * 0.001 + 2 * 0.1)


def test_oracle_waits_only_when_it_pays() -> None:
    result = oracle(JOBS, SCENARIO)
    assert (result.cold_starts, result.warm_starts) == (2, 1)  # 60 s wait pays, 1000 s does not
    assert result.idle_instance_seconds == 60
    assert result.total_cost_usd == pytest.approx(0.06 + 0.2)


def test_no_strategy_beats_the_oracle_on_the_bundled_traces() -> None:
    for path in bundled_traces().values():
        jobs = load_trace(path)
        best = oracle(jobs, SCENARIO).total_cost_usd
        for strategy in ("none", "fixed-600", "break-even", "adaptive"):
            assert replay(jobs, SCENARIO, strategy).total_cost_usd >= best - 1e-9, (path.name, strategy)


def test_keep_alive_updates_never_exceed_an_hour() -> None:
    jobs = [TraceJob(0, 100, "p"), TraceJob(3 * 3600, 100, "p")]
    result = replay(jobs, Scenario("ml.test", 3.6, 1000.0, 150.0, 20.0), "fixed-10800")
    assert result.warm_starts == 1
    assert result.keepalive_updates >= 3  # three hours need at least three steps


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (
            "submit_time_s,duration_s,pool,status\n0,10,a,Running\n5,x,a,Running\n9,1,b,Pending\n",
            r"t\.csv:3: column 'duration_s' must be a number",
        ),
        ("submit_time_s,pool\n0,a\n", r"missing column.*duration_s"),
        (
            "submit_time_s,duration_s,pool,instance_count\n0,10,a,2\n5,10,a,2.5\n",
            r"t\.csv:3: column 'instance_count' must be a whole number",
        ),
        (
            "submit_time_s,duration_s,pool,instance_count\n0,10,a,two\n",
            r"t\.csv:2: column 'instance_count' must be a whole number",
        ),
        (
            "submit_time_s,duration_s,pool,submitted_at\n0,10,a,2026-11-02T09:00:00\n",
            r"t\.csv:2: column 'submitted_at' must be an ISO 8601 moment with its offset",
        ),
        # the file's own line numbers: a blank line and a quoted line break count
        ("submit_time_s,duration_s,pool\n0,10,a\n\n5,x,a\n", r"t\.csv:4: column 'duration_s'"),
        (
            'submit_time_s,duration_s,pool,user\n0,10,a,"two\nlines"\n5,x,a,b\n',
            r"t\.csv:4: column 'duration_s'",
        ),
        # epoch milliseconds (the replay's calendar overflowed on them)
        (
            "submit_time_s,duration_s,pool\n1736000000000,10,a\n",
            r"t\.csv:2: column 'submit_time_s' is 1736000000000 s, more than ten years; .*divide by 1000",
        ),
        ("submit_time_s,duration_s,pool\n0,1e300,a\n", r"t\.csv:2: column 'duration_s' is 1e300 s"),
        # a 4-instance job never takes a 1-instance cluster: one pool, one count
        (
            "submit_time_s,duration_s,pool,instance_count\n0,10,a,1\n5,10,b,2\n9,10,a,4\n",
            r"t\.csv:4: pool 'a' has instance count 4 here but 1 at line 2; .*count a pool of their own",
        ),
    ],
)
def test_bad_rows_name_the_line_and_column(tmp_path: Path, content: str, error: str) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(content)
    with pytest.raises(TraceError, match=error):
        load_trace(trace)


def test_a_spreadsheets_utf8_reads_and_other_encodings_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_bytes(b"\xef\xbb\xbfsubmit_time_s, duration_s ,pool,user\r\n0,10,a,J\xc3\xbcrgen\r\n")
    assert [(j.pool, j.user) for j in load_trace(trace)] == [("a", "J\u00fcrgen")]  # mark, spaces, CRLF
    piped = io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbfsubmit_time_s,duration_s,pool\n0,10,a\n"), "latin-1")
    monkeypatch.setattr("sys.stdin", piped)  # read as UTF-8 whatever the terminal's encoding
    assert [j.pool for j in read_trace("-").jobs] == ["a"]
    trace.write_bytes(b"submit_time_s,duration_s,pool,user\n0,10,a,J\xfcrgen\n")  # Latin-1
    with pytest.raises(
        TraceError, match=r"t\.csv: is not UTF-8 text \(byte 0xfc at offset 43\); save it as CSV"
    ):
        load_trace(trace)


def test_pending_rows_are_skipped(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("submit_time_s,duration_s,pool,status\n0,10,a,Running\n9,1,b,Pending\n")
    assert [j.pool for j in load_trace(trace)] == ["a"]
    # whatever the case a scheduler writes it in (a Pending job replayed, a FAILED one read as finished)
    trace.write_text("submit_time_s,duration_s,pool,status\n0,10,a,FAILED\n9,1,b,pending\n20,5,a,Completed\n")
    assert [(j.pool, j.failed) for j in load_trace(trace)] == [("a", True), ("a", False)]


def test_cli_json_contract(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = bundled_traces()["hpo-sweep"]
    plot = tmp_path / "plot.png"
    code = main(
        [
            "simulate",
            str(path),
            "--format",
            "json",
            "--people-cost-per-hour",
            "100",
            "--strategies",
            "none,fixed-600,adaptive,static-best",
            "--plot",
            str(plot),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"scenario", "results"}
    assert report["scenario"]["people_cost_per_hour"] == 100
    assert set(report["results"]) == {"none", "fixed-600", "adaptive", "static-best", "oracle"}
    for row in report["results"].values():
        for key in (
            "total_cost_usd",
            "idle_instance_seconds",
            "cold_starts",
            "warm_starts",
            "keepalive_updates",
            "ratio_to_oracle",
        ):
            assert key in row
    assert report["results"]["oracle"]["ratio_to_oracle"] == 1.0
    assert plot.stat().st_size > 1000


def test_the_plot_keeps_its_title_and_every_label_inside_the_image() -> None:
    # A trace's whole path in the title, and long names on the points furthest right and furthest up.
    report = {
        "results": {
            "oracle": {"cold_starts": 10, "idle_cost_usd": 5.0, "ratio_to_oracle": 1.0},
            "none": {"cold_starts": 400, "idle_cost_usd": 0.0, "ratio_to_oracle": 1.9},
            "counterfactual": {"cold_starts": 399, "idle_cost_usd": 1.0, "ratio_to_oracle": 1.3123},
            "break-even": {"cold_starts": 11, "idle_cost_usd": 90.0, "ratio_to_oracle": 1.7902},
        }
    }
    title = "/home/someone/work/shared/traces/alibaba-gpu-2023-days00-24.csv (ml.g5.2xlarge, people $100/h)"
    fig = figure(report, title)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    image = fig.bbox
    texts = [text for ax in fig.axes for text in (ax.title, *ax.texts)]
    assert len(texts) == 5
    for text in texts:
        box = text.get_window_extent(renderer)
        inside = image.x0 <= box.x0 and box.x1 <= image.x1 and image.y0 <= box.y0 and box.y1 <= image.y1
        assert inside, f"{text.get_text()!r} is cut off"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--price-per-hour", "-1"],
            "--price-per-hour must be a price in USD per instance-hour above 0, got -1",
        ),
        (
            ["--price-per-hour", "0"],
            "--price-per-hour must be a price in USD per instance-hour above 0, got 0",
        ),
        (["--people-cost-per-hour", "nan"], "--people-cost-per-hour must be USD per waiting hour, 0 or more"),
        (["--warm-start-s", "-5"], "--warm-start-s must be seconds, 0 or more, got -5"),
        (
            ["--cold-start-s", "10", "--warm-start-s", "20"],
            "--cold-start-s (10) must be longer than --warm-start-s (20)",
        ),
        # a policy's start-up seconds end at an hour: these were pydantic's traceback
        (
            ["--cold-start-s", "3601"],
            "--cold-start-s must be at most 3,600 seconds, got 3601 (as a policy's start-up seconds)",
        ),
        (
            ["--warm-start-s", "5000"],
            "--warm-start-s must be at most 3,600 seconds, got 5000 (as a policy's start-up seconds)",
        ),
        # every cost overflowed to inf: adaptive's OverflowError, a traceback
        (
            ["--price-per-hour", "1e308"],
            "--price-per-hour must be at most 1,000,000 USD per hour, got 1e+308: a price in cents, or per "
            "year?",
        ),
        (
            ["--people-cost-per-hour", "1e308"],
            "--people-cost-per-hour must be at most 1,000,000 USD per hour, got 1e+308: a price in cents, or",
        ),
    ],
)
def test_cli_rejects_numbers_that_would_price_nothing(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    code = main(["simulate", str(bundled_traces()["sparse"]), *flags])
    assert code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--timezone", "Mars/Olympus"], "--timezone: unknown time zone 'Mars/Olympus'; use an IANA name"),
        (["--start", "monday"], "--start 'monday' is not an ISO 8601 date or time; e.g. 2026-01-05T00:00"),
    ],
)
def test_cli_rejects_a_clock_it_cannot_read(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert main(["simulate", str(bundled_traces()["sparse"]), *flags]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_a_team_learns_its_day_in_its_own_time_zone(capsys: pytest.CaptureFixture[str]) -> None:
    # The experiment-team trace's days are working days on its own clock. Replayed as a team in Los
    # Angeles (the trace's second 0 is Monday midnight there, 08:00 UTC), adaptive learns the end of
    # its day as it does for a team on UTC; read on UTC's clock, the day ends after midnight and is not
    # learned, which costs more.
    trace = str(bundled_traces()["experiment-team"])
    flags = ["--people-cost-per-hour", "100", "--strategies", "adaptive", "--format", "json"]

    def replayed(*clock: str) -> dict[str, Any]:
        assert main(["simulate", trace, *flags, *clock]) == 0
        document: dict[str, Any] = json.loads(capsys.readouterr().out)
        return document

    on_utc = replayed()
    in_los_angeles = replayed("--timezone", "America/Los_Angeles")
    read_in_utc = replayed("--start", "2026-01-05T00:00-08:00")
    assert in_los_angeles["scenario"]["start"] == "2026-01-05T00:00:00-08:00"
    assert in_los_angeles["scenario"]["timezone"] == "America/Los_Angeles"
    cost = {
        name: document["results"]["adaptive"]["total_cost_usd"]
        for name, document in (("utc", on_utc), ("la", in_los_angeles), ("la read in utc", read_in_utc))
    }
    assert cost["la"] == pytest.approx(cost["utc"], rel=1e-9)
    assert cost["la read in utc"] > cost["la"] * 1.03


def test_with_a_policy_each_strategy_replays_as_it_would_alone(capsys: pytest.CaptureFixture[str]) -> None:
    # Each strategy runs on a copy of the policy; a copy used to share the original's resolved rules,
    # so every strategy after the first was decided as the first (here: as `none`, keeping nothing).
    trace = str(bundled_traces()["experiment-team"])
    policy = str(Path(__file__).resolve().parents[3] / "policies" / "example.yaml")

    def results(strategies: str) -> dict[str, Any]:
        code = main(["simulate", trace, "--policy", policy, "--strategies", strategies, "--format", "json"])
        assert code == 0
        rows: dict[str, Any] = json.loads(capsys.readouterr().out)["results"]
        return without_timing(rows)

    together = results("none,fixed-600,adaptive")
    assert together["adaptive"] == results("adaptive")["adaptive"]
    assert together["fixed-600"] == results("fixed-600")["fixed-600"]
    assert together["adaptive"]["warm_starts"] > 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("plot.txt", "plot.txt: name a .png file (or one of "),
        ("missing/plot.png", "does not exist; create it or name another file"),
    ],
)
def test_a_plot_that_cannot_be_written_is_refused_before_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    code = main(["simulate", str(bundled_traces()["sparse"]), "--plot", str(tmp_path / name)])
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
    assert captured.out == ""  # no table: refused before the replay


def test_cli_rejects_unknown_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(bundled_traces()["sparse"]), "--strategies", "fixed-ten"])
    assert code == 2
    assert "fixed-<seconds>" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["fixed-0600", "fixed-" + "9" * 5000, "fixed-\u0666\u0660\u0660"])
def test_cli_rejects_a_fixed_strategy_not_written_as_its_seconds(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # fixed-0600 replayed beside fixed-600 as a second row of the same strategy; 5,000 digits were
    # Python's integer-limit message; Arabic-Indic digits passed isdigit
    code = main(["simulate", str(bundled_traces()["sparse"]), "--strategies", f"fixed-600,{name}"])
    captured = capsys.readouterr()
    assert code == 2
    assert (
        "fixed-<seconds>" in captured.err
        or "at most 9 digits" in captured.err
        or "as fixed-600" in captured.err
    )
    assert "Exceeds the limit" not in captured.err
    assert captured.out == ""


def test_cli_rejects_an_empty_list_of_strategies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(bundled_traces()["sparse"]), "--strategies", " , "]) == 2
    assert "--strategies names none" in capsys.readouterr().err


def test_people_cost_and_instance_count_by_hand() -> None:
    # 2 instances at 3.6 $/h (0.002 $/s idle for the pool); cold - warm = 100 s at (7.2 + 36) $/h
    # of instances and people: a cold start costs 100 * 43.2 / 3600 = 1.2 $ (break-even 600 s)
    scenario = Scenario("ml.test", 3.6, 36.0, 120.0, 20.0)
    jobs = [TraceJob(0, 100, "p", instance_count=2), TraceJob(400, 100, "p", instance_count=2)]
    result = replay(jobs, scenario, "break-even")
    # job 1 ends at 100, job 2 arrives at 400 (300 s idle, warm); job 2's pool then idles 600 s
    assert (result.cold_starts, result.warm_starts) == (1, 1)
    assert result.idle_instance_seconds == 2 * (300 + 600)
    assert result.total_cost_usd == pytest.approx(1800 * 0.001 + 1.2)
    assert oracle(jobs, scenario).total_cost_usd == pytest.approx(600 * 0.001 + 1.2)


def test_static_best_is_no_worse_than_any_fixed_keep_alive_per_pool() -> None:
    jobs = load_trace(bundled_traces()["experiment-team"])
    best = static_best(jobs, SCENARIO)
    for seconds in (0, 600, 3600):
        fixed = replay(jobs, SCENARIO, f"fixed-{seconds}")
        for pool, usd in fixed.by_pool.items():
            assert best.by_pool[pool] <= usd + 1e-9


def test_lifetime_cap_releases_a_pool_kept_for_ever() -> None:
    limits = EngineLimits(max_lifetime_seconds=2 * 3600)
    scenario = Scenario("ml.test", 3.6, 1000.0, 150.0, 20.0, limits=limits)
    jobs = [TraceJob(0, 1800, "p"), TraceJob(3 * 3600, 100, "p")]
    result = replay(jobs, scenario, "fixed-36000")
    # provisioned at 0, ends at 1800: the cluster may live until 7200, so it idles 5400 s and is gone
    # when the second job arrives at 10800; that one's cluster ends at 10900 and lives until 18000
    assert (result.cold_starts, result.warm_starts) == (2, 0)
    assert result.idle_instance_seconds == pytest.approx(5400 + 7100)


def test_a_job_submitted_as_another_ends_takes_its_cluster() -> None:
    jobs = [TraceJob(0, 100, "p"), TraceJob(100, 100, "p")]
    kept = replay(jobs, SCENARIO, "fixed-3600")
    # job 2 arrives the instant job 1's cluster goes idle: warm, then 3600 s idle (it had started cold)
    assert (kept.cold_starts, kept.warm_starts) == (1, 1)
    assert kept.total_cost_usd == pytest.approx(0.1 + 3.6)
    assert oracle(jobs, SCENARIO).total_cost_usd == pytest.approx(0.1)
    assert static_best(jobs, SCENARIO).total_cost_usd == pytest.approx(0.1 + 0.06)  # fixed-60: warm, 60 s
    assert replay(jobs, SCENARIO, "none").cold_starts == 2  # keep-alive 0 is no pool, even for an instant
    alone = replay([TraceJob(0, 0, "p"), TraceJob(0, 100, "p")], SCENARIO, "fixed-600")
    assert (alone.cold_starts, alone.warm_starts) == (1, 1)  # a job of no duration ends as it arrives


def test_the_oracle_keeps_no_cluster_past_its_maximum_lifetime() -> None:
    limits = EngineLimits(max_lifetime_seconds=2 * 3600)
    scenario = Scenario("ml.test", 3.6, 1000.0, 150.0, 20.0, limits=limits)
    jobs = [TraceJob(i * 1800, 10, "p") for i in range(6)]  # every 30 minutes for 2.5 hours
    best = oracle(jobs, scenario)
    # the cluster started at 0 may live until 7200: the job at 7200 starts cold, the one at 9000 warm
    assert (best.cold_starts, best.warm_starts) == (2, 4)
    assert replay(jobs, scenario, "fixed-1800").cold_starts == 2
    assert replay(jobs, scenario, "fixed-1800").total_cost_usd >= best.total_cost_usd


def test_bundled_traces_are_what_the_generator_writes(tmp_path: Path) -> None:
    write_all(tmp_path)
    for name, path in bundled_traces().items():
        assert (tmp_path / f"{name}.csv").read_text() == path.read_text(), name


def test_large_fleet_has_the_jobs_asked_for() -> None:
    rows = large_fleet(2000)
    assert len(rows) >= 2000
    times = [float(str(r["submit_time_s"])) for r in rows]
    assert times == sorted(times)


def test_untagged_pools_learn_with_the_default_team() -> None:
    # pool a: each job 20 s after the last one ended; then pool b's first job. When b shares a's team,
    # or both are untagged (both then belong to the policy's default team, as in the engine), b starts
    # from a's habits (keep about a minute). In another team, b knows nothing and falls back to
    # break-even (100 s here).
    def idle_of_b(team_a: str | None, team_b: str | None) -> float:
        burst = [TraceJob(120.0 * i, 100, "a", team=team_a) for i in range(20)]
        jobs = [*burst, TraceJob(100000, 100, "b", team=team_b)]
        return replay(jobs, SCENARIO, "adaptive").pool_counts["b"][0]

    assert idle_of_b("vision", "vision") < 60
    assert idle_of_b(None, None) < 60
    assert idle_of_b(None, "vision") == pytest.approx(100)
    assert idle_of_b("vision", None) == pytest.approx(100)


def test_the_holdout_shows_how_much_of_the_static_bound_is_hindsight() -> None:
    # pool a: jobs 60 s apart for a day (keeping pays), then 3 hours apart (it does not, no people cost)
    busy = [TraceJob(160.0 * i, 100, "a") for i in range(540)]
    quiet = [TraceJob(86400 + 10900.0 * i, 100, "a") for i in range(8)]
    held = static_holdout([*busy, *quiet], Scenario(), split_s=86400)
    assert held.jobs_scored == 8
    assert held.in_sample_ratio == pytest.approx(1.0)  # fitted on the quiet day: release at once
    assert held.held_out_ratio > 1.5  # fitted on the busy day: keeps each quiet-day cluster for nothing
    # a trace that behaves the same on both sides of the split: the fit carries over
    steady = [TraceJob(160.0 * i, 100, "a") for i in range(1080)]
    held = static_holdout(steady, Scenario(), split_s=86400)
    assert held.held_out_usd == pytest.approx(held.in_sample_usd)


def test_a_failed_jobs_pool_follows_release_on_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a job fails, is fixed and resubmitted 5 minutes later, ten times
    trace = tmp_path / "t.csv"
    rows = ["submit_time_s,duration_s,pool,status"]
    rows += [f"{i * 3600},600,p,Failed" for i in range(10)]
    rows += [f"{i * 3600 + 900},600,p,Completed" for i in range(10)]
    trace.write_text("\n".join(rows) + "\n")
    assert all(j.failed == (j.submit_s % 3600 == 0) for j in load_trace(trace))
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\ndefaults: {release_on_failure: true}\n")

    def warm_starts(*extra: str) -> int:
        args = ["simulate", str(trace), "--strategies", "fixed-600", "--format", "json", *extra]
        assert main(args) == 0
        return int(json.loads(capsys.readouterr().out)["results"]["fixed-600"]["warm_starts"])

    assert warm_starts() == 10  # kept 10 minutes: each resubmission starts warm
    assert warm_starts("--policy", str(policy)) == 0  # the policy releases a failed job's pool at once


@pytest.mark.slow
def test_cli_replays_strategies_side_by_side_with_the_same_results(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import csv

    from warmpool.simulator.synthetic import COLUMNS

    trace = tmp_path / "fleet.csv"
    with trace.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(large_fleet(2000))  # large enough for worker processes
    args = ["simulate", str(trace), "--format", "json", "--strategies", "none,adaptive"]
    reports = []
    for workers in ("1", "2"):
        assert main([*args, "--workers", workers, "--progress"]) == 0
        out, err = capsys.readouterr()
        assert "100%" in err  # the progress bar reaches its end in both modes
        reports.append(json.loads(out))
    sequential, parallel = (without_timing(report["results"]) for report in reports)
    assert set(parallel) == {"none", "adaptive", "oracle"}
    assert parallel == sequential


def test_the_static_best_bound_is_the_same_computed_in_a_worker() -> None:
    jobs = load_trace(bundled_traces()["hpo-sweep"])
    reports = [
        compare(jobs, SCENARIO, ["fixed-600"], include_static_best=True, workers=workers, parallel_min_jobs=0)
        for workers in (1, 2)
    ]
    for report in reports:
        for row in report["results"].values():
            del row["seconds"]
    assert reports[0]["results"]["static-best"]["total_cost_usd"] > 0
    assert reports[1] == reports[0]


def test_cli_rejects_fewer_than_one_worker(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(bundled_traces()["sparse"]), "--workers", "0"]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err


def _two_pools_of_one_team() -> list[TraceJob]:
    """vision's pools a and b: a's job ends at 100 s, b's at 160 s; both are wanted again at 1,000 s."""
    return [
        TraceJob(0.0, 100.0, "a", team="vision"),
        TraceJob(0.0, 160.0, "b", team="vision"),
        TraceJob(1000.0, 50.0, "a", team="vision"),
        TraceJob(1000.0, 50.0, "b", team="vision"),
    ]


def _team_policy(**vision: Any) -> PolicyDocument:
    return parse_policy(
        {"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}, "teams": {"vision": vision}}
    )


def test_a_team_limit_binds_in_the_simulator_as_in_the_engine() -> None:
    jobs = _two_pools_of_one_team()
    free = replay(jobs, Scenario(), "fixed-3600", policy=_team_policy())
    assert (free.warm_starts, free.cold_starts) == (2, 2)

    # refuse: b, going idle while a is warm, is released at once
    refused = replay(jobs, Scenario(), "fixed-3600", policy=_team_policy(max_warm_instances=1))
    assert (refused.warm_starts, refused.cold_starts) == (1, 3)
    warm_by_pool = {pool: counts[2] for pool, counts in refused.pool_counts.items()}
    assert warm_by_pool == {"a": 1, "b": 0}

    # release-least-valuable: a, idle the longest, is released to make room for b
    made_room = replay(
        jobs,
        Scenario(),
        "fixed-3600",
        policy=_team_policy(max_warm_instances=1, on_limit="release-least-valuable"),
    )
    assert (made_room.warm_starts, made_room.cold_starts) == (1, 3)
    warm_by_pool = {pool: counts[2] for pool, counts in made_room.pool_counts.items()}
    assert warm_by_pool == {"a": 0, "b": 1}


def test_a_policy_s_dry_run_replays_as_the_policy_would_act() -> None:
    # a team trying warmpool out simulates its deployed policy, dry_run on: the limit binds all the same
    jobs = _two_pools_of_one_team()
    limit = {"max_warm_instances": 1, "on_limit": "release-least-valuable"}
    real = replay(jobs, Scenario(), "fixed-3600", policy=_team_policy(**limit))
    dry = replay(
        jobs, Scenario(), "fixed-3600", policy=_team_policy(**limit).model_copy(update={"dry_run": True})
    )
    assert (dry.warm_starts, dry.cold_starts) == (real.warm_starts, real.cold_starts) == (1, 3)
    assert dry.idle_cost_usd == real.idle_cost_usd


def test_a_daily_budget_binds_in_the_simulator_as_in_the_engine() -> None:
    # 0.30 $ a day buys about 12 minutes of one idle g5.2xlarge: a's 900 s wait is cut short, and b's
    # pool, idle while a's cost is counted too, is cut shorter
    jobs = _two_pools_of_one_team()
    budgeted = replay(jobs, Scenario(), "fixed-3600", policy=_team_policy(budget={"daily_usd": 0.3}))
    assert budgeted.warm_starts == 0
    assert budgeted.idle_cost_usd <= 0.3 + 1e-9
    assert budgeted.idle_cost_usd > 0.2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "submit_time_s,duration_s,pool\n",
            "t.csv: no job to replay: it has no row under its header; a trace has one row per job that ran",
        ),
        (
            "submit_time_s,duration_s,pool,status\n0,10,a,Pending\n5,10,a,Pending\n",
            "t.csv: no job to replay: every row (2 rows) is Pending (never scheduled, skipped); a trace has "
            "one row per job that ran",
        ),
        (
            "",
            "t.csv:1: missing column(s) submit_time_s, duration_s, pool; a trace needs submit_time_s, "
            "duration_s, pool in its first line, and the file is empty",
        ),
        (
            "submit_time_s;duration_s;pool\n0;10;a\n",
            "t.csv:1: missing column(s) submit_time_s, duration_s, pool; a trace needs submit_time_s, "
            "duration_s, pool; its first line is split by ';', not by commas: save it comma-separated",
        ),
        (  # a scheduler's own names (in any case: `Submit_Time_S` is submit_time_s)
            "Start,Duration,pool\n0,10,a\n",
            "t.csv:1: missing column(s) submit_time_s, duration_s; a trace needs submit_time_s, duration_s, "
            "pool; its first line has Start, Duration, pool",
        ),
    ],
    ids=["header-only", "all-pending", "empty", "semicolons", "other-names"],
)
def test_cli_refuses_a_trace_with_no_job_or_no_columns_it_knows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    # a header alone, or only Pending rows, replayed to a table of zeros, 0.000 "x oracle", exit 0
    trace = tmp_path / "t.csv"
    trace.write_text(content)
    assert main(["simulate", str(trace)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"warmpool simulate: {tmp_path / message}\n"
    assert captured.out == ""


def test_the_plot_shows_the_static_best_bound_when_it_was_asked_for() -> None:
    # `--strategies ...,static-best --plot` (docs/simulator.md's example) left it out of the image
    report = {
        "results": {
            "oracle": {"cold_starts": 16, "idle_cost_usd": 14.0, "ratio_to_oracle": 1.0},
            "none": {"cold_starts": 492, "idle_cost_usd": 0.0, "ratio_to_oracle": 24.835},
            "static-best": {"cold_starts": 16, "idle_cost_usd": 16.0, "ratio_to_oracle": 1.028},
        }
    }
    fig = figure(report)
    labels = sorted(text.get_text() for ax in fig.axes for text in ax.texts)
    assert labels == ["none (24.835x)", "oracle (1.0x)", "static-best, in hindsight (1.028x)"]


def test_a_reused_cluster_is_decided_by_its_latest_jobs_team_as_in_the_engine() -> None:
    """The engine's record of a reused pool is the new job's, tags and team included: the idle period
    after beta's job on a cluster alpha's job started is decided by beta's rules."""
    jobs = [
        TraceJob(0, 100, "shared", team="alpha"),
        TraceJob(200, 100, "shared", team="beta"),
        TraceJob(400, 100, "shared", team="alpha"),
    ]
    policy = parse_policy(
        {
            "version": 1,
            "defaults": {"keep_alive_strategy": "fixed-600"},
            "teams": {"beta": {"max_horizon_minutes": 0}},
        }
    )
    result = replay(jobs, SCENARIO, "fixed-600", policy=policy)
    # alpha's rules keep the cluster for beta's job; beta's keep nothing after it: alpha's next starts cold
    assert (result.cold_starts, result.warm_starts) == (2, 1)
    assert result.idle_instance_seconds == 100 + 0 + 600


def test_the_job_strategy_replays_each_jobs_own_keep_alive_from_the_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `--strategies job` (no manager: each pool kept what its job asked for) replayed every job as
    # keeping nothing, the `none` column again, though `trace export` writes each job's keep_alive_s
    trace = tmp_path / "mine.csv"
    trace.write_text(
        "submit_time_s,duration_s,pool,keep_alive_s\n"
        "0,100,a,600\n"  # idle 300 s until the next job takes it warm
        "400,100,a,600\n"  # idle its 600 s, gone at 1100
        "2000,100,a,0\n"  # cold; keeps nothing
        "2500,100,a,1200\n"  # cold; idle its 1200 s
    )
    argv = ["simulate", str(trace), "--strategies", "job,none", "--format", "json", "--workers", "1"]
    assert main(argv) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    job, none = results["job"], results["none"]
    assert (job["idle_instance_seconds"], job["cold_starts"], job["warm_starts"]) == (2100, 3, 1)
    assert (none["idle_instance_seconds"], none["cold_starts"], none["warm_starts"]) == (0, 4, 0)
    assert job["total_cost_usd"] == pytest.approx((2100 + 3 * 130) * 1.515 / 3600, abs=1e-4)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "submit_time_s,duration_s,pool\n0,100,a\n",
            "--strategies job replays each job's own keep-alive, from the trace's keep_alive_s column "
            "(trace export writes it), and {trace} has none: add it, or drop job",
        ),
        (
            "submit_time_s,duration_s,pool,keep_alive_s\n0,100,a,600\n400,100,a,\n",
            "{trace}:3: column 'keep_alive_s' is empty; --strategies job replays each job's own keep-alive: "
            "fill it in (0 for a job that asked for none), or drop job",
        ),
        (
            "submit_time_s,duration_s,pool,keep_alive_s\n0,100,a,3601\n",
            "{trace}:2: column 'keep_alive_s' must be a whole number of seconds from 0 to 3600 (the job's "
            "KeepAlivePeriodInSeconds), got '3601'; fix the row, or leave it empty",
        ),
        (
            "submit_time_s,duration_s,pool,keep_alive_s\n0,100,a,60.5\n",
            "{trace}:2: column 'keep_alive_s' must be a whole number of seconds from 0 to 3600 (the job's "
            "KeepAlivePeriodInSeconds), got '60.5'; fix the row, or leave it empty",
        ),
    ],
)
def test_a_job_strategy_without_each_jobs_keep_alive_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: str, message: str
) -> None:
    trace = tmp_path / "mine.csv"
    trace.write_text(rows)
    assert main(["simulate", str(trace), "--strategies", "job,none", "--workers", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"warmpool simulate: {message.format(trace=trace)}\n"
    assert captured.out == ""


def test_a_ratio_to_an_oracle_that_costs_nothing_is_no_number_in_the_table_either(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # idle time and cold starts free (capacity paid for anyway, no people's time): JSON's ratio_to_oracle
    # is null, and the table read "0.000" times the oracle, the best a strategy can be, also for a team
    # whose part of the oracle's cost was nothing and whose own part was not
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nprices: {ml.g5.2xlarge: 0}\n")
    trace = tmp_path / "trace.csv"
    trace.write_text("submit_time_s,duration_s,pool\n0,100,a\n400,100,a\n")
    argv = [
        "simulate",
        str(trace),
        "--policy",
        str(policy),
        "--strategies",
        "none,fixed-600",
        "--workers",
        "1",
    ]
    assert main(argv) == 0
    rows = {line.split()[0]: line.split()[2] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows == {"none": "-", "fixed-600": "-", "oracle": "-"}
    assert main([*argv, "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert {name: row["ratio_to_oracle"] for name, row in results.items()} == dict.fromkeys(rows)

    # a team whose jobs the oracle serves warm on another team's cluster: its part costs nothing there
    trace.write_text("submit_time_s,duration_s,pool,team\n0,100,a,x\n150,100,a,y\n")
    argv = ["simulate", str(trace), "--strategies", "fixed-600", "--by", "team", "--workers", "1"]
    assert main([*argv, "--people-cost-per-hour", "100"]) == 0
    out = capsys.readouterr().out
    team_y = out.split("team y:")[1].splitlines()[3:]
    assert {line.split()[0]: line.split()[2] for line in team_y} == {"oracle": "-", "fixed-600": "-"}


@pytest.mark.parametrize(
    ("flags", "submitted_at", "message"),
    [
        (
            ["--start", "9999-12-31T23:00"],
            "",
            "--start '9999-12-31T23:00' is out of the replay's range: give a moment from 1970 to 8999",
        ),
        (
            ["--start", "0001-01-01T00:00+05:00"],
            "",
            "--start '0001-01-01T00:00+05:00' is out of the replay's range: give a moment from 1970 to 8999",
        ),
        (
            [],
            "9999-12-31T00:00:00+00:00",
            "{trace}:2: column 'submitted_at' is '9999-12-31T00:00:00+00:00', out of the replay's range: "
            "give a moment from 1970 to 8999, or leave it empty",
        ),
    ],
)
def test_a_clock_at_the_ends_of_the_calendar_is_refused_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], submitted_at: str, message: str
) -> None:
    # the replay's clock overflowed datetime past year 9999 (or before year 1): OverflowError
    trace = tmp_path / "trace.csv"
    trace.write_text(f"submit_time_s,duration_s,pool,submitted_at\n0,100,a,{submitted_at}\n900,100,a,\n")
    assert main(["simulate", str(trace), *flags, "--workers", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"warmpool simulate: {message.format(trace=trace)}\n"
    assert captured.out == ""
