"""`warmpool simulate` on a trace that is not what it should be: one line naming the fix, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from warmpool.cli.main import main


def test_a_quote_never_closed_is_named_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the rest of the file became one field, past the csv module's limit: `_csv.Error`, a traceback
    trace = tmp_path / "trace.csv"
    rows = "".join(f"{n * 600},300,pool-{n % 3}\n" for n in range(20_000))
    trace.write_text(f'submit_time_s,duration_s,pool\n0,300,"pool-0\n{rows}')
    assert main(["simulate", str(trace), "--workers", "1"]) == 2
    assert capsys.readouterr().err == (
        f"warmpool simulate: {trace}:2: is not CSV the csv module can read (field larger than field limit "
        '(131072)); a quote (") that is never closed makes the rest of the file one field: close it or '
        "remove it\n"
    )


def test_a_quote_never_closed_in_a_small_trace_is_refused_not_replayed_as_fewer_jobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # under csv's field limit the rest of the file became the pool's name: 3 jobs replayed as 1, no word
    trace = tmp_path / "trace.csv"
    trace.write_text('submit_time_s,duration_s,pool\n0,300,"pool-a\n600,300,pool-b\n1200,300,pool-c\n')
    assert main(["simulate", str(trace), "--workers", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"warmpool simulate: {trace}:2: is not CSV the csv module can read (unexpected end of data); a quote "
        '(") that is never closed makes the rest of the file one field: close it or remove it\n'
    )
    assert captured.out == ""


def test_a_column_named_twice_is_named_with_its_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # csv.DictReader kept the last `pool` column's value: every job was replayed on pool-x
    trace = tmp_path / "trace.csv"
    trace.write_text("submit_time_s,duration_s,pool,user, pool\n0,300,a,ann,pool-x\n900,300,b,bob,pool-x\n")
    assert main(["simulate", str(trace), "--workers", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"warmpool simulate: {trace}:1: column 'pool' is there 2 times (columns 3, 5); a trace has each "
        "column once: remove or rename all but one\n"
    )
    assert captured.out == ""
    # columns it does not read may repeat: a spreadsheet's export with empty columns at the end has ''
    # twice in its header
    trace.write_text("submit_time_s,duration_s,pool,note,note,,\n0,300,a,x,y,,\n900,300,a,x,y,,\n")
    assert main(["simulate", str(trace), "--workers", "1", "--strategies", "none"]) == 0
    assert "none" in capsys.readouterr().out
