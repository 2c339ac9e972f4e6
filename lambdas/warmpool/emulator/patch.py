"""Apply the warm-pool emulator to moto's SageMaker responses, in-process and for moto's server.

moto dispatches every SageMaker action to a method of `SageMakerResponse`; the emulator replaces the
training-job methods for as long as it is installed (and adds UpdateTrainingJob, which moto lacks).
Installing is explicit and reversible; only one emulator can be installed at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.responses import ActionResult
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from warmpool.domain.clock import ManualClock
from warmpool.emulator.core import EmulatorConfig, EmulatorError, WarmPoolEmulator

_PATCHED = (
    "create_training_job",
    "describe_training_job",
    "list_training_jobs",
    "update_training_job",
    "stop_training_job",
    "describe_hyper_parameter_tuning_job",
    "delete_hyper_parameter_tuning_job",
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
            return fn(self, emulator)
        except EmulatorError as exc:
            return _error(exc)

    method.__name__ = fn.__name__
    return method


def _request(self: SageMakerResponse) -> dict[str, Any]:
    body = self.body
    if isinstance(body, bytes):
        body = body.decode()
    return dict(json.loads(body or "{}"))


def create_training_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    request = _request(self)
    emulator.validate_create(request)
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
    request = _request(self)
    name = request.get("TrainingJobName")
    if not name:
        raise EmulatorError("ValidationException", "TrainingJobName is required")
    resource = request.get("ResourceConfig") or {}
    if "KeepAlivePeriodInSeconds" not in resource:
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


def describe_hyper_parameter_tuning_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    name = self._get_param("HyperParameterTuningJobName")
    tuning = emulator.tuning_jobs.get((self.current_account, self.region, name))
    if tuning is None:
        return _original("describe_hyper_parameter_tuning_job", self)
    return ActionResult(emulator.describe_tuning_job(tuning))


def delete_hyper_parameter_tuning_job(self: SageMakerResponse, emulator: WarmPoolEmulator) -> Response:
    name = str(self._get_param("HyperParameterTuningJobName"))
    if not emulator.delete_tuning_job(self.current_account, self.region, name):
        return _original("delete_hyper_parameter_tuning_job", self)  # moto's own, or its not-found
    return ActionResult({})


_IMPLEMENTATIONS: dict[str, tuple[str, Callable[[SageMakerResponse, WarmPoolEmulator], Response]]] = {
    "create_training_job": ("CreateTrainingJob", create_training_job),
    "describe_training_job": ("DescribeTrainingJob", describe_training_job),
    "list_training_jobs": ("ListTrainingJobs", list_training_jobs),
    "update_training_job": ("UpdateTrainingJob", update_training_job),
    "stop_training_job": ("StopTrainingJob", stop_training_job),
    "describe_hyper_parameter_tuning_job": (
        "DescribeHyperParameterTuningJob",
        describe_hyper_parameter_tuning_job,
    ),
    "delete_hyper_parameter_tuning_job": (
        "DeleteHyperParameterTuningJob",
        delete_hyper_parameter_tuning_job,
    ),
}


def install(emulator: WarmPoolEmulator) -> None:
    if _Installation.emulator is not None:
        raise RuntimeError("a warm-pool emulator is already installed; uninstall it first")
    for name in _PATCHED:
        _Installation.originals[name] = SageMakerResponse.__dict__.get(name)
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
    emulator.validate_create(request)
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
