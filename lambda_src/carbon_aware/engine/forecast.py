"""Forecasting a region's carbon intensity from its own past (when no provider forecast exists).

Every forecaster sees only points before ``issued_at`` and answers hourly values from the hour that
contains ``issued_at`` onwards. History of any resolution is first turned into exact hourly means.

- ``naive_yesterday``: the same hour on the most recent observed day.
- ``naive_median7``: the median of the same hour over the last 7 observed days.
- ``history`` (default): one small ridge regression per horizon (1..72 h), refitted once a day on
  the last ``fit_days`` of the region's own history. Features of a target hour: the last observed
  hour, the same hour on the last observed day and a week before, the 7- and 28-day medians of the
  target's hour of day, the 7-day median of the last hour's hour of day (how far today runs above
  its profile), and the mean of the last 24 hours. numpy only; a fit takes milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from carbon_aware.engine.signal import Signal, SignalError, SignalSet
from carbon_aware.engine.workload import Workload

HOUR = 3600.0
DAY = 24
WEEK = 168
MAX_HORIZON = 72
MIN_HORIZON = 48


class Forecaster(Protocol):
    """Forecasts a signal from its own past."""

    name: str

    def forecast(self, history: Signal, issued_at: float, horizon: float) -> Signal: ...


def hourly_means(history: Signal, issued_at: float) -> tuple[float, np.ndarray]:
    """Start and exact means of the complete hours of ``history`` ending by ``issued_at``."""
    first = math.ceil(history.start / HOUR) * HOUR
    last = math.floor(min(history.end, issued_at) / HOUR) * HOUR
    if last - first < HOUR:
        raise SignalError(f"{history.region}: no complete hour of history before the forecast")
    edges = np.arange(first, last + HOUR / 2, HOUR)
    return first, np.diff(history.cumulative_at(edges)) / HOUR


def same_hour_median(values: np.ndarray, at: np.ndarray, days: int) -> np.ndarray:
    """Median of ``values[at - 24 d]`` for d in ``0 .. days - 1`` (the days that exist)."""
    index = at[..., None] - DAY * np.arange(days)
    if index.size and index.min() >= 0:
        return np.median(values[index], axis=-1)
    picked = np.where(index >= 0, values[np.clip(index, 0, None)], np.nan)
    with np.errstate(all="ignore"):
        out = np.nanmedian(picked, axis=-1)
    return np.where(np.isnan(out), values[np.clip(at, 0, None)], out)


def features(values: np.ndarray, origins: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Rows ``(origin, horizon, feature)`` for target ``origin + h`` as seen from ``origin``:
    every value used lies before ``origin``."""
    o = origins[:, None]
    target = o + horizons[None, :]
    day_ago = target - DAY * np.ceil((horizons + 1) / DAY).astype(int)[None, :]
    week_ago = np.where(horizons[None, :] < WEEK, target - WEEK, day_ago)
    last = values[o - 1]
    csum = np.concatenate(([0.0], np.cumsum(values)))
    width = np.minimum(o, DAY)
    rows = np.broadcast_arrays(
        last,
        values[np.clip(day_ago, 0, None)],
        values[np.clip(week_ago, 0, None)],
        same_hour_median(values, day_ago, 7),
        same_hour_median(values, day_ago, 28),
        same_hour_median(values, o - 1, 7),
        (csum[o] - csum[o - width]) / width,
    )
    return np.stack(rows, axis=-1)


def _output(history: Signal, issued_at: float, values: np.ndarray, name: str) -> Signal:
    first_hour = math.floor(issued_at / HOUR) * HOUR
    times = first_hour + HOUR * np.arange(values.size)
    times[0] = issued_at
    return Signal.from_points(
        history.region,
        times,
        np.clip(values, 0.0, None),
        end=first_hour + HOUR * values.size,
        source=f"forecast:{name}",
        signal_type=history.signal_type,
        estimated=True,
    )


def _horizons(start: float, count: int, issued_at: float, horizon: float) -> np.ndarray:
    """Target hours as offsets from the first hour not observed (``count``)."""
    first_hour = math.floor(issued_at / HOUR) * HOUR
    hours = max(1, math.ceil((issued_at + horizon - first_hour) / HOUR))
    skip = round((first_hour - start) / HOUR) - count
    return skip + np.arange(hours)


@dataclass(frozen=True)
class NaiveYesterday:
    """The same hour on the most recent observed day."""

    name: str = "naive_yesterday"

    def forecast(self, history: Signal, issued_at: float, horizon: float) -> Signal:
        """Hourly forecast on ``[issued_at, issued_at + horizon)``."""
        start, values = hourly_means(history, issued_at)
        k = _horizons(start, values.size, issued_at, horizon)
        target = values.size + k
        day_ago = target - DAY * np.ceil((k + 1) / DAY).astype(int)
        guess = np.where(day_ago >= 0, values[np.clip(day_ago, 0, None)], values[-1])
        return _output(history, issued_at, guess, self.name)


@dataclass(frozen=True)
class NaiveMedian7:
    """The median of the same hour over the last 7 observed days."""

    name: str = "naive_median7"

    def forecast(self, history: Signal, issued_at: float, horizon: float) -> Signal:
        """Hourly forecast on ``[issued_at, issued_at + horizon)``."""
        start, values = hourly_means(history, issued_at)
        return _output(history, issued_at, _median7(values, start, issued_at, horizon), self.name)


def _median7(values: np.ndarray, start: float, issued_at: float, horizon: float) -> np.ndarray:
    k = _horizons(start, values.size, issued_at, horizon)
    target = values.size + k
    back = np.ceil((k + 1) / DAY).astype(int)
    lags = target[:, None] - DAY * (back[:, None] + np.arange(7)[None, :])
    picked = np.where(lags >= 0, values[np.clip(lags, 0, None)], np.nan)
    with np.errstate(all="ignore"):
        out = np.nanmedian(picked, axis=1)
    return np.where(np.isnan(out), values[-1], out)


@dataclass
class HistoryForecaster:
    """Per-horizon ridge regression on the region's own lags and profiles, refitted daily.

    With less than ``min_fit_days`` of history it answers the 7-day median instead.
    """

    name: str = "history"
    fit_days: int = 56
    min_fit_days: int = 35
    ridge: float = 1.0
    fit_stride: int = 3
    _models: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict, repr=False)

    def forecast(self, history: Signal, issued_at: float, horizon: float) -> Signal:
        """Hourly forecast on ``[issued_at, issued_at + horizon)``."""
        start, values = hourly_means(history, issued_at)
        if values.size < DAY * self.min_fit_days:
            guess = _median7(values, start, issued_at, horizon)
            return _output(history, issued_at, guess, self.name)
        k = _horizons(start, values.size, issued_at, horizon)
        model = self._model(history.region, values, issued_at)
        kk = np.clip(k, 0, MAX_HORIZON - 1)
        rows = features(values, np.array([values.size]), k)[0]
        guess = model[kk, 0] + np.einsum("kf,kf->k", rows, model[kk, 1:])
        return _output(history, issued_at, guess, self.name)

    def _model(self, region: str, values: np.ndarray, issued_at: float) -> np.ndarray:
        day = int(issued_at // 86400)
        cached = self._models.get(region)
        if cached is None or cached[0] != day:
            cached = (day, self._fit(values))
            self._models[region] = cached
        return cached[1]

    def _fit(self, values: np.ndarray) -> np.ndarray:
        """Intercept and coefficients per horizon, from origins whose targets are observed."""
        n = values.size
        horizons = np.arange(MAX_HORIZON)
        last = n - MAX_HORIZON
        first = max(DAY * 31, last - DAY * self.fit_days)
        origins = np.arange(first, last + 1, self.fit_stride)
        x = features(values, origins, horizons)
        y = values[origins[:, None] + horizons[None, :]]
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - mean) / scale
        ym = y.mean(axis=0)
        gram = np.einsum("nkf,nkg->kfg", z, z) + self.ridge * origins.size / 100 * np.eye(
            x.shape[-1]
        )
        rhs = np.einsum("nkf,nk->kf", z, y - ym)
        coef = np.linalg.solve(gram, rhs[..., None])[..., 0] / scale
        return np.c_[ym - np.einsum("kf,kf->k", coef, mean), coef]


FORECASTERS: dict[str, Callable[[], Forecaster]] = {
    "history": HistoryForecaster,
    "naive_yesterday": NaiveYesterday,
    "naive_median7": NaiveMedian7,
}


def get_forecaster(name: str) -> Forecaster:
    """A forecaster by name."""
    try:
        return FORECASTERS[name]()
    except KeyError:
        raise SignalError(
            f"unknown forecaster {name!r}; choose one of {', '.join(FORECASTERS)}"
        ) from None


ForecastFn = Callable[[Workload], SignalSet]


def history_forecast_fn(
    actual: SignalSet, forecaster: Forecaster, *, history_days: int = 120
) -> ForecastFn:
    """For backtests: each workload's regions forecast from ``actual`` strictly before its
    submission, up to its deadline; workloads submitted in the same hour share forecasts."""
    made: dict[tuple[str, float], Signal] = {}

    def forecast(workload: Workload) -> SignalSet:
        issued = workload.submitted_at
        needed = workload.deadline
        signals = []
        for region in sorted({workload.home_region, *workload.regions}):
            if region not in actual:
                continue
            cached = made.get((region, issued))
            if cached is None or cached.end < needed:
                source = actual[region]
                past = source.window(max(source.start, issued - history_days * 86400.0), issued)
                horizon = max(needed - issued, MIN_HORIZON * HOUR)
                cached = made[(region, issued)] = forecaster.forecast(past, issued, horizon)
            signals.append(cached)
        return SignalSet.of(signals)

    return forecast
