"""Keep-alive strategies: how long a pool that just became idle should stay warm.

A strategy answers one question, "how many idle seconds in total should this pool stay warm, counted
from when it became Available?". The policy engine then clamps that horizon to the rules (limits,
working hours, budgets) and the engine reaches it in steps of at most one hour.
Strategies are small registered units, looked up by name from the policy document.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Protocol

from warmpool.domain.clock import moment_text
from warmpool.domain.model import CostModel, Pool


@dataclass(frozen=True, slots=True)
class StrategyInput:
    pool: Pool
    cost: CostModel
    now: datetime
    zone: tzinfo = UTC  # the team's: where its days begin and end (policy `timezone`)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A strategy's answer with what it saw, in words: the decision's reason says why this horizon
    ("a job of this shape came within 5 min in 72% of ..."), not only which strategy chose it."""

    seconds: int
    why: str = ""


class KeepAliveStrategy(Protocol):
    @property
    def name(self) -> str: ...

    def horizon_seconds(self, data: StrategyInput) -> int: ...

    def propose(self, data: StrategyInput) -> Proposal: ...


class _Unexplained(ABC):
    """For a strategy whose name says it all (fixed-600, none): its proposal is the bare horizon."""

    __slots__ = ()

    @abstractmethod
    def horizon_seconds(self, data: StrategyInput) -> int: ...

    def propose(self, data: StrategyInput) -> Proposal:
        return Proposal(self.horizon_seconds(data))


class Explained(ABC):
    """For a strategy that says what it saw (`propose`): its horizon is its proposal's."""

    __slots__ = ()

    @abstractmethod
    def propose(self, data: StrategyInput) -> Proposal: ...

    def horizon_seconds(self, data: StrategyInput) -> int:
        return self.propose(data).seconds


def duration_text(seconds: float) -> str:
    """ "14 min", "3.5 h": a duration as the decisions' reasons say it."""
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


_REGISTRY: dict[str, Callable[[], KeepAliveStrategy]] = {}

# Free idle time: the longest a pool can stay warm (SageMaker's 28-day lifetime); the rules cap it.
FREE_IDLE_SECONDS = 28 * 24 * 3600


def free_idle_proposal(cost: CostModel) -> Proposal:
    """What a learning strategy proposes when idle time costs nothing (a price of 0: capacity paid for
    anyway, reserved or committed): there is nothing to weigh a cold start against, so the pool stays
    warm as long as the limits allow while a cold start still costs people's waiting time, as break-even
    keeps it, and nothing is kept when even that is free."""
    if cost.cold_start_penalty > 0:
        return Proposal(FREE_IDLE_SECONDS, "idle time costs nothing here")
    return Proposal(0, "idle time and cold starts cost nothing")


def register(name: str) -> Callable[[Callable[[], KeepAliveStrategy]], Callable[[], KeepAliveStrategy]]:
    def wrap(factory: Callable[[], KeepAliveStrategy]) -> Callable[[], KeepAliveStrategy]:
        if name in _REGISTRY:
            raise ValueError(f"keep-alive strategy {name!r} registered twice")
        _REGISTRY[name] = factory
        return factory

    return wrap


def _load_builtin_strategies() -> None:
    # The learning strategies register themselves on import; imported here, lazily, to avoid a cycle.
    import warmpool.domain.adaptive
    import warmpool.domain.counterfactual  # noqa: F401


FIXED_MAX_DIGITS = 9  # fixed-<seconds>: 31 years; a pool's maximum lifetime is 28 days (7 digits)


def strategy_names() -> list[str]:
    _load_builtin_strategies()
    return sorted(_REGISTRY)


def get_strategy(name: str) -> KeepAliveStrategy:
    """A strategy by name; `fixed-N` gives a fixed keep-alive of N seconds."""
    if name.startswith("fixed-"):
        seconds = name.removeprefix("fixed-")
        if not seconds.isascii() or not seconds.isdigit():
            raise ValueError(f"unknown keep-alive strategy {name!r}: use fixed-<seconds>, e.g. fixed-600")
        # ten digits and more are past any pool's lifetime (Python's own error from 4,300 digits on)
        if len(seconds) > FIXED_MAX_DIGITS:
            raise ValueError(
                f"keep-alive strategy {name!r}: write the seconds as a whole number of at most "
                f"{FIXED_MAX_DIGITS} digits, e.g. fixed-600 (a pool lives 28 days at most: fixed-2419200)"
            )
        return FixedStrategy(int(seconds))
    _load_builtin_strategies()
    try:
        return _REGISTRY[name]()
    except KeyError:
        known = ", ".join([*strategy_names(), "fixed-<seconds>"])
        raise ValueError(f"unknown keep-alive strategy {name!r}: choose one of {known}") from None


@dataclass(frozen=True, slots=True)
class FixedStrategy(_Unexplained):
    seconds: int

    @property
    def name(self) -> str:
        return f"fixed-{self.seconds}"

    def horizon_seconds(self, data: StrategyInput) -> int:
        return self.seconds


@register("job")
@dataclass(frozen=True, slots=True)
class JobKeepAliveStrategy(Explained):
    """Keep what the job itself asked for: the ResourceConfig.KeepAlivePeriodInSeconds it was created
    with, counted from its end, or, once someone set the keep-alive of its Available pool outside
    warmpool (their own UpdateTrainingJob), that setting, counted from when it was made as SageMaker
    counts it: a person's explicit wish, which the policy's limits still bound. Never the value
    DescribeTrainingJob shows after warmpool's own updates: warmpool's steps are not the job's wish (a
    pool extended to 3000 s outside warmpool was extended, then read back as wanting the 35 minutes
    warmpool itself had set, and released)."""

    name: str = "job"

    def propose(self, data: StrategyInput) -> Proposal:
        pool = data.pool
        until = pool.outside_until
        if until is None or pool.available_since is None or pool.outside_set_at is None:
            return Proposal(pool.job_keep_alive_seconds)
        seconds = max(0, int((until - pool.available_since).total_seconds()))
        why = (
            f"its keep-alive was set to {pool.outside_keep_alive_seconds} s outside warmpool at "
            f"{moment_text(pool.outside_set_at)} (warm until {moment_text(until)}), in place of the "
            f"job's own {pool.job_keep_alive_seconds} s"
        )
        return Proposal(seconds, why)


@register("none")
@dataclass(frozen=True, slots=True)
class NoKeepAliveStrategy(_Unexplained):
    name: str = "none"

    def horizon_seconds(self, data: StrategyInput) -> int:
        return 0


@register("break-even")
@dataclass(frozen=True, slots=True)
class BreakEvenStrategy(Explained):
    """Deterministic ski rental: stay warm exactly as long as one cold start would cost. Idle time that
    costs nothing (a price of 0) never adds up to a cold start: warm as long as the limits allow."""

    name: str = "break-even"

    def propose(self, data: StrategyInput) -> Proposal:
        threshold = data.cost.break_even_seconds
        if threshold == float("inf"):
            return Proposal(FREE_IDLE_SECONDS, "idle time costs nothing here")
        return Proposal(int(threshold), f"idling {duration_text(threshold)} costs as much as one cold start")
