"""The demo report's chart: each pool's row named in the label column, not over its bars."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from warmpool.demo.report import write_report
from warmpool.demo.runner import START, WEBHOOK_KEYS, DemoResult
from warmpool.emulator.jobs import training_job_request
from warmpool.local.stack import LocalSystem, start_local_system

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow

LONG = "vision-resnet152-imagenet-finetune-lr3e-4-warmup-cosine-seed-42"  # 63 characters, as SageMaker allows


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalSystem]:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    system = start_local_system(
        start=START, policy_file=ROOT / "policies" / "example.yaml", webhook_keys=WEBHOOK_KEYS
    )
    try:
        yield system
    finally:
        system.stop()


def test_a_long_job_name_is_cut_to_the_label_column_and_shown_whole_on_hover(
    local: LocalSystem, tmp_path: Path
) -> None:
    # the label column ends where the bars begin (x=160); a 63-character name ran on over its own bars
    # and the hour lines, unreadable, at 11 px about 6 px a character
    for name in (LONG, "nlp-1"):
        local.session.client("sagemaker").create_training_job(
            **training_job_request(name, keep_alive_seconds=600, tags={"team": "vision"})
        )
        local.control.run_for(name, 600)
        local.settle()
    local.advance(900)

    report = write_report(local, DemoResult(), tmp_path).read_text(encoding="utf-8")

    labels = re.findall(
        r'<text x="4" y="\d+" font-size="11">(?:<title>([^<]*)</title>)?([^<]*)</text>', report
    )
    shown = {text: whole for whole, text in labels}
    assert "nlp-1" in shown  # a short name as it is, with nothing to add
    assert shown["nlp-1"] == ""
    (cut,) = [text for text in shown if text != "nlp-1"]
    assert cut.endswith("…")
    assert LONG.startswith(cut.removesuffix("…"))
    assert len(cut) * 6.2 <= 156  # fits before the bars at x=160
    assert shown[cut] == LONG  # the whole name on hover
