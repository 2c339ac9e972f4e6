"""A faithful emulator of SageMaker Training Managed Warm Pools on top of moto (tests, demo, CLI).

In-process::

    with mock_aws(), warm_pool_emulator() as emulator:
        control = LocalControl(emulator)
        sagemaker.create_training_job(...)          # InProgress, WarmPoolStatus InUse
        control.complete_job("job-1")               # Available for its keep-alive
        control.advance(3600)                        # expires: Terminated

As a server: `warmpool emulator --port 5000`, then boto3 with endpoint_url and `HttpControl`.
"""

from warmpool.emulator.control import EmulatorControl, EmulatorServer, HttpControl, LocalControl
from warmpool.emulator.core import EmulatorConfig, EmulatorError, WarmPoolEmulator
from warmpool.emulator.patch import active_emulator, install, uninstall, warm_pool_emulator

__all__ = [
    "EmulatorConfig",
    "EmulatorControl",
    "EmulatorError",
    "EmulatorServer",
    "HttpControl",
    "LocalControl",
    "WarmPoolEmulator",
    "active_emulator",
    "install",
    "uninstall",
    "warm_pool_emulator",
]
