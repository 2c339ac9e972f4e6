"""The commands and flags the docs name are the ones `warmpool` takes: a reader following the docs to the
letter never meets `unrecognized arguments`, nor a value a flag's choices refuse."""

from __future__ import annotations

import argparse
import functools
import re
from pathlib import Path

import pytest
from warmpool.cli.main import build_parser as _build_parser

ROOT = Path(__file__).resolve().parents[3]
DOCS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
SPAN = re.compile(r"(?<!`)`([^`]+)`(?!`)")
FENCE = re.compile(r"```[a-z]*\n(.*?)```", flags=re.DOTALL)
FLAG = re.compile(r"--[a-z][a-z-]*")


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    return _build_parser()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _commands(words: list[str]) -> tuple[list[argparse.ArgumentParser], list[str]]:
    """The parsers a doc's command line names (`pools extend|release` names two) and the words after
    them; no parser when its first word is no command (`simulate` is one, `make` is not)."""
    parsers = [build_parser()]
    rest = words[1:] if words and words[0] == "warmpool" else words
    while rest and (subs := _subparsers(parsers[0])):
        names = rest[0].replace("\\|", "|").split("|")
        if not all(name in subs for name in names):
            break
        parsers, rest = [subs[name] for name in names], rest[1:]
    return ([] if parsers[0].prog == "warmpool" else parsers), rest


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {flag: action for action in parser._actions for flag in action.option_strings}


def _unknown(parser: argparse.ArgumentParser, words: list[str]) -> list[str]:
    """The flags of `words` the parser does not have, and the values its choices refuse."""
    options, wrong = _options(parser), []
    for at, word in enumerate(words):
        flag = word.split("=")[0].strip("[]()")
        if not FLAG.fullmatch(flag):
            continue
        action = options.get(flag)
        if action is None:
            wrong.append(flag)
            continue
        value = word.partition("=")[2] or (words[at + 1] if at + 1 < len(words) else "")
        if action.choices and value and not value.isupper() and not value.startswith(("-", "[", "(")):
            for choice in value.strip("[]()").replace("\\|", "|").split("|"):
                if choice and choice.isidentifier() and choice not in action.choices:
                    wrong.append(f"{flag} {choice}")
    return wrong


def _command_lines(text: str) -> list[str]:
    """Every code span and every fenced line, a pipe's commands apart, comments and line breaks out."""
    lines = [" ".join(span.split()) for span in SPAN.findall(FENCE.sub("", text))]
    for block in FENCE.findall(text):
        lines += block.replace("\\\n", " ").splitlines()
    commands = {"warmpool", *_subparsers(build_parser())}
    found: list[str] = []
    for line in lines:
        parts = [part.strip() for part in re.split(r" \\?\| ", line.split(" # ")[0]) if part.strip()]
        for at, part in enumerate(parts):  # `(--event FILE \| --job NAME)` is one command's choice
            if at and part.split()[0] not in commands:
                found[-1] += f" {part}"
            else:
                found.append(part)
    return found


def _wrong_in(name: str, text: str) -> list[str]:
    wrong = []
    for line in _command_lines(text):
        words = line.split()
        parsers, rest = _commands(words)
        wrong += [f"{name}: `{line}`: {w}" for parser in parsers for w in _unknown(parser, rest)]
    return wrong


def _wrong_in_cli_table(text: str) -> list[str]:
    """docs/cli.md's table: a flag a row names alone (`--team`, `--format json`) is its command's."""
    wrong = []
    for row in (line for line in text.splitlines() if line.startswith("| `warmpool ")):
        spans = SPAN.findall(row)
        parsers, _ = _commands(spans[0].split())
        for span in spans[1:]:
            if FLAG.match(span):
                wrong += [
                    f"docs/cli.md: {spans[0]}: `{span}`: {w}"
                    for p in parsers
                    for w in _unknown(p, span.split())
                ]
    return wrong


def test_every_command_and_flag_the_docs_name_is_one_warmpool_takes() -> None:
    wrong = []
    for name in DOCS:
        text = (ROOT / name).read_text()
        wrong += _wrong_in(name, text)
        if name == "docs/cli.md":
            wrong += _wrong_in_cli_table(text)
    assert wrong == []


@pytest.mark.parametrize(
    ("doc", "wrong"),
    [
        ("run `warmpool pools list --owner alice`", "--owner"),
        ("`pools extend|release JOB --minutes 30`", "--minutes"),
        ("```sh\nwarmpool trace export --days 28 \\\n  --out a.csv --format csv\n```", "--format"),
        ("`warmpool simulate t.csv --by owner`", "--by owner"),
        ("`trace export | simulate - --instance-type trace --people 100`", "--people"),
    ],
)
def test_a_flag_the_docs_name_wrong_is_found(doc: str, wrong: str) -> None:
    # the check itself: each of these is a doc a reader could not follow
    assert [w.rsplit(": ", 1)[1] for w in _wrong_in("doc", doc)] == [wrong]


def test_a_row_of_the_cli_table_names_its_own_flags() -> None:
    row = "| `warmpool pools list [--team T]` | with `--team`, and `--format yaml` or `--owner` |"
    assert [w.rsplit(": ", 1)[1] for w in _wrong_in_cli_table(row)] == ["--format yaml", "--owner"]
