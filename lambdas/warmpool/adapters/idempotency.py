"""Do nothing twice: Powertools idempotency on DynamoDB, keyed on the job and its state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class PowertoolsDeduplicator:
    def __init__(self, table_name: str, client: Any, *, expires_after_seconds: int = 24 * 3600) -> None:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

        self._persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)
        self._config = IdempotencyConfig(expires_after_seconds=expires_after_seconds)

    def register_lambda_context(self, context: Any) -> None:
        self._config.register_lambda_context(context)

    def run_once(self, key: str, fn: Callable[[], T]) -> T | None:
        """Run `fn` once per key; a repeat returns None. A concurrent run of the same key raises
        IdempotencyAlreadyInProgressError, which the handler treats as retryable."""
        from aws_lambda_powertools.utilities.idempotency import idempotent_function

        results: list[T] = []

        def once(claim: dict[str, str]) -> dict[str, str]:
            results.append(fn())
            return {"key": claim["key"]}

        guarded: Callable[..., Any] = idempotent_function(
            once, data_keyword_argument="claim", persistence_store=self._persistence, config=self._config
        )
        guarded(claim={"key": key})
        return results[0] if results else None

    def run_once_keeping(self, key: str, fn: Callable[[], Any]) -> tuple[bool, Any]:
        """Run `fn` once per key and keep what it returns (a JSON value) with the key: (True, its
        result) when it ran, (False, the first run's result) on a repeat, whose result is None when the
        key was claimed without one (by `run_once`, or a version before this one). Same errors as
        `run_once`."""
        from aws_lambda_powertools.utilities.idempotency import idempotent_function

        results: list[Any] = []

        def once(claim: dict[str, str]) -> dict[str, Any]:
            results.append(fn())
            return {"key": claim["key"], "result": results[0]}

        guarded: Callable[..., Any] = idempotent_function(
            once, data_keyword_argument="claim", persistence_store=self._persistence, config=self._config
        )
        saved = guarded(claim={"key": key})
        if results:
            return True, results[0]
        return False, saved.get("result") if isinstance(saved, dict) else None
