"""The functions' settings, as a cold start reads them from the environment the stack sets."""

from __future__ import annotations

import pytest
from warmpool.settings import LifecycleSettings, SettingsError

ENV = {
    "POOLS_TABLE_NAME": "pools",
    "AUDIT_TABLE_NAME": "audit",
    "POLICY_PARAMETER_NAME": "/warmpool/policy",
    "NOTIFY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/notify",
    "SCHEDULER_GROUP_NAME": "steps",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
    "SCHEDULER_TARGET_ARN": "arn:aws:sqs:us-east-1:123456789012:lifecycle",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "LIFECYCLE_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
}


@pytest.mark.parametrize("seconds", [str(29 * 86400), "59", "0"])
def test_a_max_lifetime_sagemaker_would_not_keep_stops_the_cold_start_naming_it(seconds: str) -> None:
    # 29 days kept a pool the engine planned for past the 28 SageMaker ends it at; under an hour ended
    # every pool within its first step: both started without a word
    with pytest.raises(SettingsError) as raised:
        LifecycleSettings.from_env({**ENV, "MAX_LIFETIME_SECONDS": seconds})
    message = str(raised.value)
    assert message.startswith(
        f"LifecycleSettings cannot start: MAX_LIFETIME_SECONDS: Value error, {seconds} seconds is outside "
        "3600 (one hour) to 2419200 (28 days, the most SageMaker keeps a warm pool): set it within them "
        "(days times 86400, as the stack's max_lifetime_days does), or unset it for 28 days"
    )
    assert message.endswith("Set these environment variables on the function.")


@pytest.mark.parametrize("seconds", [3600, 86400, 28 * 86400])
def test_a_max_lifetime_from_an_hour_to_28_days_is_taken(seconds: int) -> None:
    settings = LifecycleSettings.from_env({**ENV, "MAX_LIFETIME_SECONDS": str(seconds)})
    assert settings.engine_limits().max_lifetime_seconds == seconds
    assert LifecycleSettings.from_env(ENV).max_lifetime_seconds == 28 * 86400  # unset: SageMaker's most
