"""Apply the warm-pool emulator to moto's SageMaker responses, in-process and for moto's server.

moto dispatches every SageMaker action to a method of `SageMakerResponse`; the emulator replaces the
training-job methods for as long as it is installed (and adds UpdateTrainingJob and DeleteTrainingJob, which
moto lacks).
Installing is explicit and reversible; only one emulator can be installed at a time.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape
from moto.core.responses import ActionResult, BaseResponse
from moto.core.utils import get_service_model
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from warmpool.domain.clock import ManualClock
from warmpool.emulator.core import (
    SERVED_OPERATIONS,
    EmulatorConfig,
    EmulatorError,
    WarmPoolEmulator,
    validation_error,
)

_PATCHED = (
    "create_training_job",
    "describe_training_job",
    "list_training_jobs",
    "update_training_job",
    "stop_training_job",
    "delete_training_job",
    "describe_hyper_parameter_tuning_job",
    "list_hyper_parameter_tuning_jobs",
    "delete_hyper_parameter_tuning_job",
    "stop_hyper_parameter_tuning_job",
    "add_tags",
    "parse_parameters",
)


class _Installation:
    """Which emulator is installed, and moto's methods it replaced."""

    emulator: WarmPoolEmulator | None = None
    originals: dict[str, Any] = {}  # noqa: RUF012 - one installation per process, by design


def _original(name: str, self: SageMakerResponse) -> Response:
    result: Response = _Installation.originals[name](self)
    return result


Response = ActionResult | tuple[str, dict[str, Any]]


def active_emulator() -> WarmPoolEmulator:
    if _Installation.emulator is None:
        raise RuntimeError("the warm-pool emulator is not installed: use `with warm_pool_emulator(): ...`")
    return _Installation.emulator


def _error(exc: EmulatorError) -> tuple[str, dict[str, Any]]:
    body = json.dumps({"__type": exc.code, "message": exc.message})
    return body, {"status": exc.status, "x-amzn-ErrorType": exc.code}


def _guarded(
    operation: str, fn: Callable[[SageMakerResponse, WarmPoolEmulator], Response]
) -> Callable[..., Response]:
    def method(self: SageMakerResponse) -> Response:
        emulator = active_emulator()
        try:
            emulator.check_fault(operation)
            _check_request(self, operation)
            return fn(self, emulator)
        except EmulatorError as exc:
            return _error(exc)

    method.__name__ = fn.__name__
    return method


_UNREADABLE = "warmpool_unreadable"  # set on a request moto could not parse: why


def _parse_parameters(self: SageMakerResponse, request: Any) -> None:
    """moto's parsing of the request, which for a member of the wrong type (a keep-alive of "abc") raises
    a Python error, answered as an HTML 500 page or raised into the test. For the operations the emulator
    serves, the error is kept: `_check_request` answers it as SageMaker does, 400 naming the member."""
    try:
        (_Installation.originals.get("parse_parameters") or BaseResponse.parse_parameters)(self, request)
    except (ValueError, TypeError) as exc:
        if self._get_action() not in _OPERATIONS:
            raise
        self.params = {}
        setattr(self, _UNREADABLE, str(exc))


def _check_request(self: SageMakerResponse, operation: str) -> None:
    """Refuse a request that breaks the API model's member types or required members, as SageMaker does
    before acting: 400 ValidationException naming each member. botocore checks the same before sending,
    but a client with parameter_validation off, another SDK or curl reach the service with them."""
    try:
        body = _request(self)
    except (ValueError, TypeError):
        raise EmulatorError("ValidationException", "the request body is not a JSON object") from None
    shape = get_service_model("sagemaker").operation_model(operation).input_shape
    problems = _problems(shape, body, "") if shape is not None else []
    unreadable = getattr(self, _UNREADABLE, None)
    if not problems and unreadable:
        problems = [f"the request could not be read: {unreadable}"]
    if problems:
        raise validation_error(problems)


_JSON_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "string": ("a string", lambda v: isinstance(v, str)),
    "boolean": ("a boolean", lambda v: isinstance(v, bool)),
    "integer": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "long": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "double": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "timestamp": ("a timestamp", lambda v: isinstance(v, int | float | str) and not isinstance(v, bool)),
}


def _problems(shape: Shape, value: Any, path: str) -> list[str]:
    """The members of `value` that break `shape`, in SageMaker's words ("Value 'x' at 'a.b' failed to
    satisfy constraint: ..."; list items are 'a.1.member'). A string's length, pattern and enum too:
    botocore checks none of them before sending, so `my_job` as a training job name, or `ml.g5.2xlarg` as
    an instance type, reached the emulator, which took it, where SageMaker refuses it. Number ranges are
    the handlers' own (the keep-alive's maximum is the emulator's setting, not the model's)."""
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return [_violation(value, path, "be a structure")]
        missing = [_member_path(path, name) for name in shape.required_members if value.get(name) is None]
        found = [_violation(None, at, "not be null") for at in missing]
        for name, member in value.items():
            if name in shape.members and member is not None:
                found += _problems(shape.members[name], member, _member_path(path, name))
        return found
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [_violation(value, path, "be a list")]
        # the list's own length, as SageMaker checks it: 51 tags on a job were taken
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        found = []
        if low is not None and len(value) < low:
            found.append(_violation(value, path, f"have length greater than or equal to {low}"))
        if high is not None and len(value) > high:
            found.append(_violation(value, path, f"have length less than or equal to {high}"))
        items = [(f"{path}.{i}.member", item) for i, item in enumerate(value, 1)]
        return found + [p for at, item in items for p in _problems(shape.member, item, at)]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [_violation(value, path, "be a map")]
        entries = [(f"{path}.{key}", item) for key, item in value.items()]
        return [p for at, item in entries for p in _problems(shape.value, item, at)]
    kind, valid = _JSON_TYPES.get(shape.type_name, ("a JSON value", lambda _: True))
    if not valid(value):
        return [_violation(value, path, f"be {kind}")]
    return _string_problems(shape, value, path) if shape.type_name == "string" else []


def _string_problems(shape: Shape, value: str, path: str) -> list[str]:
    """A string's enum, length and pattern as the model states them, in SageMaker's words. A pattern
    with Java's Unicode categories (`\\p{L}` in tag keys and values), which Python's `re` cannot read, is
    checked character by character (`_pattern`); one neither can read is not checked: better to take a
    request SageMaker might refuse than to refuse one it takes. A tag key may not begin with `aws:`."""
    if shape.enum:
        if value in shape.enum:
            return []
        return [_violation(value, path, f"satisfy enum value set: [{', '.join(shape.enum)}]")]
    found = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        found.append(_violation(value, path, f"have length greater than or equal to {low}"))
    if high is not None and len(value) > high:
        found.append(_violation(value, path, f"have length less than or equal to {high}"))
    text = shape.metadata.get("pattern")
    matches = _pattern(text)
    if text is not None and matches is not None and not matches(value):
        shown = text if text.startswith("^") else f"^{text}"
        shown = shown if shown.endswith("$") or not _CATEGORY.search(text) else f"{shown}$"
        found.append(_violation(value, path, f"satisfy regular expression pattern: {shown}"))
    if shape.name == "TagKey" and value[:4].lower() == "aws:":
        # AWS keeps the prefix for its own tags: SageMaker refuses it, in any case (AWS:, Aws:)
        found.append(_violation(value, path, "not begin with aws:, the prefix AWS reserves for its own tags"))
    return found


# A Unicode category in a pattern, Java's way (`\p{L}`: letters), which Python's `re` cannot read
_CATEGORY = re.compile(r"\\p\{([A-Z][a-z]?)\}")


@functools.cache
def _pattern(text: str | None) -> Callable[[str], bool] | None:
    """Whether a value matches the model's pattern, whole, as SageMaker matches it, `.` taking line
    breaks too (not to refuse a multi-line hyperparameter); None when there is none or it cannot be
    read. A pattern Python's `re` cannot read for its Unicode categories, `([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)`
    (tag keys and values), one class of them and of characters repeated, is read character by
    character: a category by `unicodedata`, the rest by `re`."""
    if text is None:
        return None
    try:
        compiled = re.compile(text, re.DOTALL)
    except re.error:
        pass
    else:
        return lambda value: compiled.fullmatch(value) is not None
    repeated = re.fullmatch(r"\^?\(?\[([^\]]*)\]\*\)?\$?", text)
    if repeated is None:
        return None
    categories = tuple(_CATEGORY.findall(repeated.group(1)))
    rest = _CATEGORY.sub("", repeated.group(1))
    try:
        others = re.compile(f"[{rest}]") if rest else None
    except re.error:
        return None

    def matches(value: str) -> bool:
        return all(
            (categories and unicodedata.category(c).startswith(categories))
            or (others is not None and others.fullmatch(c) is not None)
            for c in value
        )

    return matches


def _violation(value: Any, path: str, rule: str) -> str:
    shown = "null" if value is None else f"'{str(value).lower() if isinstance(value, bool) else value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: Member must {rule}"


def _member_path(path: str, name: str) -> str:
    member = name[:1].lower() + name[1:]
    return f"{path}.{member}" if path else member


def _request(self: SageMakerResponse) -> dict[str, Any]:
    body = self.body
    if isinstance(body, bytes):
        body = body.decode()
    return dict(json.loads(body or "{}"))


def create_training_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    request = _request(self)
    emulator.validate_create(self.current_account, self.region, request)
    response = _original("create_training_job", self)
    result = response.result if isinstance(response, ActionResult) else None
    arn = str(result["TrainingJobArn"]) if isinstance(result, dict) else ""
    emulator.register_job(self.current_account, self.region, arn, request)
    return response


def describe_training_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    name = self._get_param("TrainingJobName")
    response = _original("describe_training_job", self)  # moto's own not-found error if missing
    job = emulator.jobs.get((self.current_account, self.region, name))
    if job is None or not isinstance(response, ActionResult):
        return response
    base = response.result
    assert isinstance(base, dict)
    return ActionResult(emulator.describe(job, base))


def list_training_jobs(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    return ActionResult(emulator.list_jobs(self.current_account, self.region, _request(self)))


def update_training_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    request = _request(self)  # its members' types and required members are checked (_check_request)
    name = request["TrainingJobName"]
    resource = request.get("ResourceConfig")
    if resource is None:
        # Profiler and remote-debug updates are accepted and have no warm-pool effect.
        job = emulator.jobs.get((self.current_account, self.region, name))
        if job is None:
            raise EmulatorError("ResourceNotFound", f"Training job {name} does not exist.")
        return ActionResult({"TrainingJobArn": job.arn})
    arn = emulator.update_keep_alive(
        self.current_account, self.region, str(name), resource["KeepAlivePeriodInSeconds"]
    )
    return ActionResult({"TrainingJobArn": arn})


def stop_training_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    name = self._get_param("TrainingJobName")
    job = emulator.jobs.get((self.current_account, self.region, name))
    if job is None:
        raise EmulatorError("ResourceNotFound", f"Training job {name} does not exist.")
    emulator.stop_job(job.name, job.account_id, job.region)
    return ActionResult({})


def delete_training_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    name = str(self._get_param("TrainingJobName"))
    emulator.delete_job(self.current_account, self.region, name)
    sagemaker_backends[self.current_account][self.region].training_jobs.pop(name, None)
    return ActionResult({})


def describe_hyper_parameter_tuning_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    name = self._get_param("HyperParameterTuningJobName")
    tuning = emulator.tuning_jobs.get((self.current_account, self.region, name))
    if tuning is None:
        return _original("describe_hyper_parameter_tuning_job", self)
    return ActionResult(emulator.describe_tuning_job(tuning))


def list_hyper_parameter_tuning_jobs(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    return ActionResult(emulator.list_tuning_jobs(self.current_account, self.region, _request(self)))


def delete_hyper_parameter_tuning_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    name = str(self._get_param("HyperParameterTuningJobName"))
    if not emulator.delete_tuning_job(self.current_account, self.region, name):
        return _original("delete_hyper_parameter_tuning_job", self)  # moto's own, or its not-found
    return ActionResult({})


def add_tags(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    # moto's own, once `_check_request` has refused what SageMaker refuses (a key beginning aws:, a
    # character outside the tag pattern, 51 tags): moto took them all
    return _original("add_tags", self)


def stop_hyper_parameter_tuning_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    name = str(self._get_param("HyperParameterTuningJobName"))
    if (self.current_account, self.region, name) not in emulator.tuning_jobs:
        raise EmulatorError("ResourceNotFound", f"Hyperparameter tuning job {name} does not exist.")
    emulator.stop_tuning_job(name, self.current_account, self.region)
    return ActionResult({})


_IMPLEMENTATIONS: dict[str, tuple[str, Callable[[SageMakerResponse, WarmPoolEmulator], Response]]] = {
    "create_training_job": ("CreateTrainingJob", create_training_job),
    "describe_training_job": ("DescribeTrainingJob", describe_training_job),
    "list_training_jobs": ("ListTrainingJobs", list_training_jobs),
    "update_training_job": ("UpdateTrainingJob", update_training_job),
    "stop_training_job": ("StopTrainingJob", stop_training_job),
    "delete_training_job": ("DeleteTrainingJob", delete_training_job),
    "describe_hyper_parameter_tuning_job": (
        "DescribeHyperParameterTuningJob",
        describe_hyper_parameter_tuning_job,
    ),
    "list_hyper_parameter_tuning_jobs": (
        "ListHyperParameterTuningJobs",
        list_hyper_parameter_tuning_jobs,
    ),
    "delete_hyper_parameter_tuning_job": (
        "DeleteHyperParameterTuningJob",
        delete_hyper_parameter_tuning_job,
    ),
    "stop_hyper_parameter_tuning_job": (
        "StopHyperParameterTuningJob",
        stop_hyper_parameter_tuning_job,
    ),
    "add_tags": ("AddTags", add_tags),
}
_OPERATIONS = frozenset(operation for operation, _ in _IMPLEMENTATIONS.values())
if frozenset(SERVED_OPERATIONS) != _OPERATIONS:  # inject_faults refuses the operations not listed there
    raise RuntimeError(f"SERVED_OPERATIONS must list the operations patched: {sorted(_OPERATIONS)}")


def install(emulator: WarmPoolEmulator) -> None:
    if _Installation.emulator is not None:
        raise RuntimeError("a warm-pool emulator is already installed; uninstall it first")
    for name in _PATCHED:
        _Installation.originals[name] = SageMakerResponse.__dict__.get(name)
        if name == "parse_parameters":
            setattr(SageMakerResponse, name, _parse_parameters)
            continue
        operation, fn = _IMPLEMENTATIONS[name]
        setattr(SageMakerResponse, name, _guarded(operation, fn))
    _Installation.emulator = emulator


def uninstall() -> None:
    for name, original in _Installation.originals.items():
        if original is None:
            delattr(SageMakerResponse, name)
        else:
            setattr(SageMakerResponse, name, original)
    _Installation.originals.clear()
    _Installation.emulator = None


@contextmanager
def warm_pool_emulator(
    config: EmulatorConfig | None = None, clock: ManualClock | None = None
) -> Iterator[WarmPoolEmulator]:
    """Apply the emulator for the duration of the block (inside or around `mock_aws`)."""
    emulator = WarmPoolEmulator(config, clock)
    install(emulator)
    try:
        yield emulator
    finally:
        uninstall()


def create_training_job_direct(account_id: str, region: str, request: dict[str, Any]) -> str:
    """Create a training job without an HTTP round trip (used for tuning-job trials)."""
    emulator = active_emulator()
    emulator.validate_create(account_id, region, request)
    backend = sagemaker_backends[account_id][region]
    resource = request.get("ResourceConfig") or {}
    job = backend.create_training_job(
        training_job_name=request["TrainingJobName"],
        hyper_parameters=request.get("HyperParameters") or {},
        algorithm_specification=dict(request.get("AlgorithmSpecification") or {}),
        role_arn=request["RoleArn"],
        input_data_config=request.get("InputDataConfig") or [],
        output_data_config=request.get("OutputDataConfig")
        or {"S3OutputPath": "s3://warmpool-emulator/output"},
        resource_config=resource,
        vpc_config=request.get("VpcConfig") or {},
        stopping_condition=request.get("StoppingCondition") or {"MaxRuntimeInSeconds": 86400},
        tags=request.get("Tags") or [],
        enable_network_isolation=bool(request.get("EnableNetworkIsolation", False)),
        enable_inter_container_traffic_encryption=bool(
            request.get("EnableInterContainerTrafficEncryption", False)
        ),
        enable_managed_spot_training=bool(request.get("EnableManagedSpotTraining", False)),
        checkpoint_config=request.get("CheckpointConfig") or {},
        debug_hook_config=request.get("DebugHookConfig") or {},
        debug_rule_configurations=request.get("DebugRuleConfigurations") or [],
        tensor_board_output_config=request.get("TensorBoardOutputConfig") or {},
        experiment_config=request.get("ExperimentConfig") or {},
    )
    emulator.register_job(account_id, region, job.arn, request)
    return str(job.arn)
