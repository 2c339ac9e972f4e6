"""The rule routing CloudTrail's UpdateTrainingJob records to the lifecycle queue, as the stack's settings
shape it: kept to the stack's `job_name_prefixes`, and left out with `watch_outside_keep_alive: false`."""

from pathlib import Path
from typing import Any

import pytest

from tests.infra.test_two_stacks import synthesized

pytestmark = pytest.mark.slow

CALLS = "AWS API Call via CloudTrail"


def _call_rules(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"].get("EventPattern", {}).get("detail-type") == [CALLS]
    ]


def test_a_stack_of_some_prefixes_hears_of_the_calls_on_its_own_jobs_only(tmp_path: Path) -> None:
    template = synthesized(
        {"stack_name": "Team-A", "metrics_service": "team-a", "job_name_prefixes": ["team-a-", "nightly-"]},
        tmp_path,
    )
    (rule,) = _call_rules(template)
    assert rule["EventPattern"]["detail"]["requestParameters"] == {
        "trainingJobName": [{"prefix": "team-a-"}, {"prefix": "nightly-"}]
    }


def test_watch_outside_keep_alive_false_leaves_the_rule_out(tmp_path: Path) -> None:
    template = synthesized({"watch_outside_keep_alive": False}, tmp_path)
    assert _call_rules(template) == []
    detail_types = sorted(
        r["Properties"]["EventPattern"]["detail-type"][0]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    )
    assert detail_types == [
        "SageMaker HyperParameter Tuning Job State Change",
        "SageMaker Training Job State Change",
    ]
