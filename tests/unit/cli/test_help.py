"""`warmpool ... --help`: every flag says what it is for, and every example runs as pasted."""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warmpool.cli.main import build_parser, main
from warmpool.cli.output import EXAMPLES

ROOT = Path(__file__).resolve().parents[3]


def _commands(parser: argparse.ArgumentParser, name: str = "warmpool") -> Iterator[tuple[str, Any]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                yield from _commands(subparser, f"{name} {sub}")


def _examples() -> list[list[str]]:
    """Every example command line of every command's help, a pipe's two commands apart."""
    found = []
    for _, parser in _commands(build_parser()):
        if parser.epilog and parser.epilog.startswith(EXAMPLES):
            for line in parser.epilog.splitlines()[1:]:
                found += [shlex.split(part) for part in line.split(" | ")]
    return [words for words in found if words[0] == "warmpool"]


def test_every_flag_and_argument_says_what_it_is_for() -> None:
    # --cold-start-s, --warm-start-s, --team, --status, --minutes, --region, a file or a job... had none
    bare = [
        f"{name} {action.option_strings[-1] if action.option_strings else action.dest}"
        for name, parser in _commands(build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert bare == []


def test_explain_help_says_which_policy_decides_without_policy(capsys: pytest.CaptureFixture[str]) -> None:
    # with --job and the registry, explain decides by the deployed policy, as the engine does (docs/cli.md):
    # the help said the built-in one
    with pytest.raises(SystemExit):
        main(["policy", "explain", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "the deployed one, POLICY_PARAMETER_NAME in SSM" in said
    # and at which moment it decides by default: against the emulator, on its virtual clock
    assert "with --job, now: against `warmpool emulator`, its virtual clock" in said
    assert "with --event, a second after the job's end" in said


def test_simulate_help_says_the_start_costs_defaults_and_that_a_policy_s_own_do_not_apply(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # --people-cost-per-hour showed no default (0), and none of the three said that with --policy they,
    # not the policy's people_cost_per_hour and start-up seconds, price the replay (docs/simulator.md)
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = capsys.readouterr().out
    helps: dict[str, str] = {}
    flag = ""
    for line in out.splitlines():
        if line.startswith("  --"):
            flag = line.split()[0]
        if flag:
            helps[flag] = " ".join([helps.get(flag, ""), *line.split()])
    assert "value of a waiting hour (USD; default 0)" in helps["--people-cost-per-hour"]
    for flag, field in (
        ("--people-cost-per-hour", "people_cost_per_hour"),
        ("--cold-start-s", "cold_start_seconds"),
        ("--warm-start-s", "warm_start_seconds"),
    ):
        said = f"with --policy, this and not the policy's {field} prices every start and decision"
        assert said in helps[flag], flag


def test_every_command_shows_examples() -> None:
    leaves = [
        name
        for name, parser in _commands(build_parser())
        if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
    ]
    assert len(leaves) == 11
    without = [name for name, parser in _commands(build_parser()) if name in leaves and not parser.epilog]
    assert without == []


@pytest.mark.parametrize("words", _examples(), ids=lambda words: " ".join(words[1:3]))
def test_every_example_is_a_command_line_the_parser_takes(words: list[str]) -> None:
    build_parser().parse_args(words[1:])  # a flag that does not exist, or a value out of its choices, exits


@pytest.mark.parametrize(
    "words",
    [
        w
        for w in _examples()
        if (w[1:3] in (["policy", "validate"], ["policy", "explain"]) and "--job" not in w)
        or (w[1] == "simulate" and w[2] != "-")  # `-`: the trace export's, from an account
    ],
    ids=lambda words: " ".join(words[1:4]),
)
def test_the_examples_that_need_no_aws_account_run_from_the_repository_root(
    words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    args = [str(tmp_path / w) if before == "--plot" else w for before, w in itertools.pairwise(words)]
    assert main(args) == 0, capsys.readouterr().err


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    # `warmpool simulate ... | head`: the reader is gone before anything is written; the command stops
    # with exit 1 and says nothing, where it printed a BrokenPipeError traceback
    trace = tmp_path / "t.csv"
    trace.write_text("submit_time_s,duration_s,pool\n0,600,a\n900,600,a\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT)])}
    command = [sys.executable, "-m", "warmpool.cli.main", "simulate", str(trace), "--format", "json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    said = process.stderr.read().decode()
    assert (process.wait(timeout=60), said) == (1, "")


@pytest.mark.parametrize("command", ["extend", "release"])
def test_requests_help_says_who_asks_by_default_and_every_exit_code(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # docs/cli.md: `--user` defaults to $USER, else cli (the help said $USER alone, and the trail then
    # read "asked by cli"); release's help gave no exit code for done, and both said 4 of a dry run's
    # refusal, which is 1
    with pytest.raises(SystemExit):
        main(["pools", command, "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "(default: $USER, else cli)" in said
    assert "Exit 0 when done, 1 when refused" in said
    assert "a refusal is 1 all the same" in said or "4 when it would be done but the policy's dry_run" in said


@pytest.mark.parametrize("command", ["list", "costs"])
def test_list_and_costs_help_say_they_do_not_read_the_audit_table(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["pools", command, "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert f"--audit-table AUDIT_TABLE not read by {command}, which reads the registry table alone" in said


def test_the_commands_list_says_what_each_command_has(capsys: pytest.CaptureFixture[str]) -> None:
    # `warmpool --help` said pools lists, inspects, extends or releases: not that `pools costs` is there
    with pytest.raises(SystemExit):
        main(["--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "pools list, inspect, extend or release warm pools, or see their idle cost" in said
