"""An in-memory stand-in for the signals cache, for long simulations."""

from __future__ import annotations

from typing import Any

from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.signals.cache import CachedForecast
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.targets import partition_key


class MemoryCache:
    """Just what the refresh needs: refresh states, and the writes (counted)."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = {}
        self.forecasts: dict[str, list[CachedForecast]] = {}
        self.writes = 0

    def states(self, keys: Any) -> dict[str, dict[str, Any]]:
        return {k: self.state[k] for k in keys if k in self.state}

    def put_state(self, key: str, state: dict[str, Any], now: float) -> None:
        self.state[key] = dict(state)

    def put_observations(self, zone: str, signal: Signal, provenance: Provenance) -> int:
        self.writes += 1
        return signal.times.size

    def put_forecast(
        self, zone: str, signal_type: SignalType, signal: Signal, provenance: Provenance
    ) -> None:
        self.writes += 1
        key = partition_key(zone, signal_type)
        self.forecasts.setdefault(key, []).append(CachedForecast(signal, provenance))

    def observations(self, zone: str, signal_type: SignalType, start: float, end: float) -> None:
        return None
