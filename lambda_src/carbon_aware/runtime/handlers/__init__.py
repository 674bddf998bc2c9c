"""Lambda entry points: thin adapters from events to the runtime's core classes.

:data:`HANDLERS` is the one list of the module's functions: ``scripts/build.py`` builds one bundle
per entry (``dist/<arch>/<function>.zip``) holding what that handler module imports.
"""

HANDLERS: dict[str, str] = {
    "api": "carbon_aware.runtime.handlers.api",
    "completion": "carbon_aware.runtime.handlers.completion",
    "executor": "carbon_aware.runtime.handlers.executor",
    "exporter": "carbon_aware.runtime.handlers.exporter",
    "fleet_optimizer": "carbon_aware.runtime.handlers.fleet_optimizer",
    "intake": "carbon_aware.runtime.handlers.intake",
    "interruptions": "carbon_aware.runtime.handlers.interruptions",
    "migrations": "carbon_aware.runtime.handlers.migrations",
    "monitor": "carbon_aware.runtime.handlers.monitor",
    "scheduler": "carbon_aware.runtime.handlers.scheduler",
}
