"""Carbon-aware placement, scheduling and accounting for AWS compute."""

__version__ = "0.1.0"
