"""The whole system on one machine: moto's server with the warm-pool emulator, the stack's resources,
the real handlers in-process with the stack's environment, the pumps, and a Slack stand-in.

Used by `warmpool demo` and available to anyone who wants to poke at warmpool without an account.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from warmpool.domain.clock import ManualClock


class EndpointSession:
    """boto3 clients on one endpoint (the local server), with dummy credentials."""

    def __init__(self, endpoint_url: str, region: str = "us-east-1") -> None:
        import boto3

        self.endpoint_url = endpoint_url
        self._session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=region
        )

    def client(self, service: str, region_name: str | None = None) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint_url, region_name=region_name)


@dataclass
class LocalSystem:
    """Everything `start_local_system` set up; `stop()` tears it down and restores the environment."""

    clock: ManualClock
    endpoint_url: str
    session: EndpointSession
    env: Any
    emulator: Any
    control: Any
    slack: Any
    lifecycle_pump: Any
    notifier_pump: Any
    schedule_pump: Any
    press_pump: Any  # the Slack worker on the presses the endpoint queued
    server: Any
    saved_env: dict[str, str | None] = field(default_factory=dict)

    def settle(self, rounds: int = 100) -> None:
        for _ in range(rounds):
            moved = (
                self.press_pump.drain()
                + self.lifecycle_pump.drain()
                + self.schedule_pump.fire_due()
                + self.notifier_pump.drain()
            )
            if moved == 0:
                return
        raise RuntimeError("the system did not settle")

    def advance(self, seconds: float, tick: float = 60.0) -> None:
        """Move virtual time on by `seconds`, settling every `tick` and at every schedule's moment: a
        step due between two ticks fired at the later one, after the emulator had let its pool expire
        (a 10-minute tick ended a pool the engine was about to extend, which EventBridge would not)."""
        remaining = seconds
        while remaining > 0:
            step = min(tick, remaining)
            upcoming = self.schedule_pump.next_at()
            if upcoming is not None and 0 < (until := (upcoming - self.now()).total_seconds()) < step:
                step = until
            self.emulator.advance(step)
            remaining -= step
            self.settle()

    def now(self) -> datetime:
        return self.clock.now()

    def stop(self) -> None:
        from warmpool.emulator import uninstall
        from warmpool.service import wiring

        self.slack.stop()
        # moto keeps its resources in the process, not in the server: without a reset, a second system
        # started in the same process (`main(["demo"])` run twice, a notebook) found the first one's
        # tables there, and creating them again failed
        from urllib.request import Request, urlopen

        with urlopen(Request(f"{self.endpoint_url}/moto-api/reset", method="POST"), timeout=10):
            pass
        self.server.stop()
        uninstall()
        wiring.OVERRIDES.clock = None
        wiring.OVERRIDES.sleep = None
        wiring.OVERRIDES.endpoint_url = None
        for key, value in self.saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _clear_handler_caches()


def _clear_handler_caches() -> None:
    from warmpool.handlers import lifecycle, notifier, reconciler, slack_interactive

    for module in (lifecycle, notifier, reconciler, slack_interactive):
        module.runtime.cache_clear()


def start_local_system(*, start: datetime, policy_file: Path, webhook_keys: tuple[str, ...]) -> LocalSystem:
    from warmpool.domain.policy import load_policy_file
    from warmpool.emulator import EmulatorConfig, EmulatorServer, LocalControl, WarmPoolEmulator, install
    from warmpool.handlers import lifecycle, notifier, slack_interactive
    from warmpool.local.pumps import QueuePump, SchedulePump
    from warmpool.local.resources import create_local_environment
    from warmpool.local.slack_standin import SlackStandIn
    from warmpool.service import wiring

    policy = load_policy_file(policy_file)
    clock = ManualClock(start)
    emulator = WarmPoolEmulator(EmulatorConfig(), clock)
    install(emulator)
    server = EmulatorServer(emulator, quiet=True)
    url = server.start()
    session = EndpointSession(url)
    env = create_local_environment(session, policy_json=policy.model_dump_json(exclude_none=True))
    slack = SlackStandIn(clock=clock.now).start()
    session.client("secretsmanager").put_secret_value(
        SecretId=env.slack_webhooks_secret_arn,
        SecretString=json.dumps({key: slack.url(key) for key in webhook_keys}),
    )
    variables = {
        **env.env(),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "SLACK_RESPONSE_ORIGINS": slack.origin,  # the presses' response URLs point at the stand-in
    }
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    wiring.OVERRIDES.clock = clock
    wiring.OVERRIDES.sleep = emulator.advance
    wiring.OVERRIDES.endpoint_url = url
    _clear_handler_caches()
    sqs = session.client("sqs")
    return LocalSystem(
        clock=clock,
        endpoint_url=url,
        session=session,
        env=env,
        emulator=emulator,
        control=LocalControl(emulator),
        slack=slack,
        lifecycle_pump=QueuePump(sqs, env.lifecycle_queue_url, lifecycle.handler),
        notifier_pump=QueuePump(sqs, env.notify_queue_url, notifier.handler),
        schedule_pump=SchedulePump(session.client("scheduler"), sqs, env.scheduler_group, clock),
        press_pump=QueuePump(sqs, env.slack_press_queue_url, slack_interactive.worker, batch_size=1),
        server=server,
        saved_env=saved,
    )
