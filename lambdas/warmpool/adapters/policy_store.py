"""The policy document from SSM Parameter Store, cached; a bad document never replaces a good one."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from warmpool.domain.clock import Clock
from warmpool.domain.policy import PolicyError, parse_policy
from warmpool.domain.policy.document import PolicyDocument
from warmpool.service.ports import Metrics

logger = logging.getLogger(__name__)


class StaticPolicySource:
    """A fixed policy: the CLI's offline mode, the simulator, tests."""

    def __init__(self, policy: PolicyDocument) -> None:
        self._policy = policy

    def current(self) -> PolicyDocument:
        return self._policy


class SsmPolicySource:
    def __init__(
        self, client: Any, parameter_name: str, *, cache_seconds: int, clock: Clock, metrics: Metrics
    ) -> None:
        self._client = client
        self.parameter_name = parameter_name
        self._ttl = timedelta(seconds=cache_seconds)
        self._clock = clock
        self._metrics = metrics
        self._good: PolicyDocument | None = None
        self._built_in = False  # `_good` is the built-in policy: no document read was valid yet
        self._loaded_at: datetime | None = None

    def _kept(self) -> str:
        """What decides while the parameter cannot be used, as the log says it."""
        if self._built_in:
            return "deciding with the built-in policy (each job's own keep-alive) until it is fixed"
        return "keeping the last good document"

    def current(self) -> PolicyDocument:
        now = self._clock.now()
        if self._good is not None and self._loaded_at is not None and now - self._loaded_at < self._ttl:
            return self._good
        try:
            raw = self._client.get_parameter(Name=self.parameter_name)["Parameter"]["Value"]
        except Exception as exc:  # throttled, denied, deleted: any failure to read the parameter
            if self._good is None:
                raise  # nothing to decide with: the event fails and is retried, never decided blind
            self._metrics.count("PolicyUnreadable")
            logger.error(
                "policy parameter %s could not be read; %s: %s", self.parameter_name, self._kept(), exc
            )
            self._loaded_at = now  # try again after the cache period, not on every event
            return self._good
        self._loaded_at = now
        try:
            self._good = parse_policy(json.loads(raw), f"parameter {self.parameter_name}")
            self._built_in = False
        except PolicyError as exc:  # each problem as `<path>: <what is wrong>. <fix>`, as at synth
            self._invalid(exc.problems)
        except ValueError as exc:  # not JSON: YAML put by hand, say
            self._invalid([f"<root>: is not JSON ({exc}). Deploy the policy with the stack (cdk deploy)"])
        assert self._good is not None
        return self._good

    def _invalid(self, problems: list[str]) -> None:
        self._metrics.count("PolicyInvalid")
        if self._good is None:
            # No good document yet: the safest policy changes nothing (each job's own keep-alive).
            self._good, self._built_in = PolicyDocument(), True
        logger.error(
            "policy parameter %s is invalid; %s: %s", self.parameter_name, self._kept(), "; ".join(problems)
        )
