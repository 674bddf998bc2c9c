"""Carbon-intensity signals: per-region step series of gCO2eq/kWh.

A :class:`Signal` holds points ``(t_i, v_i)``; value ``v_i`` holds on ``[t_i, t_{i+1})`` and the
last one until ``end``. Spacing may be irregular (5-minute to hourly and mixed). Times are POSIX
seconds (float) inside the engine; :mod:`carbon_aware.engine.timeutil` converts at the edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from carbon_aware.engine.signal_type import SECONDS_PER_HOUR, SignalError, SignalType

if TYPE_CHECKING:
    from carbon_aware.engine.accounting import Series

__all__ = ["SECONDS_PER_HOUR", "Signal", "SignalError", "SignalMatrix", "SignalSet", "SignalType"]


@dataclass(frozen=True, eq=False)
class Signal:
    """A step series of carbon intensity (gCO2eq/kWh) for one region, with provenance."""

    region: str
    times: np.ndarray
    values: np.ndarray
    end: float
    source: str = "unknown"
    signal_type: SignalType = SignalType.AVERAGE
    estimated: bool = False

    @classmethod
    def from_points(
        cls,
        region: str,
        times: Sequence[float] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        *,
        end: float | None = None,
        source: str = "unknown",
        signal_type: SignalType | str = SignalType.AVERAGE,
        estimated: bool = False,
    ) -> Signal:
        """Validate and build a signal; ``end`` defaults to the last point plus the median step."""
        t = np.asarray(times, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if t.ndim != 1 or t.shape != v.shape or t.size == 0:
            raise SignalError(f"{region}: times and values must be equal-length, non-empty 1-D")
        if not np.all(np.isfinite(v)):
            raise SignalError(f"{region}: carbon intensity has missing or non-finite values")
        if np.any(v < 0):
            raise SignalError(f"{region}: carbon intensity must not be negative")
        steps = np.diff(t)
        if np.any(steps <= 0):
            raise SignalError(f"{region}: times must be strictly increasing")
        if end is None:
            end = float(t[-1] + (_median(steps) if steps.size else SECONDS_PER_HOUR))
        if end <= t[-1]:
            raise SignalError(f"{region}: end must be after the last point")
        return cls(
            region=region,
            times=t,
            values=v,
            end=float(end),
            source=source,
            signal_type=SignalType(signal_type),
            estimated=estimated,
        )

    @classmethod
    def of_series(cls, series: Series) -> Signal:
        """The signal of an (already validated) accounting series, with its provenance."""
        return cls(
            region=series.region,
            times=np.array(series.times, dtype=np.float64),
            values=np.array(series.values, dtype=np.float64),
            end=series.end,
            source=series.source,
            signal_type=series.signal_type,
            estimated=series.estimated,
        )

    @property
    def start(self) -> float:
        """First instant covered by the signal."""
        return float(self.times[0])

    @cached_property
    def _cumulative(self) -> np.ndarray:
        """Integral of intensity (g/kWh x s) from ``start`` to each point and to ``end``."""
        widths = np.diff(np.append(self.times, self.end))
        return np.concatenate(([0.0], np.cumsum(self.values * widths)))

    def covers(self, a: float, b: float) -> bool:
        """Whether ``[a, b)`` lies inside the signal's span."""
        return self.start <= a and b <= self.end

    def value_at(self, t: float) -> float:
        """Intensity in force at ``t``."""
        if not self.start <= t < self.end:
            raise SignalError(f"{self.region}: no value at {t}")
        return float(self.values[np.searchsorted(self.times, t, side="right") - 1])

    def integral(self, a: float | np.ndarray, b: float | np.ndarray) -> float | np.ndarray:
        """Integral of intensity over ``[a, b)`` in g/kWh x hours (vectorised over a and b)."""
        return (self.cumulative_at(b) - self.cumulative_at(a)) / SECONDS_PER_HOUR

    def cumulative_at(self, x: float | np.ndarray) -> float | np.ndarray:
        """Integral of intensity from ``start`` to ``x`` (g/kWh x s), for x within the span."""
        idx = np.clip(np.searchsorted(self.times, x, side="right") - 1, 0, self.times.size - 1)
        return self._cumulative[idx] + self.values[idx] * (np.asarray(x) - self.times[idx])

    def emissions_g(self, power_watts: float, a: float, b: float) -> float:
        """Grams CO2e of drawing ``power_watts`` over ``[a, b)``."""
        if not self.covers(a, b):
            raise SignalError(f"{self.region}: signal does not cover the interval")
        return float(self.integral(a, b)) * power_watts / 1000.0

    def window(self, a: float, b: float) -> Signal:
        """The part of the signal on ``[a, b)`` (clipped to the span)."""
        a, b = max(a, self.start), min(b, self.end)
        if b <= a:
            raise SignalError(f"{self.region}: empty window")
        first = int(np.searchsorted(self.times, a, side="right") - 1)
        last = int(np.searchsorted(self.times, b, side="left"))
        times = self.times[first:last].copy()
        times[0] = a
        return Signal(
            self.region,
            times,
            self.values[first:last].copy(),
            b,
            self.source,
            self.signal_type,
            self.estimated,
        )


def _median(values: np.ndarray) -> float:
    """``np.median`` of a non-empty 1-D array, without the ``numpy.ma`` import it triggers."""
    ordered = np.sort(values)
    mid = ordered.size // 2
    return float(ordered[mid] if ordered.size % 2 else (ordered[mid - 1] + ordered[mid]) / 2)


@dataclass(frozen=True, eq=False)
class SignalSet:
    """Signals for several regions, all of one signal type (comparing types is an error)."""

    signals: Mapping[str, Signal]
    signal_type: SignalType = field(init=False)

    def __post_init__(self) -> None:
        if not self.signals:
            raise SignalError("a signal set needs at least one region")
        types = {s.signal_type for s in self.signals.values()}
        if len(types) > 1:
            by_type = {
                t: sorted(r for r, s in self.signals.items() if s.signal_type == t) for t in types
            }
            raise SignalError(
                "cannot compare regions across signal types (average vs marginal): "
                + "; ".join(f"{t}: {', '.join(rs)}" for t, rs in sorted(by_type.items()))
            )
        for key, sig in self.signals.items():
            if key != sig.region:
                raise SignalError(f"signal for {sig.region!r} stored under {key!r}")
        object.__setattr__(self, "signal_type", types.pop())

    @classmethod
    def of(cls, signals: Iterable[Signal]) -> SignalSet:
        """Build a set from signals, one per region."""
        by_region: dict[str, Signal] = {}
        for s in signals:
            if s.region in by_region:
                raise SignalError(f"two signals for region {s.region!r}")
            by_region[s.region] = s
        return cls(by_region)

    @property
    def regions(self) -> list[str]:
        """Region keys, sorted."""
        return sorted(self.signals)

    def __contains__(self, region: object) -> bool:
        return region in self.signals

    def __getitem__(self, region: str) -> Signal:
        return self.signals[region]

    @cached_property
    def matrix(self) -> SignalMatrix:
        """All regions on one common grid, for vectorised placement."""
        return SignalMatrix.build(self)


@dataclass(frozen=True, eq=False)
class SignalMatrix:
    """Signals resampled (exactly) onto the union of their breakpoints.

    A step function stays the same step function on a finer grid, so this loses nothing. Arrays are
    time-major (one row per grid point, one column per region, in ``regions`` order) so that
    gathering a set of instants for all regions is one contiguous read. ``cumulative[i, r]`` is the
    integral from ``grid[0]`` to ``grid[i]`` (g/kWh x s). Outside a region's own span its values are
    0 and ``lo``/``hi`` mark where its data is valid.
    """

    regions: tuple[str, ...]
    index: Mapping[str, int]
    grid: np.ndarray
    values: np.ndarray
    cumulative: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def build(cls, signal_set: SignalSet) -> SignalMatrix:
        """Resample every signal of the set onto the union grid."""
        regions = tuple(signal_set.regions)
        sigs = [signal_set[r] for r in regions]
        if len(sigs) == 1:  # its own points are the grid (a decision on one region's forecast)
            grid = np.append(sigs[0].times, sigs[0].end)
            values = sigs[0].values[:, None].copy()
        else:
            grid = np.unique(np.concatenate([np.append(s.times, s.end) for s in sigs]))
            cells = grid[:-1]
            values = np.zeros((cells.size, len(sigs)))
            for col, s in enumerate(sigs):
                inside = (cells >= s.start) & (cells < s.end)
                idx = np.searchsorted(s.times, cells[inside], side="right") - 1
                values[inside, col] = s.values[idx]
        cumulative = np.zeros((grid.size, len(sigs)))
        np.cumsum(values * np.diff(grid)[:, None], axis=0, out=cumulative[1:])
        return cls(
            regions=regions,
            index={r: i for i, r in enumerate(regions)},
            grid=grid,
            values=values,
            cumulative=cumulative,
            lo=np.array([s.start for s in sigs]),
            hi=np.array([s.end for s in sigs]),
        )

    def cumulative_at(self, cols: np.ndarray | None, x: np.ndarray) -> np.ndarray:
        """Cumulative integral at each x (rows) for each region column: ``(len(x), len(cols))``.

        ``cols=None`` means every region, in ``regions`` order.
        """
        idx = np.searchsorted(self.grid, x, side="right") - 1
        np.clip(idx, 0, self.grid.size - 2, out=idx)
        base = self.cumulative[idx] if cols is None else self.cumulative[np.ix_(idx, cols)]
        # Most candidate instants are grid points: only the others need the slope term.
        off = np.flatnonzero(x != self.grid[idx])
        if off.size:
            rows = idx[off]
            slope = self.values[rows] if cols is None else self.values[np.ix_(rows, cols)]
            base[off] += slope * (x[off] - self.grid[rows])[:, None]
        return base

    def run_integrals(
        self, cols: np.ndarray | None, starts: np.ndarray, length: float
    ) -> np.ndarray:
        """Integral (g/kWh x h) over ``[start, start + length)``: ``(len(starts), len(cols))``.

        ``inf`` where the region's data does not cover the whole run.
        """
        n = starts.size
        ends = starts + length
        both = self.cumulative_at(cols, np.concatenate((starts, ends)))
        total = both[n:]
        total -= both[:n]
        total *= 1.0 / SECONDS_PER_HOUR
        lo, hi = (self.lo, self.hi) if cols is None else (self.lo[cols], self.hi[cols])
        if lo.max() > starts[0] or hi.min() < ends[-1]:
            covered = (starts[:, None] >= lo[None, :]) & (ends[:, None] <= hi[None, :])
            total[~covered] = np.inf
        return total
