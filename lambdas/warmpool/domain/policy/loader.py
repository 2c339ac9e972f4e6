"""Reading and validating a policy document; errors name the path and the fix."""

from __future__ import annotations

from collections.abc import Hashable
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
            if err["type"] == "step_conflict":  # one line per conflict, naming its paths and the fix
                problems += [f"{line}." for line in err["msg"].split("\n")]
                continue
            path = ".".join(str(p) for p in err["loc"]) or "<root>"
            problems.append(f"{path}: {err['msg']}. {_fix_for(err['type'])}")
        raise PolicyError(source, problems) from None


class DuplicateKeyError(Exception):
    def __init__(self, key: object, line: int, first_line: int) -> None:
        self.key, self.line, self.first_line = key, line, first_line
        super().__init__(f"duplicate key {key!r} on line {line}")


def _unique_keys_loader() -> type[Any]:
    """A safe YAML loader that refuses a key given twice in one mapping: YAML keeps only the last,
    so the first block (say a team's limits) would be dropped without a word."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                if not isinstance(key, Hashable):
                    continue  # the SafeLoader itself refuses it, with its line
                if key in seen:
                    raise DuplicateKeyError(key, line, seen[key])
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def load_policy_file(path: str | Path) -> PolicyDocument:
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(file), [f"<file>: cannot be read ({exc.strerror}). Check the path."]) from None
    try:
        data = yaml.load(text, Loader=_unique_keys_loader())  # a SafeLoader
    except DuplicateKeyError as exc:
        raise PolicyError(
            str(file),
            [
                f"line {exc.line}: duplicate key `{exc.key}` (first on line {exc.first_line}): YAML keeps "
                "only the last, and the first would be dropped without a word. Merge the two into one."
            ],
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(str(file), [f"<file>: is not valid YAML ({exc}). Fix the syntax."]) from None
    return parse_policy(data, str(file))
