"""Suite-wide: how many workers `make test` starts, and the longest tests first.

`make test` runs the suite on every core (pytest-xdist, work stealing). A long test that happens to be
collected last would start when the other workers have nearly finished and hold the run for its whole
length; started first, it runs while the other workers take the rest."""

from __future__ import annotations

import pytest
from warmpool.simulator.compare import default_workers


def _rank(item: pytest.Item) -> int:
    if item.get_closest_marker("chaos") is not None:
        return 0
    if item.get_closest_marker("slow") is not None:
        return 1
    return 2


MAX_WORKERS = 4  # the chaos replay alone takes about half the suite: more workers would wait for it


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per core this process may run on, at most MAX_WORKERS."""
    return min(MAX_WORKERS, default_workers())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: within a rank, the collection order
