"""The invocation's time, which no AWS call's retries may outlast.

botocore retries a throttled call with exponential backoff (the functions' clients: 6 retries, a
sleep of up to 1, 2, 4, 8, 16 and 20 s before them, 51 s for one call), whatever the function has
left: a few throttled calls ran a batch past the function's timeout, and Lambda ended it mid-record
(a notifier's publish made, not yet recorded as made, and sent again with the batch), the records
done before it returned to the queue too; a throttled reconciler run ended without its report. While
an invocation runs (`start`), a failing call whose next attempt could not end before the invocation's
deadline (less its reserve) is not tried again, nor an operation that keeps failing called again
(OutOfTimeError), and the lifecycle handler starts no record it could not end (`require`): SQS
delivers those messages again (the reconciler's next run tries again), as it does one whose call
was throttled past its retries. A call that answers is never held back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from warmpool.service.ports import OutOfTimeError

# Of the invocation's time, kept for what follows the last call (the batch's answer, the metrics).
END_MARGIN_SECONDS = 5.0
# What one attempt of a call is given, once its backoff is slept.
ATTEMPT_SECONDS = 3.0
# botocore's largest backoff before an attempt (its ExponentialBackoff: 1 s doubled, at most 20 s).
_MAX_BACKOFF_SECONDS = 20.0


class InvocationDeadline:
    """One per process: Lambda runs one invocation at a time in a container. Outside an invocation
    (the CLI, a test that calls no handler) it limits nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._at: float | None = None
        self._reserve = 0.0

    def start(self, context: Any, *, reserve: float = ATTEMPT_SECONDS) -> None:
        """The invocation's deadline, from its Lambda context: its remaining time less the margin.
        `reserve`: the seconds before it kept for the calls that end the work (a failed record's
        release of its idempotency claim, the reconciler's report): a failing call is not tried again,
        nor a service that keeps failing called again, within it."""
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._at = self.clock() + remaining() / 1000 - END_MARGIN_SECONDS if remaining else None
        self._reserve = reserve

    def end(self) -> None:
        self._at = None

    def left(self) -> float | None:
        """Seconds left before the deadline (None outside an invocation)."""
        return None if self._at is None else self._at - self.clock()

    def require(self, seconds: float, what: str, *, reserve: float = 0.0) -> None:
        """Raise OutOfTimeError unless `seconds` (and `reserve`) are left for `what`."""
        left = self.left()
        if left is not None and left - reserve < seconds:
            raise OutOfTimeError(
                f"{what} not started: {max(left, 0):.0f} s of the invocation left; it is tried again by "
                "the next delivery (or run)"
            )

    def watch(self, client: Any) -> Any:
        """`client`'s retries stop where the deadline would be passed; returns the client."""
        # botocore keeps the attempts a call may make as `total_max_attempts` (`max_attempts` + 1)
        max_attempts = int((client.meta.config.retries or {}).get("total_max_attempts", 3))
        failing: set[str] = set()  # the operations whose last attempt failed, asking for a retry

        def before_retry(
            response: tuple[Any, dict[str, Any]] | None = None,
            caught_exception: Exception | None = None,
            attempts: int = 1,
            operation: Any = None,
            **_: Any,
        ) -> None:
            if isinstance(caught_exception, OutOfTimeError):
                return  # not sent (`before_send`): nothing learnt of the service
            name = str(getattr(operation, "name", ""))
            if not self._retryable(response, caught_exception, attempts, operation):
                failing.discard(name)
                return
            failing.add(name)
            if attempts < max_attempts:
                self._before_retry(response, caught_exception, attempts, operation)

        def before_send(event_name: str = "", **_: Any) -> None:
            # Before the adaptive rate limiter's wait for a token (up to 2 s each, once throttled): an
            # operation that keeps failing is not called again when its attempt could not end before
            # the reserve. One that answers is always called: it takes a fraction of a second.
            name = event_name.rsplit(".", 1)[-1]
            if name in failing:
                self.require(ATTEMPT_SECONDS, f"{name} (failing so far)", reserve=self._reserve)

        client.meta.events.register("needs-retry", before_retry)
        client.meta.events.register_first("before-send", before_send)
        return client

    @staticmethod
    def _retryable(
        response: tuple[Any, dict[str, Any]] | None,
        caught_exception: Exception | None,
        attempts: int,
        operation: Any,
    ) -> bool:
        """Whether botocore's own conditions (throttling, 5xx, a lost connection) ask for a retry."""
        from botocore.retries import standard

        http, parsed = response if response is not None else (None, None)
        context = standard.RetryContext(
            attempt_number=attempts,
            operation_model=operation,
            parsed_response=parsed,
            http_response=http,
            caught_exception=caught_exception,
        )
        return bool(standard.StandardRetryConditions(max_attempts=attempts + 1).is_retryable(context))

    def _before_retry(
        self,
        response: tuple[Any, dict[str, Any]] | None,
        caught_exception: Exception | None,
        attempts: int,
        operation: Any,
    ) -> None:
        """Called after a failed attempt botocore will retry (its own retry handler, on a more specific
        event, runs first); a raise here ends the call instead of the sleep before the next attempt."""
        left = self.left()
        if left is None:
            return
        wait = min(2.0 ** (attempts - 1), _MAX_BACKOFF_SECONDS)
        if left - self._reserve >= wait + ATTEMPT_SECONDS:
            return
        parsed = response[1] if response is not None else {}
        code = parsed.get("Error", {}).get("Code") or type(caught_exception).__name__
        name = getattr(operation, "name", "the call")
        raise OutOfTimeError(
            f"{name} answered {code} and was not tried again: {max(left, 0):.0f} s of the invocation "
            "left, and its next try could end after the function's timeout; it is tried again by the next "
            "delivery (or run)",
            code=code,
        ) from caught_exception
