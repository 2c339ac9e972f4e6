"""The Lambda asset: `lambdas/warmpool` plus the few runtime packages that neither the Lambda runtime
nor the Powertools layer provides, copied from the build environment. No Docker."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra.constants import ASSET_EXCLUDES, BUNDLED_PACKAGES

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", "*.egg-info")


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed in the build environment: run `make install`")
    return Path(next(iter(spec.submodule_search_locations)))


@jsii.implements(cdk.ILocalBundling)
class LocalBundler:
    def __init__(self, source: Path) -> None:
        self.source = source

    def try_bundle(self, output_dir: str, _options: Any = None, **_more: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(self.source / "warmpool", out / "warmpool", ignore=_IGNORE, dirs_exist_ok=True)
        for excluded in ASSET_EXCLUDES:
            shutil.rmtree(out / "warmpool" / excluded, ignore_errors=True)
        for package in BUNDLED_PACKAGES:
            shutil.copytree(package_dir(package), out / package, ignore=_IGNORE, dirs_exist_ok=True)
        return True


def lambda_code(source: Path) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(source),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds, Docker is not needed.
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=LocalBundler(source),
        ),
    )
