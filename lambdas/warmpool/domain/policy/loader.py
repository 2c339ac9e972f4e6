"""Reading and validating a policy document; errors name the path and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Hashable
from datetime import date
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from warmpool.domain.policy.document import (
    TEAM_RULES,
    Budget,
    Notifications,
    Overrides,
    PolicyDocument,
    Rules,
    TeamNotifications,
    WorkingHours,
    unwrapped,
)


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
        "int_from_float": "Use a whole number.",
        "string_type": "Use a string.",
        "finite_number": "Write a number (.nan and .inf are none).",
    }.get(error_type, "See docs/policy.md.")


# What a value of the wrong kind must be, in the words of a YAML file rather than pydantic's
# ("a valid dictionary or instance of Rules", "a valid tuple"), and how to write one.
_KINDS = {
    "dict_type": ("a mapping", "Write its keys indented under it, or {} for none."),
    "model_type": ("a mapping", "Write its keys indented under it, or {} for none."),
    "tuple_type": ("a list", "Write it as [a, b] or as one `- a` line each."),
    "list_type": ("a list", "Write it as [a, b] or as one `- a` line each."),
    "float_parsing": ("a number", "Write the number alone, e.g. 80 (no quotes, units or currency signs)."),
    "float_type": ("a number", "Write the number alone, e.g. 80 (no quotes, units or currency signs)."),
    "bool_parsing": ("true or false", "Use true or false."),
    "bool_type": ("true or false", "Use true or false."),
    "date_parsing": ("a date", "Write the date as YYYY-MM-DD."),
    "date_type": ("a date", "Write the date as YYYY-MM-DD."),
    "date_from_datetime_parsing": ("a date", "Write the date as YYYY-MM-DD."),
    "date_from_datetime_inexact": ("a date", "Write the date as YYYY-MM-DD."),
}


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, date):  # YAML's 2026-12-24 10:00, as the file shows it, not datetime.datetime(...)
        return str(value)
    return repr(value)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the mapping at `loc` (a path into the document); None: no model's (a value)."""
    kind: Any = PolicyDocument
    for part in loc:
        kind = unwrapped(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            if field is None:
                return None
            kind = field.annotation
        elif get_origin(kind) in (tuple, list, dict):
            kind = get_args(kind)[-1 if get_origin(kind) is dict else 0]  # a list's item, a mapping's value
        else:
            return None
    kind = unwrapped(kind)
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


# Where a key that another block holds goes, in the order asked (`timezone` is a rule's first): a
# budget at the top level, a team's limit of instances per type in `defaults`, were "unknown key" with
# every key allowed there, as if misspelt.
_HOMES: tuple[tuple[type[BaseModel], str], ...] = (
    (Rules, "is a rule: write it under defaults, teams.<team>, selectors[i].rules or owners.<owner>"),
    (PolicyDocument, "is a key of the document's top level, for every team: write it there, not indented"),
    (WorkingHours, "belongs in a working_hours block: write it there"),
    (Budget, "belongs in a budget block (budget: {daily_usd: 40}): write it there"),
    (Overrides, "belongs in an overrides block (overrides: {max_extend_minutes: 240}): write it there"),
    (Notifications, "belongs under notifications: write it there"),
    (TeamNotifications, "belongs under notifications.teams.<team>: write it there"),
)


def _unknown_key(loc: tuple[Any, ...], listed: set[tuple[Any, ...]]) -> str:
    """A key the document may not have, and the fix: where a key of another block goes, else the key it
    likely meant (a typo), else the keys allowed there (once per mapping: `listed` holds the mappings
    whose keys a problem above listed)."""
    fix = _fix_for("extra_forbidden")
    here = _model_at(loc[:-1])
    keys = list(here.model_fields) if here is not None else []
    key = str(loc[-1])
    home = next((where for model, where in _HOMES if model is not here and key in model.model_fields), None)
    if key in TEAM_RULES:  # not under a selector or an owner, which the Rules home names too
        home = "is a team's rule: write it under defaults or teams.<team>"
    if home is not None:  # before a near key: `max_extend_minutes` in `defaults` is no max_step_minutes
        return f"not a key here: `{key}` {home}."
    near = difflib.get_close_matches(key, keys, n=1, cutoff=0.75)
    if near:
        return f"unknown key; did you mean `{near[0]}`? {fix}"
    if not keys:
        return f"unknown key. {fix}"
    if loc[:-1] in listed:
        return f"unknown key (the keys allowed here are listed above). {fix}"
    listed.add(loc[:-1])
    return f"unknown key; the keys here: {', '.join(keys)}. {fix}"


def _path(loc: tuple[Any, ...]) -> str:
    """Where in the document, as `teams.vision.budget`; a key that is blank or has spaces around it
    quoted (`teams['vision '].budget`), which would not show in the dotted path."""
    parts = [f"[{p!r}]" if isinstance(p, str) and (not p.strip() or p != p.strip()) else f".{p}" for p in loc]
    return "".join(parts).removeprefix(".") or "<root>"


def _problem(err: Any, listed: set[tuple[Any, ...]]) -> str:
    """One validation error as `<path>: <what is wrong>. <how to fix>`."""
    loc = tuple(err["loc"])
    kind = err["type"]
    if loc[-1:] == ("[key]",) and kind == "value_error":  # a mapping's key, not its value, is wrong
        return f"{_path(loc[:-2])}: the key {loc[-2]!r} {err['ctx']['error']}"
    path = _path(loc)
    fix = _fix_for(kind)
    if kind == "extra_forbidden":
        return f"{path}: {_unknown_key(err['loc'], listed)}"
    if len(loc) == 2 and loc[0] in ("teams", "owners") and loc[1] in Rules.model_fields:
        # `teams: {max_warm_instances: 6}`: a team named max_warm_instances, "must be a mapping"
        scope, name = ("team", "vision") if loc[0] == "teams" else ("owner", "alice")
        return (
            f"{path}: `{loc[1]}` is a rule, not a {scope}'s name. Write it under the {scope} it is for "
            f"({loc[0]}: {{{name}: {{{loc[1]}: ...}}}}), or under defaults for everyone."
        )
    if kind in _KINDS:
        wanted, how = _KINDS[kind]
        return f"{path}: must be {wanted}, got {_shown(err['input'])}. {how}"
    if kind == "value_error":  # our own validators' words, which name the fix: without pydantic's prefix
        message = str(err["ctx"]["error"])
        return f"{path}: {message}" if message.endswith(".") else f"{path}: {message}. {fix}"
    return f"{path}: {err['msg']}. {fix}"


def parse_policy(data: Any, source: str = "<policy>") -> PolicyDocument:
    if data is None:
        raise PolicyError(source, ["<root>: the document is empty. Start it with `version: 1`."])
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
        listed: set[tuple[Any, ...]] = set()
        for err in exc.errors():
            if err["type"] == "step_conflict":  # one line per conflict, naming its paths and the fix
                problems += [f"{line}." for line in err["msg"].split("\n")]
                continue
            problems.append(_problem(err, listed))
        raise PolicyError(source, problems) from None


def deployable(policy: PolicyDocument, source: str = "<policy>") -> PolicyDocument:
    """`policy`, when the stack can deploy it to its SSM parameter; else a PolicyError saying why. Checked
    by `policy validate` and at synth, not for a document read back from SSM: it is there already."""
    problem = policy.too_large_to_deploy()
    if problem is not None:
        raise PolicyError(source, [problem])
    return policy


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
                if key_node.tag == "tag:yaml.org,2002:merge":
                    # `<<: *base` (a block shared through an anchor): the SafeLoader merges it below,
                    # and a key written beside it overrides the merged one, as YAML means it to
                    continue
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                if not isinstance(key, Hashable):
                    continue  # the SafeLoader itself refuses it, with its line
                if key in seen:
                    raise DuplicateKeyError(key, line, seen[key])
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
            """YAML reads 2026-13-01 as a date, and fails with a bare ValueError: here, a YAML error
            with the node's line, like any other."""
            try:
                return super().construct_yaml_timestamp(node)
            except ValueError as exc:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{node.value} is not a date ({exc})", node.start_mark
                ) from None

    UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", UniqueKeyLoader.construct_yaml_timestamp)
    return UniqueKeyLoader


def _syntax_error(exc: Any) -> str:
    """A YAML error as one line, `line L, column C: what`, with the fix (PyYAML's own text spans lines
    and calls the file "<unicode string>")."""
    mark = exc.problem_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else "<file>: "
    what = exc.problem or str(exc)
    if what.startswith("but ") and exc.context:  # the half that says what was expected is the context's
        what = f"{exc.context}, {what}"  # "expected a single document in the stream, but found another"
    if "\\t" in what:  # PyYAML writes the tab it found as '\\t'
        fix = "Indent with spaces, not tabs."
    elif "is not a date" in what:
        fix = "Write the date as YYYY-MM-DD."
    elif "another document" in what:
        fix = "A policy is one document: remove the `---` line and what follows, or merge the two."
    elif "mapping values are not allowed here" in what:
        fix = "Check the line's indentation against the line above, and quote a value holding `: `."
    else:
        fix = "Fix the syntax."
    return f"{where}{what}. {fix}"


def load_policy_file(path: str | Path) -> PolicyDocument:
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(file), [f"<file>: cannot be read ({exc.strerror}). Check the path."]) from None
    except UnicodeDecodeError as exc:  # e.g. UTF-16, as some editors save
        raise PolicyError(
            str(file),
            [
                f"<file>: is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}). "
                "Save it as UTF-8."
            ],
        ) from None
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
    except yaml.MarkedYAMLError as exc:
        raise PolicyError(str(file), [_syntax_error(exc)]) from None
    except yaml.reader.ReaderError as exc:  # a control character: PyYAML's text spans two lines
        line = text.count("\n", 0, exc.position) + 1
        shown = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise PolicyError(
            str(file), [f"line {line}: holds the character {shown}, which YAML does not allow. Remove it."]
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(str(file), [f"<file>: is not valid YAML ({exc}). Fix the syntax."]) from None
    return parse_policy(data, str(file))
