"""Reading and validating a policy document; errors name the path and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from warmpool.domain.policy.document import PolicyDocument


class PolicyError(ValueError):
    """The document is invalid; `problems` lists `<path>: <what is wrong>. <how to fix>` lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid policy {source}:\n" + "\n".join(f"  - {p}" for p in problems))


def _fix_for(error_type: str) -> str:
    return {
        "extra_forbidden": "Remove it or check its spelling against schemas/policy.schema.json.",
        "missing": "Add it.",
        "literal_error": "Use one of the allowed values.",
        "less_than_equal": "Lower it.",
        "greater_than_equal": "Raise it.",
        "greater_than": "Raise it.",
        "int_parsing": "Use a whole number.",
        "string_type": "Use a string.",
    }.get(error_type, "See docs/policy.md.")


def parse_policy(data: Any, source: str = "<policy>") -> PolicyDocument:
    if not isinstance(data, dict):
        raise PolicyError(
            source,
            [
                f"<root>: must be a mapping with `version: 1`, got {type(data).__name__}. "
                "Start the file with `version: 1`."
            ],
        )
    try:
        return PolicyDocument.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"]) or "<root>"
            problems.append(f"{path}: {err['msg']}. {_fix_for(err['type'])}")
        raise PolicyError(source, problems) from None


def load_policy_file(path: str | Path) -> PolicyDocument:
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(file), [f"<file>: cannot be read ({exc.strerror}). Check the path."]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(str(file), [f"<file>: is not valid YAML ({exc}). Fix the syntax."]) from None
    return parse_policy(data, str(file))
