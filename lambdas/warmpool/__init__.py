"""warmpool: lifecycle manager for Amazon SageMaker Training Managed Warm Pools."""

__version__ = "0.1.0"
