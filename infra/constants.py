"""Every name the stack gives, in one place."""

SERVICE = "warmpool"
METRICS_NAMESPACE = "WarmPool"
LAMBDA_SOURCE_DIR = "lambdas"
LAMBDA_HANDLERS = {
    "lifecycle": "warmpool.handlers.lifecycle.handler",
    "reconciler": "warmpool.handlers.reconciler.handler",
    "notifier": "warmpool.handlers.notifier.handler",
    "slack_interactive": "warmpool.handlers.slack_interactive.handler",
    "slack_presses": "warmpool.handlers.slack_interactive.worker",
}
# Shipped in the asset besides `warmpool`: not in the Lambda runtime nor in the Powertools layer.
BUNDLED_PACKAGES = ("slack_sdk", "tzdata")
# Development-only parts of the package, left out of the asset.
ASSET_EXCLUDES = ("emulator", "cli", "simulator", "local", "demo")
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/{arch}/{python}/latest"
TRAINING_DETAIL_TYPE = "SageMaker Training Job State Change"
TUNING_DETAIL_TYPE = "SageMaker HyperParameter Tuning Job State Change"
MAX_RECEIVE_COUNT = 5
# How long a DLQ keeps a message (SQS's most): the notifier remembers a copy sent for longer
# (`warmpool.handlers.notifier.SENT_REMEMBERED_SECONDS`), so a redrive never sends it twice.
DLQ_RETENTION_DAYS = 14
STATUS_INDEX = "by_status"
MATCH_INDEX = "by_match"
TEAM_INDEX = "by_team"
TYPE_INDEX = "by_type"
# The engine's functions: the lifecycle function takes SQS batches of this size (each event of a batch
# has about a tenth of the timeout), the reconciler runs on a schedule (`make bench` measures both).
LIFECYCLE_TIMEOUT_SECONDS = 60
LIFECYCLE_BATCH_SIZE = 10
RECONCILER_TIMEOUT_SECONDS = 300
# The Slack endpoint answers within Slack's 3 s; the worker it queues a press for has time to apply it
# and to post the outcome with retries (docs/adr/0010).
SLACK_ENDPOINT_TIMEOUT_SECONDS = 10
SLACK_PRESSES_TIMEOUT_SECONDS = 30
