"""Arbitrary, truncated, oversized and mistyped input: rejections name the field, nothing escapes the
handler boundary, and a bad record never blocks its batch."""

import json
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from warmpool.domain.policy import PolicyError, parse_policy
from warmpool.models.events import EventRejectedError, parse_lifecycle_message

EXAMPLES: Counter[str] = Counter()
GOOD = {
    "version": "0",
    "id": "1",
    "detail-type": "SageMaker Training Job State Change",
    "source": "aws.sagemaker",
    "account": "123456789012",
    "time": "2026-03-02T10:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"TrainingJobName": "j", "TrainingJobStatus": "Completed", "Tags": {"team": "t"}},
}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def rejection(body: str) -> EventRejectedError | None:
    """None when the body parses; the rejection otherwise (anything else escapes and fails the test)."""
    try:
        parse_lifecycle_message(body)
    except EventRejectedError as exc:
        return exc
    return None


@settings(max_examples=400, deadline=None)
@given(
    body=st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
        json_values.map(json.dumps),
    )
)
def test_arbitrary_bodies_are_rejected_with_a_field(body: str) -> None:
    # None of these can be a valid message: every one needs a "detail-type" key (11 characters, and the
    # generated keys have at most 10) holding one of three long literals, which random text does not spell.
    EXAMPLES["arbitrary bodies"] += 1
    rejected = rejection(body)
    assert rejected is not None
    assert rejected.field in {"body", "detail-type"}  # not JSON or not an object; or no known event
    assert rejected.reason


@settings(max_examples=400, deadline=None)
@given(
    path=st.sampled_from(
        [
            "detail.TrainingJobName",
            "detail.TrainingJobStatus",
            "detail.Tags",
            "detail.LastModifiedTime",
            "time",
            "detail-type",
            "detail",
        ]
    ),
    value=json_values,
)
def test_mistyped_fields_are_named(path: str, value: Any) -> None:
    EXAMPLES["mistyped fields"] += 1
    event = json.loads(json.dumps(GOOD))
    target = event
    *parents, leaf = path.split(".")
    for part in parents:
        target = target[part]
    target[leaf] = value
    rejected = rejection(json.dumps(event))
    if rejected is not None:  # some values are valid there (any string as a name, {} as tags...)
        assert rejected.field is not None
        assert rejected.field == path or rejected.field.startswith(path + "."), (rejected.field, path)


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, len(json.dumps(GOOD)) - 1))
def test_truncated_events_are_rejected(cut: int) -> None:
    EXAMPLES["truncated events"] += 1
    with pytest.raises(EventRejectedError):
        parse_lifecycle_message(json.dumps(GOOD)[:cut])


def test_oversized_event_is_rejected() -> None:
    event = json.loads(json.dumps(GOOD))
    event["detail"]["Padding"] = "x" * 300_000
    with pytest.raises(EventRejectedError, match="byte event limit"):
        parse_lifecycle_message(json.dumps(event))


@settings(max_examples=300, deadline=None)
@given(
    document=st.dictionaries(
        st.sampled_from(
            [
                "version",
                "defaults",
                "teams",
                "owners",
                "selectors",
                "dry_run",
                "prices",
                "notifications",
                "junk",
            ]
        ),
        json_values,
        max_size=5,
    )
)
def test_random_policy_documents_are_rejected_by_path(document: dict[str, Any]) -> None:
    EXAMPLES["policy documents"] += 1
    problems: list[str] | None = None
    try:
        parse_policy(document)
    except PolicyError as exc:
        problems = exc.problems
    if "junk" in document:  # an unknown key: never a valid policy, whatever else it holds
        assert problems is not None
        assert any(p.startswith("junk: ") for p in problems)
    if problems is not None:  # missing keys have defaults: what is wrong is at a key the document has
        assert problems
        for problem in problems:
            path, sep, what = problem.partition(": ")
            assert sep, problem
            assert what, problem
            # a blank key, or one with spaces around it, is quoted: `defaults['']`
            assert re.split(r"[.\[]", path)[0] in document, problem


def teardown_module() -> None:
    print("\nfuzzing examples run:", dict(EXAMPLES))
