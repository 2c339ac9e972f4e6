"""The policy document and its evaluation."""

from warmpool.domain.policy.document import PolicyDocument
from warmpool.domain.policy.loader import PolicyError, deployable, load_policy_file, parse_policy

__all__ = ["PolicyDocument", "PolicyError", "deployable", "load_policy_file", "parse_policy"]
