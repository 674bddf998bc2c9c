"""``monitor``: on its schedule, refresh carbon data for every configured region. Never raises."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.config import ConfigError
from carbon_aware.runtime.monitor import Monitor
from carbon_aware.runtime.observability import logger, metrics, tracer
from carbon_aware.signals.secrets import SecretError
from carbon_aware.signals.settings import SettingsError

# The signals layer logs through the standard library: give it the handler's JSON format.
copy_config_to_registered_loggers(source_logger=logger, include={"carbon_aware"})


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Refresh what is due; returns the per-region summary or ``{"ok": false, "error"}``."""
    # The schedule must never see a failure: every error becomes a logged, reported result.
    try:
        # Typed here so that the bundle's import trace (scripts/build.py) ships the monitor.
        current: Monitor = wiring.monitor()
    except (ConfigError, SecretError, SettingsError, ValueError) as exc:
        return _failed(f"configuration: {exc}")
    except Exception as exc:
        return _crashed(exc)
    try:
        summary = current.run(_emit)
    except Exception as exc:
        return _crashed(exc)
    logger.info("refreshed", extra={k: v for k, v in summary.items() if k != "regions"})
    return {"ok": True, **summary}


def _emit(name: str, value: float, dimensions: dict[str, str]) -> None:
    unit = MetricUnit.NoUnit if name == "CarbonIntensity" else MetricUnit.Count
    if not dimensions:
        metrics.add_metric(name=name, unit=unit, value=value)
        return
    with single_metric(name=name, unit=unit, value=value, namespace=metrics.namespace) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def _crashed(exc: Exception) -> dict[str, Any]:
    logger.exception("monitor run failed")
    return _failed(f"{type(exc).__name__}: {exc}")


def _failed(error: str) -> dict[str, Any]:
    logger.error("monitor did not run", extra={"error": error})
    metrics.add_metric(name="MonitorFailures", unit=MetricUnit.Count, value=1)
    return {"ok": False, "error": error}
