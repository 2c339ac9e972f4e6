"""Helpers for the simulator's tests."""

from __future__ import annotations

from typing import Any


def without_timing(results: dict[str, Any]) -> dict[str, Any]:
    """A report's `results` without each strategy's `seconds` (the replay's wall-clock time, which
    varies from run to run): what two replays that decide alike must agree on."""
    return {name: {k: v for k, v in row.items() if k != "seconds"} for name, row in results.items()}
