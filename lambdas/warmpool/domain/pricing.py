"""On-demand SageMaker training prices per instance-hour, used for idle-cost estimates.

Approximate us-east-1 list prices; a policy document can override any of them (and add types), and
the simulator takes `--price-per-hour`. Prices change: treat these as defaults, not as a bill.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_PRICES_PER_HOUR: Mapping[str, float] = {
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.g4dn.xlarge": 0.736,
    "ml.g4dn.2xlarge": 0.94,
    "ml.g4dn.12xlarge": 4.89,
    "ml.g5.xlarge": 1.408,
    "ml.g5.2xlarge": 1.515,
    "ml.g5.4xlarge": 2.03,
    "ml.g5.12xlarge": 7.09,
    "ml.g5.48xlarge": 20.36,
    "ml.g6.xlarge": 1.006,
    "ml.g6.2xlarge": 1.222,
    "ml.p3.2xlarge": 3.825,
    "ml.p3.8xlarge": 14.688,
    "ml.p3.16xlarge": 28.152,
    "ml.p4d.24xlarge": 37.688,
    "ml.p5.48xlarge": 113.068,
    "ml.trn1.2xlarge": 1.5484,
    "ml.trn1.32xlarge": 24.7726,
}


class UnknownInstanceTypeError(KeyError):
    """`where` places the type (e.g. a trace's file and line); `one_price` says --price-per-hour can
    stand in for it (it cannot when every job is priced at its own type)."""

    def __init__(self, instance_type: str, where: str = "", *, one_price: bool = True) -> None:
        super().__init__(instance_type)
        self.instance_type = instance_type
        self.where = where
        self.one_price = one_price

    def __str__(self) -> str:
        return (
            f"{self.where + ': ' if self.where else ''}no price known for instance type "
            f"{self.instance_type!r}: add it under `prices` in the policy document (USD per instance-hour)"
            f"{' or pass --price-per-hour' if self.one_price else ''}"
        )


def price_per_hour(instance_type: str, overrides: Mapping[str, float] | None = None) -> float:
    """USD per instance-hour for `instance_type`, overrides first."""
    if overrides and instance_type in overrides:
        return float(overrides[instance_type])
    try:
        return DEFAULT_PRICES_PER_HOUR[instance_type]
    except KeyError:
        raise UnknownInstanceTypeError(instance_type) from None
