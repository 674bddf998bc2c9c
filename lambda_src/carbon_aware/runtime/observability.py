"""Logger, EMF metrics and a swappable tracer shared by every handler.

Powertools' Tracer is built on aws-xray-sdk, which is in maintenance mode, so tracing is optional:
with ``aws_xray_sdk`` importable and tracing not disabled (``POWERTOOLS_TRACE_DISABLED``), handlers
get Powertools' Tracer; otherwise a no-op with the same decorators. Swapping in another tracer
(e.g. OpenTelemetry) means changing only :func:`make_tracer`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger, Metrics

SERVICE = "carbon-aware"
NAMESPACE = "CarbonAware"

F = TypeVar("F", bound=Callable[..., Any])


class TracerLike(Protocol):
    """The tracer surface the handlers use."""

    def capture_lambda_handler(self, handler: F) -> F: ...

    def capture_method(self, method: F) -> F: ...


class NoopTracer:
    """Tracing switched off: decorators return the function unchanged."""

    def capture_lambda_handler(self, handler: F) -> F:
        """Return ``handler`` unchanged."""
        return handler

    def capture_method(self, method: F) -> F:
        """Return ``method`` unchanged."""
        return method


def make_tracer() -> TracerLike:
    """Powertools' X-Ray tracer when available and enabled, else :class:`NoopTracer`."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in ("1", "true")
    if disabled or importlib.util.find_spec("aws_xray_sdk") is None:
        return NoopTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))


logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", NAMESPACE))
tracer = make_tracer()
