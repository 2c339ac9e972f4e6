"""Files the CLI writes (`simulate --plot`, `trace export --out`): one that cannot be written is named,
with the fix, before any work, and never as a traceback; one that fails after the work loses none of it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from warmpool.cli.main import main


@pytest.mark.parametrize(
    ("command", "flag", "suffix"),
    [(["simulate", "{trace}", "--plot"], "--plot", ".png"), (["trace", "export", "--out"], "--out", ".csv")],
    ids=["simulate-plot", "trace-export-out"],
)
def test_a_file_name_too_long_for_the_file_system_is_named_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], flag: str, suffix: str
) -> None:
    # past 255 bytes: the check that the file can be written raised OSError itself
    trace = tmp_path / "trace.csv"
    trace.write_text("submit_time_s,duration_s,pool\n0,100,a\n")
    target = tmp_path / ("x" * 300 + suffix)
    argv = [str(trace) if part == "{trace}" else part for part in command]
    assert main([*argv, str(target)]) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"{flag} {target}: cannot be written (File name too long); name another file\n")
    assert "Traceback" not in err


@pytest.mark.parametrize("output", ["table", "json"])
def test_a_plot_that_fails_after_the_replay_still_prints_the_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    # a full disk: the check before the replay passes, the write after it fails; the traceback lost
    # the comparison the replay had made
    trace = tmp_path / "trace.csv"
    trace.write_text("submit_time_s,duration_s,pool\n0,100,a\n900,100,a\n")
    target = tmp_path / "plot.png"
    target.symlink_to("/dev/full")
    argv = ["simulate", str(trace), "--strategies", "none,fixed-600", "--workers", "1", "--format", output]
    assert main([*argv, "--plot", str(target)]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        f"warmpool simulate: --plot {target}: not written (No space left on device); the comparison is "
        "complete without it\n"
    )
    if output == "json":
        assert set(json.loads(captured.out)["results"]) == {"none", "fixed-600", "oracle"}
    else:
        assert {line.split()[0] for line in captured.out.splitlines()[2:]} == {"none", "fixed-600", "oracle"}


def test_a_plot_without_matplotlib_installed_is_refused_before_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # matplotlib is a development dependency only: `pip install warmpool` has none, and --plot was a
    # ModuleNotFoundError traceback
    for module in [name for name in sys.modules if name.split(".")[0] == "matplotlib"] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, module, None)  # `import matplotlib...` raises ImportError
    trace = tmp_path / "trace.csv"
    trace.write_text("submit_time_s,duration_s,pool\n0,100,a\n900,100,a\n")
    target = tmp_path / "plot.png"
    assert main(["simulate", str(trace), "--workers", "1", "--plot", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"warmpool simulate: --plot {target}: needs matplotlib, which is not installed: pip install "
        "matplotlib, or drop --plot\n"
    )
    assert captured.out == ""  # refused before the replay
    assert not target.exists()


EXAMPLE_EVENT = str(Path(__file__).resolve().parents[3] / "examples" / "training-job-completed.json")
NOWHERE = ["--endpoint-url", "http://127.0.0.1:9", "--region", "us-east-1"]  # never reached


@pytest.mark.parametrize(
    ("command", "flag", "said"),
    [
        (["demo", "--policy", ""], "--policy", "a policy file, or drop --policy for policies/example.yaml"),
        (["demo", "--out", ""], "--out", "a folder for the report, or drop --out for demo-out/"),
        (
            ["simulate", "{trace}", "--policy", ""],
            "--policy",
            "a policy file, or drop --policy to replay without one",
        ),
        (["simulate", "{trace}", "--plot", ""], "--plot", "a .png file, or drop --plot"),
        (
            ["pools", "costs", "--table", "t", "--policy", "", *NOWHERE],
            "--policy",
            "a policy file, or drop --policy for the deployed one",
        ),
        (
            ["pools", "list", "--table", "t", "--team", "vision", "--policy", "", *NOWHERE],
            "--policy",
            "a policy file, or drop --policy for the deployed one",
        ),
        (
            ["trace", "export", "--out", "", *NOWHERE],
            "--out",
            "a .csv file, or drop --out for standard output",
        ),
        (
            ["trace", "export", "--policy", "", *NOWHERE],
            "--policy",
            "a policy file, or drop --policy for the default tag names",
        ),
        (["policy", "validate", ""], "file", "the policy file to check"),
        (
            ["policy", "explain", "--event", EXAMPLE_EVENT, "--policy", ""],
            "--policy",
            "a policy file, or drop --policy for the built-in default policy",
        ),
    ],
    ids=[
        "demo-policy",
        "demo-out",
        "simulate-policy",
        "simulate-plot",
        "costs-policy",
        "list-policy",
        "export-out",
        "export-policy",
        "validate",
        "explain-policy",
    ],
)
def test_an_empty_path_is_a_usage_error_naming_the_flag(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    flag: str,
    said: str,
) -> None:
    # `--policy "$POLICY"` with the variable unset was the flag left out, without a word: the demo ran on
    # the example policy, simulate without one, `policy validate ""` called the built-in policy valid
    monkeypatch.chdir(tmp_path)  # where demo --out "" wrote its report
    trace = tmp_path / "trace.csv"
    trace.write_text("submit_time_s,duration_s,pool\n0,100,a\n")
    with pytest.raises(SystemExit) as exited:
        main([str(trace) if part == "{trace}" else part for part in command])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.endswith(f"argument {flag}: empty: name {said}\n")
    assert captured.out == ""
