"""What a team subscribed to the notifications topic gets: each message's kind, severity and text, as
docs/notifications.md ("SNS") describes them."""

import json
from typing import Any

import pytest

from tests.integration.conftest import System, subscribe


def received(system: System, url: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Each message on a subscriber queue: its JSON document and its SNS message attributes."""
    out = []
    for message in system.messages(url):
        envelope = json.loads(message["Body"])
        attributes = {k: v["Value"] for k, v in envelope["MessageAttributes"].items()}
        out.append((json.loads(envelope["Message"]), attributes))
    return out


def test_the_lifetime_warning_names_the_deployment_s_maximum_lifetime_not_aws_s(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack deployed with `max_lifetime_days: 1` ends its pools a day after their first job began:
    the warning says so, not the 28 days of AWS's own limit."""
    monkeypatch.setenv("MAX_LIFETIME_SECONDS", str(86400))
    lifetime = subscribe(system.env.topic_arn, "lifetime", {"kind": ["lifetime-ending"]})
    system.set_policy({"version": 1, "defaults": {"keep_alive_strategy": "fixed-3600"}})
    system.run_job("l-1", 300, tags={"team": "vision", "owner": "alice"})  # begun at 09:00 UTC
    ((document, attributes),) = received(system, lifetime)
    assert (document["job_name"], attributes["severity"]) == ("l-1", "warning")
    assert "Warm pools live at most 1 day here; this one ends at 2026-03-03 09:00:00 UTC." in document["text"]
    assert "28 days" not in document["text"]
    assert document["facts"]["max_lifetime_seconds"] == 86400
