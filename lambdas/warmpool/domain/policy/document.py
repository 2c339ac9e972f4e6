"""The policy document (YAML in the deploying repo, JSON in SSM at run time)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep_alive_strategy: str = Field(
        default="job",
        description="How long an idle pool should stay warm: job, none, break-even, adaptive, fixed-<s>.",
    )


class PolicyDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    dry_run: bool = False
    defaults: Defaults = Field(default_factory=Defaults)
