"""`warmpool demo` end to end: the scripted day passes its own checks and writes its report."""

from pathlib import Path

import pytest
from warmpool.cli.main import main

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.slow


def test_demo_passes_its_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    code = main(["demo", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "demo passed" in out
    assert out.count("[PASS]") >= 9
    assert "[FAIL]" not in out
    assert "no manager (no keep-alive)" in out
    assert "[Extend 30 min]  [Extend 60 min]  [Release now]" in out
    report = (tmp_path / "report.html").read_text()
    assert "<svg" in report
    assert "vision-exp-1" in report
