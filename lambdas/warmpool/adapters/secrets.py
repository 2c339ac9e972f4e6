"""Secrets Manager, read once per container and cached. Values never reach logs or env vars."""

from __future__ import annotations

import json
from typing import Any


class SecretStore:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._cache: dict[str, str] = {}

    def text(self, arn: str) -> str:
        if arn not in self._cache:
            self._cache[arn] = str(self._client.get_secret_value(SecretId=arn)["SecretString"])
        return self._cache[arn]

    def mapping(self, arn: str) -> dict[str, str]:
        value = json.loads(self.text(arn) or "{}")
        if not isinstance(value, dict):
            raise ValueError(f"secret {arn.rsplit(':', 1)[-1]} must hold a JSON object of key -> URL")
        return {str(k): str(v) for k, v in value.items()}
