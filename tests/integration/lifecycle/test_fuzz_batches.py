"""A batch mixing good records with hostile ones: the good ones are processed, each bad one goes to the
DLQ with its reason, nothing raises past the handler."""

import json
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warmpool.emulator.jobs import training_job_request

from tests.fuzz.test_hostile_input import json_values
from tests.integration.conftest import System

EXAMPLES: Counter[str] = Counter()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(st.one_of(st.text(max_size=50), json_values.map(json.dumps)), min_size=1, max_size=6))
def test_bad_records_never_block_a_batch(system: System, bad: list[str]) -> None:
    EXAMPLES["mixed batches"] += 1
    name = f"fz-{EXAMPLES['mixed batches']}"
    system.sagemaker.create_training_job(
        **training_job_request(name, volume_size_gb=10 + EXAMPLES["mixed batches"])
    )
    system.control.complete_job(name)
    good = [m["Body"] for m in system.messages(system.env.lifecycle_queue_url)]
    for body in [*bad, *good]:
        system.sqs.send_message(QueueUrl=system.env.lifecycle_queue_url, MessageBody=body or " ")
    system.settle()
    record = system.registry.get(name)
    assert record is not None
    assert record.pool.status.value == "Available"
    assert len(system.messages(system.env.lifecycle_dlq_url)) == len(bad)


def teardown_module() -> None:
    print("\nmixed batches fuzzed:", dict(EXAMPLES))
