"""`warmpool simulate`'s text table keeps its columns under their headers, whatever the names and sums."""

from __future__ import annotations

from pathlib import Path

import pytest
from warmpool.cli.main import main


def test_wide_strategy_names_and_large_costs_stay_under_their_headers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the highest price per hour a policy takes (1,000,000 USD) and a keep-alive of a thousand days:
    # "1343822222.22" pushed the row past its header and every column after it moved right
    trace = tmp_path / "trace.csv"
    trace.write_text("submit_time_s,duration_s,pool\n0,300,a\n100000,300,a\n200000,300,b\n")
    args = ["simulate", str(trace), "--price-per-hour", "1000000", "--workers", "1"]
    assert main([*args, "--strategies", "none,fixed-86400000,break-even"]) == 0
    header, rule, *rows = capsys.readouterr().out.splitlines()
    words = ["strategy", "total", "$", "x", "oracle", "idle", "inst-h", "cold", "warm", "updates"]
    assert header.split() == words
    assert set(rule) == {"-"}
    assert len(rule) == len(header)
    # every row as wide as the header, each right-aligned value ending where its header ends
    titles = ("total $", "x oracle", "idle inst-h", "cold", "warm", "updates")
    ends = [header.index(title) + len(title) for title in titles]
    for row in rows:
        assert len(row) == len(header), row
        assert [_end_of(row, n) for n in range(1, 7)] == ends, row
    widest = next(r for r in rows if r.startswith("fixed-86400000 "))
    assert widest.split()[1] == "1343822222.22"


def _end_of(row: str, column: int) -> int:
    """Where the row's `column`-th space-separated value (0: the strategy) ends."""
    at = 0
    for n, value in enumerate(row.split()):
        at = row.index(value, at) + len(value)
        if n == column:
            return at
    raise AssertionError(f"no column {column} in {row!r}")
