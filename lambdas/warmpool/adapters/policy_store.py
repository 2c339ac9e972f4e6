"""The policy document from SSM Parameter Store, cached; a bad document never replaces a good one, and a
function that has read none yet decides by the parameter's last valid version."""

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
        self._built_in = False  # `_good` is the built-in policy: no valid version of the parameter yet
        self._earlier: int | None = None  # `_good` is this earlier version, read from the history
        self._loaded_at: datetime | None = None

    def _kept(self) -> str:
        """What decides while the parameter cannot be used, as the log says it."""
        if self._built_in:
            return "deciding with the built-in policy (each job's own keep-alive) until it is fixed"
        if self._earlier is not None:
            return f"deciding with version {self._earlier}, its last valid one, until it is fixed"
        return "keeping the last good document"

    def current(self) -> PolicyDocument:
        now = self._clock.now()
        if self._good is not None and self._loaded_at is not None and now - self._loaded_at < self._ttl:
            return self._good
        try:
            parameter = self._client.get_parameter(Name=self.parameter_name)["Parameter"]
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
            document = parse_policy(json.loads(parameter["Value"]), f"parameter {self.parameter_name}")
            # which version decided is what the audit trail names (`deployed_version`)
            self._good = document.deployed_as(parameter.get("Version"))
            self._built_in, self._earlier = False, None
        except PolicyError as exc:  # each problem as `<path>: <what is wrong>. <fix>`, as at synth
            self._invalid(exc.problems)
        except ValueError as exc:  # not JSON: YAML put by hand, say
            self._invalid([f"<root>: is not JSON ({exc}). Deploy the policy with the stack (cdk deploy)"])
        assert self._good is not None
        return self._good

    def _invalid(self, problems: list[str]) -> None:
        self._metrics.count("PolicyInvalid")
        if self._good is None:
            # A function started since the parameter went bad decides as the warm ones do: by the last
            # valid version (the parameter's history), not by each job's own keep-alive, which would
            # let go the pools that document keeps. With none (never valid, or its history unreadable),
            # the safest policy changes nothing: each job's own keep-alive.
            self._earlier, self._good = self._last_valid_version()
            if self._good is None:
                self._good, self._built_in = PolicyDocument(), True
        logger.error(
            "policy parameter %s is invalid; %s: %s", self.parameter_name, self._kept(), "; ".join(problems)
        )

    def _last_valid_version(self) -> tuple[int | None, PolicyDocument | None]:
        """The parameter's newest version that is a valid policy, and its number (SSM keeps the last 100
        versions); (None, None) when none is, or its history cannot be read (logged)."""
        try:
            pages = self._client.get_paginator("get_parameter_history").paginate(Name=self.parameter_name)
            versions = [v for page in pages for v in page.get("Parameters", [])]
        except Exception as exc:  # denied, throttled: the built-in policy, as before there was a history
            logger.error("policy parameter %s: its history could not be read: %s", self.parameter_name, exc)
            return None, None
        for version in sorted(versions, key=lambda v: int(v.get("Version", 0)), reverse=True):
            number = int(version.get("Version", 0))
            try:
                document = parse_policy(
                    json.loads(version["Value"]), f"parameter {self.parameter_name} version {number}"
                )
            except (PolicyError, ValueError):
                continue
            return number, document.deployed_as(number)
        return None, None
