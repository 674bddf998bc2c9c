"""Lambda entry points: thin adapters from events to the runtime's core classes."""

# Function -> handler module; each module's ``handler`` is the Lambda entry point.
HANDLERS: dict[str, str] = {
    "api": "carbon_aware.runtime.handlers.api",
    "monitor": "carbon_aware.runtime.handlers.monitor",
    "scheduler": "carbon_aware.runtime.handlers.scheduler",
    "executor": "carbon_aware.runtime.handlers.executor",
    "completion": "carbon_aware.runtime.handlers.completion",
}
HANDLERS["intake"] = "carbon_aware.runtime.handlers.intake"
