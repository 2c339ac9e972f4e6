"""What Slack refuses or formats in a message's blocks, checked apart from the code that builds them."""

import re
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

SLACK_REFUSES_PAST = 12_000  # characters of a message's block text: `msg_blocks_too_long` is seen past ~12K


def slack_refusals(blocks: list[dict[str, Any]]) -> list[str]:
    """What Slack would refuse in a message's blocks: its documented limits (50 blocks; 3000 characters
    of a text object, 150 of a header's, 2000 of a field's, 75 of a button's; 10 fields, 10 context
    elements), slack-sdk's own Block Kit checks, and the undocumented `msg_blocks_too_long`. Empty when
    Slack takes them."""
    problems: list[str] = []
    total = 0

    def text(obj: dict[str, Any], limit: int, where: str) -> None:
        nonlocal total
        total += len(obj["text"])
        if not 1 <= len(obj["text"]) <= limit:
            problems.append(f"{where}: {len(obj['text'])} characters, Slack takes 1 to {limit}")

    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks, Slack takes 50")
    for index, block in enumerate(blocks):
        where = f"block {index} ({block['type']})"
        if block["type"] == "section":
            if "text" in block:
                text(block["text"], 3000, where)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}: {len(fields)} fields, Slack takes 10")
            for field in fields:
                text(field, 2000, f"{where} field")
        elif block["type"] == "header":
            text(block["text"], 150, where)
        elif block["type"] == "context":
            if len(block["elements"]) > 10:
                problems.append(f"{where}: {len(block['elements'])} elements, Slack takes 10")
            for element in block["elements"]:
                text(element, 3000, f"{where} element")
        elif block["type"] == "actions":
            for element in block["elements"]:
                text(element["text"], 75, f"{where} button")
        parsed = Block.parse(block)
        try:
            assert parsed is not None
            parsed.validate_json()
        except (AssertionError, SlackObjectFormationError) as exc:
            problems.append(f"{where}: slack-sdk says {exc}")
    if total > SLACK_REFUSES_PAST:
        problems.append(f"{total} characters of block text: msg_blocks_too_long")
    return problems


def formatted_by_slack(blocks: list[dict[str, Any]]) -> list[str]:
    """The mrkdwn texts of a message, but for a mention alone: Slack formats them (`*bold*`, `_it_`)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and not re.fullmatch(r"<@[A-Z0-9]+>", node["text"]):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return found
