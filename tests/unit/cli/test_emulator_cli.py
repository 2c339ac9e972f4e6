"""`warmpool emulator`: settings that would make no sense are refused before anything listens."""

from __future__ import annotations

import pytest
from warmpool.cli.main import main


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "70000"], "--port must be within 0..65535, got 70000"),
        (
            ["--max-keep-alive", "0"],
            "--max-keep-alive must be within 1..3600 seconds (SageMaker's is 3600), got 0",
        ),
        # above SageMaker's own limits it served what SageMaker refuses: a keep-alive of 2 hours, a pool
        # warm for 400 days (docs/cli.md: a setting out of range is a usage error naming the flag)
        (
            ["--max-keep-alive", "7200"],
            "--max-keep-alive must be within 1..3600 seconds (SageMaker's is 3600), got 7200",
        ),
        (
            ["--max-lifetime-days", "400"],
            "--max-lifetime-days must be above 0 (a second or more) and at most 28 (28 in today's AWS "
            "docs), got 400",
        ),
        (
            ["--max-lifetime-days", "28.5"],
            "--max-lifetime-days must be above 0 (a second or more) and at most 28",
        ),
        (
            ["--max-lifetime-days", "-1"],
            "--max-lifetime-days must be above 0 (a second or more) and at most 28 (28 in today's AWS "
            "docs), got -1",
        ),
        # a lifetime below a second was a lifetime of 0 seconds: every pool ended as it became warm
        (["--max-lifetime-days", "0.000001"], "--max-lifetime-days must be above 0 (a second or more)"),
        (["--max-lifetime-days", "inf"], "--max-lifetime-days must be above 0"),
        (["--quota", "-3"], "--quota must be 0 or more warm instances per type"),
    ],
)
def test_settings_that_make_no_sense_are_refused_naming_the_flag(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from warmpool.cli import emulator_cmd

    monkeypatch.setattr(emulator_cmd, "threading", _Interrupted)  # a server started stops at once
    # a usage error exits 2, as argparse's own and every other command's do: it exited 1, a failure's code
    assert main(["emulator", "--port", "0", *flags]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"warmpool emulator: {message}")
    assert "listening" not in captured.out  # refused before the port is bound


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-keep-alive", "3600"],
        ["--max-lifetime-days", "28"],
        # the warm-pool quotas are adjustable, and AWS names no most they may be raised to: none is refused
        ["--quota", "100000"],
    ],
)
def test_sagemaker_s_own_limits_are_taken(
    flags: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from warmpool.cli import emulator_cmd

    monkeypatch.setattr(emulator_cmd, "threading", _Interrupted)
    assert main(["emulator", "--port", "0", *flags]) == 0
    assert " listening on http://127.0.0.1:" in capsys.readouterr().out


class _Interrupted:
    """threading as the command waits on it, with Ctrl-C pressed at once."""

    class Event:
        def wait(self) -> bool:
            raise KeyboardInterrupt


def test_the_line_it_prints_to_connect_names_the_address_it_listens_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the line to copy said endpoint_url=URL, a name the reader's Python does not know
    from warmpool.cli import emulator_cmd

    monkeypatch.setattr(emulator_cmd, "threading", _Interrupted)
    assert main(["emulator", "--port", "0"]) == 0
    listening, connect = capsys.readouterr().out.splitlines()[:2]
    url = listening.split(" listening on ")[1].split()[0]
    assert url.startswith("http://127.0.0.1:")
    assert f"boto3.client('sagemaker', endpoint_url='{url}', region_name='us-east-1')" in connect
