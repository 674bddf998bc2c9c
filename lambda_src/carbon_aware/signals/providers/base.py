"""What every provider offers the fallback chain."""

from __future__ import annotations

import math
from typing import Any, Protocol

from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.signals.errors import BadResponse
from carbon_aware.signals.sanity import Cleaned
from carbon_aware.signals.targets import Target

HOUR = 3600.0


class Provider(Protocol):
    """A source of carbon-intensity signals for targets.

    ``live`` providers call a remote API (one request per method call, plus a login where the API
    needs one); estimators work from local data and never fail for lack of the network. Every
    returned :class:`Signal` has ``region == target.zone`` and ``source == name`` (or a more
    precise label such as ``static-factor``).
    """

    name: str
    live: bool

    def supports(self, target: Target) -> bool:
        """Whether this provider can answer for ``target`` at all (coverage, signal type)."""
        ...

    def latest(self, target: Target, now: float) -> Signal:
        """The most recent observations, ending at or after ``now``."""
        ...

    def forecast(self, target: Target, now: float, horizon: float) -> Signal:
        """A forecast from about ``now`` for ``horizon`` seconds."""
        ...

    def history(self, target: Target, start: float, end: float) -> Signal:
        """Observations on ``[start, end)``."""
        ...


def to_signal(
    name: str,
    target: Target,
    cleaned: Cleaned,
    *,
    step: float,
    signal_type: SignalType,
    estimated: bool = False,
) -> Signal:
    """A signal for ``target`` from cleaned points; the last one holds for ``step`` seconds."""
    return Signal.from_points(
        target.zone,
        cleaned.times,
        cleaned.values,
        end=cleaned.times[-1] + step,
        source=name,
        signal_type=signal_type,
        estimated=estimated,
    )


def field(body: object, name: str, kind: type, provider: str) -> Any:
    """``body[name]`` checked to be a ``kind``; :class:`BadResponse` naming the field otherwise."""
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, kind):
        raise BadResponse(provider, f"response field {name!r} missing or not a {kind.__name__}")
    return value


def chunks(start: float, end: float, size: float) -> list[tuple[float, float]]:
    """``[a, b)`` pieces of at most ``size`` seconds covering ``[start, end)``."""
    count = max(1, math.ceil((end - start) / size))
    return [(start + i * size, min(start + (i + 1) * size, end)) for i in range(count)]
