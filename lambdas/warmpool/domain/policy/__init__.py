"""The policy document and its evaluation."""

from warmpool.domain.policy.document import PolicyDocument

__all__ = ["PolicyDocument"]
