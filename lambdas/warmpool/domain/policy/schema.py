"""The policy document's JSON Schema, generated from the typed model.

`python -m warmpool.domain.policy.schema > schemas/policy.schema.json` refreshes the published copy.
"""

from __future__ import annotations

import json
from typing import Any

from warmpool.domain.policy.document import PolicyDocument


def policy_json_schema() -> dict[str, Any]:
    schema = PolicyDocument.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "warmpool policy document"
    return schema


def render() -> str:
    return json.dumps(policy_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
