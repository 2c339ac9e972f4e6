"""`warmpool emulator`: settings that would make no sense are refused before anything listens."""

from __future__ import annotations

import pytest
from warmpool.cli.main import main


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "70000"], "--port must be within 0..65535, got 70000"),
        (["--max-keep-alive", "0"], "--max-keep-alive must be 1 second or more (SageMaker's is 3600), got 0"),
        (
            ["--max-lifetime-days", "-1"],
            "--max-lifetime-days must be above 0 (28 in today's AWS docs), got -1",
        ),
        (["--max-lifetime-days", "inf"], "--max-lifetime-days must be above 0"),
        (["--quota", "-3"], "--quota must be 0 or more warm instances per type"),
    ],
)
def test_settings_that_make_no_sense_are_refused_naming_the_flag(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # a usage error exits 2, as argparse's own and every other command's do: it exited 1, a failure's code
    assert main(["emulator", "--port", "0", *flags]) == 2
    assert capsys.readouterr().err.startswith(f"warmpool emulator: {message}")
