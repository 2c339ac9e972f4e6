"""Typed configuration of the stack, read from CDK context (cdk.json or `-c key=value`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StackConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stack_name: str = "WarmPoolManager"
    policy_file: str = Field(default="policies/example.yaml", description="policy YAML, relative to the app")
    max_step_seconds: int = Field(default=3600, ge=60, le=3600)
    step_margin_seconds: int = Field(default=300, ge=0, le=1800)
    max_lifetime_days: int = Field(default=28, ge=1, le=28)
    reconcile_every_minutes: int = Field(default=5, ge=1, le=60)
