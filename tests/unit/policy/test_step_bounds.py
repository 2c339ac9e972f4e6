"""A step must leave the engine time to look at the pool again before the step runs out: the next look
is scheduled at least a minute on, a margin before the step's end."""

from __future__ import annotations

import pytest
from warmpool.domain.policy import PolicyError, parse_policy


@pytest.mark.parametrize("minutes", [1, 2, 4])
def test_a_step_too_short_to_be_looked_at_again_is_refused_naming_the_fix(minutes: int) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy({"version": 1, "teams": {"nlp": {"max_step_minutes": minutes}}})
    assert err.value.problems == [
        "teams.nlp.max_step_minutes: Input should be greater than or equal to 5. Raise it."
    ]


def test_five_minute_steps_are_accepted() -> None:
    policy = parse_policy({"version": 1, "defaults": {"max_step_minutes": 5, "min_step_minutes": 1}})
    assert policy.defaults.max_step_minutes == 5
