"""The local harness: the stack's resources on moto, and pumps that play the parts of Lambda's SQS
event-source mapping and of EventBridge Scheduler. Used by the integration tests, the demo and the
chaos replay; not shipped in the Lambda asset."""
