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
        f"warmpool simulate: {trace}: is not CSV the csv module can read (field larger than field limit "
        '(131072)); a quote (") that is never closed makes the rest of the file one field: close it or '
        "remove it\n"
    )
