#!/usr/bin/env python3
"""CDK app: builds the warmpool stack from typed config, checks it with cdk-nag. No AWS calls."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import aws_cdk as cdk
import cdk_nag
from aws_cdk import cx_api
from warmpool.domain.policy import PolicyError

from infra.config import ConfigError, load_config
from infra.stack import WarmPoolStack

APP_DIR = Path(__file__).resolve().parent


def cdk_json_context(path: Path = APP_DIR / "cdk.json") -> dict[str, object]:
    """The `context` of cdk.json: the feature flags (and any `warmpool` config) the CDK CLI gives the app.

    The CLI reads cdk.json and hands its context to the app in the environment; `python app.py`
    (`make synth`) and the tests build the app without the CLI, and would otherwise synthesize another
    template than `cdk deploy` (e.g. IAM policies unminimized) and check that one instead.
    """
    try:
        settings = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as err:  # without it, another template than `cdk deploy`'s
        raise ConfigError([f"{path.name}: cannot be read ({err}). Restore it from the project."]) from None
    except json.JSONDecodeError as err:
        raise ConfigError([f"{path.name}: not valid JSON ({err}). Fix the file."]) from None
    if not isinstance(settings, dict):
        kind = type(settings).__name__
        raise ConfigError(
            [f"{path.name}: must be an object with `app` and `context`, not {kind}. Fix the file."]
        )
    context = settings.get("context", {})
    if not isinstance(context, dict):
        kind = type(context).__name__
        raise ConfigError(
            [f"{path.name}: `context` must be an object of context keys, not {kind}. Fix the file."]
        )
    return context


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> cdk.App:
    # cdk.json's context, then the caller's, go in as defaults: the App lets the context the CDK CLI
    # passes in (cdk.json's again, cdk.context.json, `-c`) override them, so `cdk deploy` is unchanged.
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    config = load_config(app.node.try_get_context("warmpool"), context_keys=app.node.get_all_context())
    WarmPoolStack(app, config.stack_name, config=config, app_dir=APP_DIR)
    cdk.Validations.of(app).add_plugins(
        cdk_nag.AwsSolutionsChecks(app, verbose=True), cdk_nag.ServerlessChecks(app, verbose=True)
    )
    return app


def config_problems(error: ConfigError | PolicyError) -> str:
    """What is wrong with the configuration, one line per problem, each naming its key and the fix: what
    `cdk synth` shows instead of a Python traceback through jsii."""
    if isinstance(error, PolicyError):  # the file `policy_file` names
        return "\n".join(f"warmpool.policy_file ({error.source}): {p}" for p in error.problems)
    return "\n".join(error.problems)


def synth_warnings(assembly: cx_api.CloudAssembly) -> list[str]:
    """The warnings the synth left on the stacks (a setting two stacks in one account would share,
    `shared_account_warnings`), which the CDK CLI prints and `python app.py` otherwise would not."""
    return [
        str(message.entry.data)
        for stack in assembly.stacks
        for message in stack.messages
        if message.level == cx_api.SynthesisMessageLevel.WARNING
    ]


def main() -> None:
    # `cdk synth` sets CDK_OUTDIR; `python app.py` writes to cdk.out/ like it would.
    under_cdk_cli = "CDK_OUTDIR" in os.environ
    try:
        app = build_app(outdir=os.environ.get("CDK_OUTDIR", "cdk.out"))
    except (ConfigError, PolicyError) as error:
        sys.exit(config_problems(error))
    assembly = app.synth()
    if not under_cdk_cli:  # the CLI prints them itself, with where they are
        for warning in synth_warnings(assembly):
            print(f"warning: {warning}", file=sys.stderr)


if __name__ == "__main__":
    main()
