"""One control API for the emulator, in-process (`LocalControl`) and over HTTP (`HttpControl`).

Tests, the demo, the chaos replay and the CLI drive both modes with the same calls. Over HTTP the
server answers `POST /_warmpool/<method>` with a JSON object of keyword arguments.
"""

from __future__ import annotations

import inspect
import json
import math
import typing
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime
from threading import Event, Thread
from typing import Any, Protocol

from werkzeug.serving import BaseWSGIServer, make_server

from warmpool.emulator.core import EmulatorError, FailureKind, WarmPoolEmulator
from warmpool.emulator.patch import create_training_job_direct

CONTROL_PREFIX = "/_warmpool/"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"


class EmulatorControl(Protocol):
    def now(self) -> datetime: ...
    def advance(self, seconds: float) -> datetime: ...
    def complete_job(self, name: str) -> None: ...
    def fail_job(self, name: str, kind: FailureKind = "algorithm", reason: str | None = None) -> None: ...
    def stop_job(self, name: str) -> None: ...
    def run_for(self, name: str, seconds: float) -> None: ...
    def set_quota(self, instance_type: str, instances: int) -> None: ...
    def inject_faults(
        self,
        operation: str,
        code: str = "ThrottlingException",
        *,
        count: int | None = None,
        probability: float = 0.0,
    ) -> None: ...
    def clear_faults(self) -> None: ...
    def start_tuning_job(
        self, name: str, training_requests: list[dict[str, Any]], max_parallel: int | None = None
    ) -> str: ...
    def complete_tuning_job(self, name: str, status: str = "Completed") -> None: ...
    def events(self) -> list[dict[str, Any]]: ...
    def update_calls(self) -> list[dict[str, Any]]: ...


class LocalControl:
    """In-process control of an installed emulator, in one account and region (like a boto3 client):
    jobs, tuning jobs and quotas are per account and region, and a job's name only unique in one."""

    def __init__(
        self, emulator: WarmPoolEmulator, account_id: str = DEFAULT_ACCOUNT, region: str = DEFAULT_REGION
    ) -> None:
        self.emulator = emulator
        self.account_id = account_id
        self.region = region

    def now(self) -> datetime:
        return self.emulator.now()

    def advance(self, seconds: float) -> datetime:
        return self.emulator.advance(seconds)

    def scoped(self, account_id: str | None = None, region: str | None = None) -> LocalControl:
        """This control in another account or region (each left out stays this control's)."""
        return LocalControl(self.emulator, account_id or self.account_id, region or self.region)

    def complete_job(self, name: str) -> None:
        self.emulator.complete_job(name, self.account_id, self.region)

    def fail_job(self, name: str, kind: FailureKind = "algorithm", reason: str | None = None) -> None:
        self.emulator.fail_job(name, kind, reason, self.account_id, self.region)

    def stop_job(self, name: str) -> None:
        self.emulator.stop_job(name, self.account_id, self.region)

    def run_for(self, name: str, seconds: float) -> None:
        self.emulator.run_for(name, seconds, self.account_id, self.region)

    def set_quota(self, instance_type: str, instances: int) -> None:
        self.emulator.set_quota(instance_type, instances, self.account_id, self.region)

    def inject_faults(
        self,
        operation: str,
        code: str = "ThrottlingException",
        *,
        count: int | None = None,
        probability: float = 0.0,
    ) -> None:
        self.emulator.inject_faults(operation, code, count=count, probability=probability)

    def clear_faults(self) -> None:
        self.emulator.clear_faults()

    def start_tuning_job(
        self, name: str, training_requests: list[dict[str, Any]], max_parallel: int | None = None
    ) -> str:
        tuning = self.emulator.start_tuning_job(
            self.account_id,
            self.region,
            name,
            training_requests,
            lambda request: create_training_job_direct(self.account_id, self.region, request),
            max_parallel=max_parallel,
        )
        return tuning.arn

    def complete_tuning_job(self, name: str, status: str = "Completed") -> None:
        self.emulator.complete_tuning_job(name, status, self.account_id, self.region)

    def events(self) -> list[dict[str, Any]]:
        return json.loads(json.dumps(self.emulator.events, default=str))  # type: ignore[no-any-return]

    def update_calls(self) -> list[dict[str, Any]]:
        return [{**c, "at": c["at"].isoformat()} for c in self.emulator.update_calls]


_METHODS: tuple[str, ...] = (
    "now",
    "advance",
    "complete_job",
    "fail_job",
    "stop_job",
    "run_for",
    "set_quota",
    "inject_faults",
    "clear_faults",
    "start_tuning_job",
    "complete_tuning_job",
    "events",
    "update_calls",
)
# The methods acting on one account and region's jobs or quotas: over HTTP, their bodies may also name
# `account_id` and `region` (each defaults to the server's).
_SCOPED: frozenset[str] = frozenset(
    {
        "complete_job",
        "fail_job",
        "stop_job",
        "run_for",
        "set_quota",
        "start_tuning_job",
        "complete_tuning_job",
    }
)
_SCOPE = ("account_id", "region")


class HttpControl:
    """Control of an emulator running in `warmpool emulator` (or `EmulatorServer`) over HTTP, in one
    account and region (by default the server's, 123456789012 and us-east-1)."""

    def __init__(
        self,
        endpoint_url: str,
        timeout: float = 10.0,
        account_id: str | None = None,
        region: str | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout = timeout
        scope = {"account_id": account_id, "region": region}
        self.scope = {name: value for name, value in scope.items() if value is not None}

    def _call(self, method: str, **kwargs: Any) -> Any:
        if method in _SCOPED:
            kwargs.update(self.scope)
        request = urllib.request.Request(
            f"{self.endpoint_url}{CONTROL_PREFIX}{method}",
            data=json.dumps(kwargs).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            payload = json.loads(exc.read() or b"{}")
            raise EmulatorError(
                payload.get("code", "EmulatorError"), payload.get("message", str(exc)), exc.code
            ) from None

    def scoped(self, account_id: str | None = None, region: str | None = None) -> HttpControl:
        """This control in another account or region (each left out stays this control's), as
        `LocalControl.scoped`: docs/emulator.md gives it for both controls, and HttpControl had none."""
        return HttpControl(
            self.endpoint_url,
            self.timeout,
            account_id or self.scope.get("account_id"),
            region or self.scope.get("region"),
        )

    def now(self) -> datetime:
        return datetime.fromisoformat(self._call("now"))

    def advance(self, seconds: float) -> datetime:
        return datetime.fromisoformat(self._call("advance", seconds=seconds))

    def complete_job(self, name: str) -> None:
        self._call("complete_job", name=name)

    def fail_job(self, name: str, kind: FailureKind = "algorithm", reason: str | None = None) -> None:
        self._call("fail_job", name=name, kind=kind, reason=reason)

    def stop_job(self, name: str) -> None:
        self._call("stop_job", name=name)

    def run_for(self, name: str, seconds: float) -> None:
        self._call("run_for", name=name, seconds=seconds)

    def set_quota(self, instance_type: str, instances: int) -> None:
        self._call("set_quota", instance_type=instance_type, instances=instances)

    def inject_faults(
        self,
        operation: str,
        code: str = "ThrottlingException",
        *,
        count: int | None = None,
        probability: float = 0.0,
    ) -> None:
        self._call("inject_faults", operation=operation, code=code, count=count, probability=probability)

    def clear_faults(self) -> None:
        self._call("clear_faults")

    def start_tuning_job(
        self, name: str, training_requests: list[dict[str, Any]], max_parallel: int | None = None
    ) -> str:
        return str(
            self._call(
                "start_tuning_job", name=name, training_requests=training_requests, max_parallel=max_parallel
            )
        )

    def complete_tuning_job(self, name: str, status: str = "Completed") -> None:
        self._call("complete_tuning_job", name=name, status=status)

    def events(self) -> list[dict[str, Any]]:
        return list(self._call("events"))

    def update_calls(self) -> list[dict[str, Any]]:
        return list(self._call("update_calls"))


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def control_middleware(app: WsgiApp, control: LocalControl) -> WsgiApp:
    """Serve the control API under /_warmpool/ and pass everything else to moto."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(CONTROL_PREFIX):
            return app(environ, start_response)
        method = path.removeprefix(CONTROL_PREFIX)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        status = "200 OK"
        try:
            if method not in _METHODS:
                raise EmulatorError(
                    "UnknownOperation", f"no control method {method!r}; use one of {list(_METHODS)}", 404
                )
            kwargs = _arguments(method, raw)
            scope = {name: kwargs.pop(name) for name in _SCOPE if name in kwargs}
            result = getattr(control.scoped(**scope) if scope else control, method)(**kwargs)
            body = json.dumps(result.isoformat() if isinstance(result, datetime) else result, default=str)
        except EmulatorError as exc:
            status = f"{exc.status} Error"
            body = json.dumps({"code": exc.code, "message": exc.message})
        except (TypeError, ValueError) as exc:
            status = "400 Bad Request"
            body = json.dumps({"code": "BadRequest", "message": str(exc)})
        start_response(status, [("Content-Type", "application/json")])
        return [body.encode()]

    return wrapped


class EmulatorServer:
    """moto's server with the warm-pool emulator and its control API, on a loopback port."""

    def __init__(
        self,
        emulator: WarmPoolEmulator,
        host: str = "127.0.0.1",
        port: int = 0,
        account_id: str = DEFAULT_ACCOUNT,
        region: str = DEFAULT_REGION,
        *,
        quiet: bool = False,
    ) -> None:
        self.quiet = quiet  # no access log line per request (the demo prints its own timeline)
        self.emulator = emulator
        self.control = LocalControl(emulator, account_id, region)
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: Thread | None = None
        self._ready = Event()

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        class QuietHandler(MotoRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                return None

        handler = QuietHandler if self.quiet else MotoRequestHandler
        app = control_middleware(DomainDispatcherApplication(create_backend_app), self.control)
        self._server = make_server(self._host, self._port, app, threaded=True, request_handler=handler)
        self._thread = Thread(target=self._server.serve_forever, daemon=True, name="warmpool-emulator")
        self._thread.start()
        return self.endpoint_url

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None


_TYPES: dict[Any, tuple[str, Callable[[Any], bool]]] = {
    # JSON as Python reads it takes NaN and Infinity: neither is a number of seconds
    float: (
        "a number",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    ),
    int: ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}


def _arguments(method: str, raw: bytes) -> dict[str, Any]:
    """A control call's JSON body as keyword arguments, checked against `LocalControl`'s signature:
    a bad body is a 400 naming the argument and what it wants, not a Python error."""
    signature = inspect.signature(getattr(LocalControl, method))
    hints = typing.get_type_hints(getattr(LocalControl, method))
    wanted = {
        name: _TYPES.get(hints.get(name), ("a JSON value", lambda _: True))
        for name in signature.parameters
        if name != "self"
    }
    if method in _SCOPED:
        wanted.update(dict.fromkeys(_SCOPE, _TYPES[str]))
    usage = ", ".join(f"{name} ({kind})" for name, (kind, _) in wanted.items()) or "none"
    try:
        kwargs = json.loads(raw or b"{}")
    except ValueError:
        kwargs = None
    if not isinstance(kwargs, dict):
        raise EmulatorError(
            "BadRequest", f"the body of {method} must be a JSON object of its arguments: {usage}", 400
        )
    for name, value in kwargs.items():
        if name not in wanted:
            raise EmulatorError(
                "BadRequest", f"{method} takes no argument {name!r}; its arguments: {usage}", 400
            )
        kind, valid = wanted[name]
        if value is not None and not valid(value):
            raise EmulatorError("BadRequest", f"{method}: {name} must be {kind}, got {value!r}", 400)
    missing = [
        name
        for name, parameter in signature.parameters.items()
        if name != "self" and parameter.default is inspect.Parameter.empty and name not in kwargs
    ]
    if missing:
        raise EmulatorError("BadRequest", f"{method} needs {', '.join(missing)}; its arguments: {usage}", 400)
    return kwargs
