#!/usr/bin/env python3
"""CDK app: builds the warmpool stack from typed config, checks it with cdk-nag. No AWS calls."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk
import cdk_nag

from infra.config import StackConfig
from infra.stack import WarmPoolStack


def build_app(context: dict[str, object] | None = None, outdir: str | None = None) -> cdk.App:
    app = cdk.App(context=context, outdir=outdir)
    raw = app.node.try_get_context("warmpool") or {}
    config = StackConfig.model_validate(raw)
    WarmPoolStack(app, config.stack_name, config=config, app_dir=Path(__file__).resolve().parent)
    cdk.Validations.of(app).add_plugins(
        cdk_nag.AwsSolutionsChecks(app, verbose=True), cdk_nag.ServerlessChecks(app, verbose=True)
    )
    return app


if __name__ == "__main__":
    # `cdk synth` sets CDK_OUTDIR; `python app.py` writes to cdk.out/ like it would.
    build_app(outdir=os.environ.get("CDK_OUTDIR", "cdk.out")).synth()
