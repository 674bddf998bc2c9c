"""``migrations``: on its schedule, propose migrations from the policy (the trigger pass, when
``auto`` is on) and then step every migration that is due (or only one named in the event:
``{"migration_id": ...}``). Never raises."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.config import ConfigError
from carbon_aware.runtime.handlers.fleet_optimizer import emit
from carbon_aware.runtime.migrations.orchestrator import Orchestrator

# Built lazily by wiring.migrations(): imported here so this function's bundle carries them.
from carbon_aware.runtime.migrations.strategies import (  # noqa: F401
    blue_green,
    checkpoint_restore,
    drain_and_shift,
    live,
)
from carbon_aware.runtime.migrations.triggers import Triggers  # noqa: F401
from carbon_aware.runtime.observability import logger, metrics, tracer

copy_config_to_registered_loggers(source_logger=logger, include={"carbon_aware"})


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Sweep: ``{"ok", "stepped", "failed", "errors", "states", "triggers"}`` (``triggers``:
    the pass's summary, None when it is off); one migration:
    ``{"ok", "migration"}``; ``{"ok": false, "error"}`` when not configured."""
    try:
        orchestrator = wiring.migrations(emit)
    except (ConfigError, ValueError) as exc:
        logger.error("migrations not configured", extra={"error": str(exc)})
        metrics.add_metric(name="MigrationStepErrors", unit=MetricUnit.Count, value=1)
        return {"ok": False, "error": f"configuration: {exc}"}
    now = wiring.clock().now()
    migration_id = event.get("migration_id") if isinstance(event, dict) else None
    if migration_id is not None:
        if not isinstance(migration_id, str) or not migration_id:
            return {"ok": False, "error": "migration_id must be a migration id"}
        try:
            m = orchestrator.run(migration_id, now)
        except Exception as exc:  # recorded on the migration; the sweep retries it
            logger.exception("migration step failed", extra={"migration_id": migration_id})
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": m is not None, "migration": m.to_dict() if m else None}
    proposed = propose(orchestrator, now)
    summary = orchestrator.sweep(now)
    logger.info("migrations stepped", extra=summary)
    ok = summary["failed"] == 0 and (proposed is None or proposed.get("failed") == 0)
    return {"ok": ok, **summary, "triggers": proposed}


def propose(orchestrator: Orchestrator, now: float) -> dict[str, Any] | None:
    """The trigger pass's summary (None when it is off); a pass that cannot run is counted."""
    try:
        triggers = wiring.migration_triggers(orchestrator, emit)
        if triggers is None:
            return None
        proposed = triggers.run(now)
    except Exception as exc:  # the sweep still runs
        logger.exception("migration trigger pass failed")
        metrics.add_metric(name="MigrationTriggerErrors", unit=MetricUnit.Count, value=1)
        return {"failed": 1, "error": f"{type(exc).__name__}: {exc}"}
    logger.info("migration triggers", extra=proposed)
    return proposed
