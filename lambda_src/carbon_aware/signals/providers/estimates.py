"""Local estimators, the chain's last links: they never call the network and are always flagged.

- ``history``: the engine's history forecaster over our own cached observations of the zone, with
  the other configured zones' observations as candidate peers (neighbouring grids' recent
  deviations).
- ``profile``: the built-in regional profile (or the catalog's static factor), ``average`` only.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.signals.cache import DEFAULT_OBSERVATION_TTL
from carbon_aware.signals.errors import NoData
from carbon_aware.signals.profiles import profile_signal
from carbon_aware.signals.providers.base import HOUR
from carbon_aware.signals.targets import Target

REUSE_READS = 60.0  # seconds: one refresh's zones share their reads of the cache

ObservationSource = Callable[[str, SignalType, float, float], Signal | None]


class _Estimator:
    """Answers every target with forecasts only."""

    name: str
    live = False

    def supports(self, target: Target) -> bool:
        """Any target."""
        return True

    def latest(self, target: Target, now: float) -> Signal:
        """Estimators have no observations."""
        raise NoData(self.name, "an estimator has no observations")

    def history(self, target: Target, start: float, end: float) -> Signal:
        """Estimators have no history of their own."""
        raise NoData(self.name, "an estimator has no history")


class HistoryForecaster(_Estimator):
    """Forecasts a zone from its cached observations (``observations(zone, type, a, b)``).

    ``lookback`` should be what the cache keeps: the engine's ridge needs about six weeks
    (four-week profiles plus two weeks of fits) and uses up to a year; with less it falls back to
    the 7-day median. ``peers`` are the other configured zones: their cached observations of the
    same signal type are offered to the engine, which uses those that track the zone's own
    deviations. A zone's observations are read once per refresh: a read made up to
    ``REUSE_READS`` seconds earlier is reused (it holds no point after ``now``).
    """

    name = "history"

    def __init__(
        self,
        observations: ObservationSource,
        *,
        lookback: float = DEFAULT_OBSERVATION_TTL,
        min_history: float = 24 * HOUR,
        method: str = "history",
        peers: Sequence[str] = (),
    ) -> None:
        self.observations = observations
        self.lookback = lookback
        self.min_history = min_history
        self.method = method
        self.peers = tuple(dict.fromkeys(peers))
        self._read: dict[tuple[str, SignalType], tuple[float, Signal | None]] = {}

    def forecast(self, target: Target, now: float, horizon: float) -> Signal:
        """The engine's forecast from the cached observations before ``now``."""
        past = self._past(target.zone, target.signal_type, now)
        span = 0.0 if past is None else min(past.end, now) - past.start
        if past is None or span < self.min_history:
            raise NoData(
                self.name,
                f"{span / HOUR:.1f} h of cached history, needs {self.min_history / HOUR:.0f} h",
            )
        from carbon_aware.engine.forecast import get_forecaster

        forecaster = get_forecaster(self.method)
        peers = {
            zone: signal
            for zone in self.peers
            if zone != target.zone
            and (signal := self._past(zone, target.signal_type, now)) is not None
        }
        predicted = forecaster.forecast(past, issued_at=now, horizon=horizon, peers=peers)
        return dataclasses.replace(predicted, region=target.zone, source=self.name, estimated=True)

    def _past(self, zone: str, signal_type: SignalType, now: float) -> Signal | None:
        """A zone's cached observations over the lookback before ``now`` (or a recent read)."""
        read_at, found = self._read.get((zone, signal_type), (math.inf, None))
        if not 0 <= now - read_at <= REUSE_READS:
            found = self.observations(zone, signal_type, now - self.lookback, now)
            self._read[(zone, signal_type)] = (now, found)
        return found


class BuiltinProfile(_Estimator):
    """The built-in profile of the target's first region; always answers (average, estimated)."""

    name = "profile"

    def forecast(self, target: Target, now: float, horizon: float) -> Signal:
        """The profile (or static factor) over ``[now, now + horizon)``."""
        estimate = profile_signal(target.region, now, now + horizon)
        return dataclasses.replace(estimate, region=target.zone)
