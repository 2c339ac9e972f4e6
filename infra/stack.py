"""The warmpool stack: constructs composed, permissions granted where they are wired together."""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct

from infra.config import StackConfig


class WarmPoolStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.config = config
