"""Forecasts from a region's history and its neighbours': fallback without provider forecasts.

A forecaster sees only the points strictly before ``issued_at``. History of any resolution is
resampled to exact hourly means over complete UTC hours, and the forecast is a step series whose
first point is exactly ``issued_at``, then every hour boundary.

- ``naive_yesterday``: the same hour on the most recent day with data.
- ``naive_median7``: the median of the same hour over the 7 most recent days with data.
- ``history``: ridge regressions per horizon (1..48 h) and UTC hour of the forecast origin, on
  lagged features (the last three hours, the 3-hour trend, the last three hours' deviation from
  their usual values, the last-24 h level, low and high, the same hour yesterday and last week,
  7- and 28-day hour-of-day profiles, a 4-week hour-of-week profile, a weekend flag), plus the
  recent deviation of up to three peer zones: other zones offered with the history whose
  deviations track the zone's own, now or up to 12 h ahead (neighbouring grids share weather;
  chosen on each fit's data, again every 28 days). Each
  origin-hour model is shrunk towards the model pooled over all origin hours. Refitted once per
  UTC day on a trailing year of origins with weights that halve every 180 days, from decayed
  Gram sums updated day by day. Hours past 48 h, or too little history to fit, fall back to
  ``naive_median7`` (which falls back to the last value under a day of history).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from carbon_aware.engine.backtest import ForecastFn
from carbon_aware.engine.signal import SECONDS_PER_HOUR, Signal, SignalError, SignalSet, SignalType
from carbon_aware.engine.workload import Workload

DAY = 24
WEEK = 7 * DAY
MIN_FORECAST_HOURS = 48
DEFAULT_HISTORY_DAYS = 400

PEER_MIN_CORRELATION = 0.2
MAX_PEERS = 3
PEER_MIN_DAYS = 28
PEER_LAGS = (0, 3, 6, 12)  # hours by which a peer's deviation may lead the zone's
PEER_RESELECT_DAYS = 28
GRAM_CHUNK_DAYS = 16  # days of feature rows built at once when summing Gram blocks

Memo = dict[str, Any]  # one region's work shared between calls (daily fits)


class Forecaster(Protocol):
    """Anything that forecasts one region's signal from its history."""

    name: str

    def forecast(self, history: Signal, issued_at: float, horizon: float) -> Signal:
        """Forecast ``[issued_at, issued_at + horizon)`` from points strictly before issued_at."""
        ...


@dataclass(frozen=True)
class HourlySeries:
    """Hourly means: ``values[i]`` is the mean over UTC hour ``first_hour + i`` (since epoch)."""

    region: str
    first_hour: int
    values: np.ndarray
    signal_type: SignalType = SignalType.AVERAGE
    # Other zones' hourly means aligned with ``values`` (NaN where missing): candidate peers.
    peers: dict[str, np.ndarray] | None = None

    @classmethod
    def from_signal(cls, signal: Signal, until: float = math.inf) -> HourlySeries:
        """Means over the complete hours before ``until`` (the first may be partly covered)."""
        first = math.floor(signal.start / SECONDS_PER_HOUR)
        stop = math.floor(min(until, signal.end) / SECONDS_PER_HOUR)
        if stop <= first:
            return cls(signal.region, first, np.empty(0), signal.signal_type)
        if until < signal.end:
            signal = signal.window(signal.start, until)
        bounds = np.maximum(np.arange(first, stop + 1) * SECONDS_PER_HOUR, signal.start)
        means = np.diff(signal.cumulative_at(bounds)) / np.diff(bounds)
        return cls(signal.region, first, means, signal.signal_type)

    def with_peers(self, peers: Mapping[str, HourlySeries]) -> HourlySeries:
        """This series with other zones' hours aligned to it as candidate peers."""
        aligned = {}
        for zone, other in peers.items():
            if zone == self.region:
                continue
            column = np.full(self.values.size, np.nan)
            part = other.between(self.first_hour, self.end_hour)
            at = part.first_hour - self.first_hour
            column[at : at + part.values.size] = part.values
            aligned[zone] = column
        return dataclasses.replace(self, peers=aligned)

    @property
    def end_hour(self) -> int:
        """First hour after the data."""
        return self.first_hour + self.values.size

    def between(self, start_hour: int, end_hour: int) -> HourlySeries:
        """The hours in ``[start_hour, end_hour)`` (a view, clipped to the data)."""
        lo = min(max(start_hour - self.first_hour, 0), self.values.size)
        hi = min(max(end_hour - self.first_hour, lo), self.values.size)
        peers = None if self.peers is None else {z: v[lo:hi] for z, v in self.peers.items()}
        return HourlySeries(
            self.region, self.first_hour + lo, self.values[lo:hi], self.signal_type, peers
        )


class HourlyForecaster(ABC):
    """Base for forecasters that work on hourly means; subclasses implement :meth:`predict`."""

    name: ClassVar[str] = "base"

    def forecast(
        self,
        history: Signal,
        issued_at: float,
        horizon: float,
        peers: Mapping[str, Signal] | None = None,
    ) -> Signal:
        """Forecast ``[issued_at, issued_at + horizon)`` from points strictly before issued_at.

        ``peers`` are other zones' observations; those before issued_at are candidate peers.
        """
        series = HourlySeries.from_signal(history, until=issued_at)
        if series.values.size == 0 and history.start < issued_at:
            return self._flat(history.window(history.start, issued_at), issued_at, horizon)
        if peers:
            series = series.with_peers(
                {
                    zone: HourlySeries.from_signal(signal, until=issued_at)
                    for zone, signal in peers.items()
                }
            )
        return self.forecast_series(series, issued_at, horizon)

    def forecast_series(
        self, series: HourlySeries, issued_at: float, horizon: float, memo: Memo | None = None
    ) -> Signal:
        """Forecast from hourly history that ends at or before ``issued_at``.

        ``memo`` (one dict per region) lets repeated calls share work such as daily fits.
        """
        if series.values.size == 0:
            raise SignalError(
                f"{series.region}: no history before the forecast time to forecast from"
            )
        first = math.floor(issued_at / SECONDS_PER_HOUR)
        if series.end_hour > first:
            raise SignalError(f"{series.region}: history reaches past the forecast time")
        hours = max(1, math.ceil((issued_at + horizon) / SECONDS_PER_HOUR) - first)
        values = np.maximum(self.predict(series, first, hours, memo), 0.0)
        return _hourly_signal(series, self.name, issued_at, first, values)

    @abstractmethod
    def predict(
        self, series: HourlySeries, first_hour: int, hours: int, memo: Memo | None = None
    ) -> np.ndarray:
        """Values for the hours ``first_hour .. first_hour + hours - 1`` (all after the data)."""

    def _flat(self, history: Signal, issued_at: float, horizon: float) -> Signal:
        """Less than one complete hour of history: its time-weighted mean, held flat."""
        mean = float(history.integral(history.start, history.end)) * SECONDS_PER_HOUR
        mean /= history.end - history.start
        series = HourlySeries(history.region, 0, np.array([mean]), history.signal_type)
        first = math.floor(issued_at / SECONDS_PER_HOUR)
        hours = max(1, math.ceil((issued_at + horizon) / SECONDS_PER_HOUR) - first)
        return _hourly_signal(series, self.name, issued_at, first, np.full(hours, mean))


def _hourly_signal(
    series: HourlySeries, name: str, issued_at: float, first: int, values: np.ndarray
) -> Signal:
    """A forecast signal: first point at ``issued_at``, then every hour boundary."""
    times = np.arange(first, first + values.size) * SECONDS_PER_HOUR
    times[0] = issued_at
    return Signal.from_points(
        series.region,
        times,
        values,
        end=(first + values.size) * SECONDS_PER_HOUR,
        source=f"forecast:{name}",
        signal_type=series.signal_type,
        estimated=True,
    )


def _targets(series: HourlySeries, first_hour: int, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Target indices (relative to the series) and their horizons (1 = first hour after data)."""
    targets = np.arange(hours) + (first_hour - series.first_hour)
    return targets, targets - series.values.size + 1


def _days_back(horizons: np.ndarray) -> np.ndarray:
    """Days between a target and the same hour on the most recent day with data."""
    return (horizons + DAY - 1) // DAY


class NaiveYesterday(HourlyForecaster):
    """The same hour on the most recent day with data (the last value with under a day)."""

    name = "naive_yesterday"

    def predict(
        self, series: HourlySeries, first_hour: int, hours: int, memo: Memo | None = None
    ) -> np.ndarray:
        y = series.values
        if y.size < DAY:
            return np.full(hours, y[-1])
        targets, horizons = _targets(series, first_hour, hours)
        return y[targets - DAY * _days_back(horizons)]


class NaiveMedian7(HourlyForecaster):
    """Median of the same hour over the 7 most recent days with data (fewer when short)."""

    name = "naive_median7"
    days: ClassVar[int] = 7

    def predict(
        self, series: HourlySeries, first_hour: int, hours: int, memo: Memo | None = None
    ) -> np.ndarray:
        y = series.values
        if y.size < DAY:
            return np.full(hours, y[-1])
        targets, horizons = _targets(series, first_hour, hours)
        back = _days_back(horizons)[:, None] + np.arange(self.days)[None, :]
        idx = targets[:, None] - DAY * back
        if idx.min() >= 0:
            return np.median(y[idx], axis=1)
        return np.nanmedian(np.where(idx >= 0, y[np.maximum(idx, 0)], np.nan), axis=1)


# --- the ridge forecaster ------------------------------------------------------------------------

# Every feature but the last three is a weighted sum of lagged hours, at offsets from the origin
# ``o`` (the first unknown hour) that depend on the horizon ``k``: the target is ``o + k - 1``.
FEATURES = (
    "last",  # the last hour
    "previous",  # the hour before it
    "third_last",  # the hour before that
    "trend",  # the last hour minus the one three hours before it
    "recent_deviation",  # mean of the last three hours minus theirs on the 7 days before
    "last_profile7",  # the last hour's hour of day, mean over the 7 days before
    "level",  # mean of the last 24 hours
    "yesterday",  # the target's hour on the most recent day with data
    "last_week",  # the target's hour a week before
    "profile7",  # the target's hour of day, mean over the 7 most recent days with data
    "profile28",  # the same over 28 days
    "week4",  # the target's hour of week, mean over the 4 weeks before
    "low24",  # the lowest of the last 24 hours
    "high24",  # the highest of the last 24 hours
    "weekend",  # the target falls on a Saturday or Sunday (UTC)
)
LAGGED = len(FEATURES) - 3


def _mean(offsets: list[int]) -> list[tuple[int, float]]:
    """Terms of the mean of the hours at ``offsets``."""
    return [(offset, 1.0 / len(offsets)) for offset in offsets]


def _lag_terms(k: int) -> list[list[tuple[int, float]]]:
    """(offset, weight) terms of each lagged feature for horizon ``k``."""
    ahead = k - 1
    day = ahead - DAY * int(_days_back(np.array(k)))  # same hour, last day with data
    recent = _mean([-1, -2, -3])
    recent += [(-i - DAY * j, -1.0 / 21) for i in (1, 2, 3) for j in range(1, 8)]
    return [
        [(-1, 1.0)],
        [(-2, 1.0)],
        [(-3, 1.0)],
        [(-1, 1.0), (-4, -1.0)],
        recent,
        _mean([-1 - DAY * j for j in range(1, 8)]),
        _mean([-1 - j for j in range(DAY)]),
        [(day, 1.0)],
        [(ahead - WEEK, 1.0)],
        _mean([day - DAY * j for j in range(7)]),
        _mean([day - DAY * j for j in range(28)]),
        _mean([ahead - WEEK * j for j in range(1, 5)]),
    ]


@functools.cache
def lag_table(horizons: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets from the origin ``(horizons, lags)`` and weights ``(lags, LAGGED)``."""
    per_horizon = [_lag_terms(k) for k in range(1, horizons + 1)]
    offsets = np.array([[o for terms in row for o, _ in terms] for row in per_horizon])
    weights = np.zeros((offsets.shape[1], LAGGED))
    at = 0
    for col, terms in enumerate(per_horizon[0]):
        weights[at : at + len(terms), col] = [w for _, w in terms]
        at += len(terms)
    return offsets, weights


def lookback(horizons: int) -> int:
    """Hours of data a feature row needs before its origin."""
    return int(-lag_table(horizons)[0].min())


def features(
    y: np.ndarray,
    origins: np.ndarray,
    horizons: int,
    first_hour: int,
    peers: np.ndarray | None = None,
) -> np.ndarray:
    """Feature tensor ``(len(origins), horizons, len(FEATURES) + peer zones)``.

    ``origins`` index the first unknown hour (``y[:o]`` is known; needs ``o >= lookback``); the
    target of horizon ``k`` (1..horizons) is ``y[o + k - 1]``. ``first_hour`` dates ``y[0]``.
    ``peers`` (hours, zones), aligned with ``y``, adds each peer zone's recent deviation.
    """
    offsets, weights = lag_table(horizons)
    lagged = y[origins[:, None, None] + offsets[None, :, :]] @ weights
    last_day = y[origins[:, None] - np.arange(1, DAY + 1)[None, :]]
    extremes = np.stack((last_day.min(axis=1), last_day.max(axis=1)), axis=-1)
    target_day = (origins[:, None] + np.arange(horizons)[None, :] + first_hour) // DAY
    weekend = ((target_day + 3) % 7 >= 5).astype(np.float64)  # 1970-01-01 was a Thursday
    parts = [
        lagged,
        np.broadcast_to(extremes[:, None, :], (*lagged.shape[:2], 2)),
        weekend[..., None],
    ]
    if peers is not None and peers.shape[1]:
        deviation = _recent_deviation(peers, origins)
        parts.append(
            np.broadcast_to(deviation[:, None, :], (*lagged.shape[:2], deviation.shape[1]))
        )
    return np.concatenate(parts, axis=-1)


def _recent_deviation(table: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """Per origin and column: the last three hours' mean minus theirs over the 7 days before
    (0 where any of those hours is missing: no news)."""
    recent = table[origins[:, None] - np.arange(1, 4)[None, :]].mean(axis=1)
    back = (np.arange(1, 4)[:, None] + DAY * np.arange(1, 8)[None, :]).ravel()
    usual = table[origins[:, None] - back[None, :]].mean(axis=1)
    return np.nan_to_num(recent - usual, nan=0.0)


@dataclass(frozen=True)
class RidgeModel:
    """Coefficients per origin hour of day and horizon: ``value = intercept + features @ coef``.

    ``intercept`` is ``(DAY, horizons)`` and ``coef`` ``(DAY, horizons, features)``; row ``h``
    serves origins at UTC hour ``h`` (the first unknown hour).
    """

    intercept: np.ndarray
    coef: np.ndarray
    peers: tuple[str, ...] = ()  # zones whose recent deviations are the last features

    @property
    def horizons(self) -> int:
        """Number of horizons modelled."""
        return self.intercept.shape[1]

    def predict(self, x: np.ndarray, horizons: np.ndarray, origin_hour: int) -> np.ndarray:
        """Values for the given horizons (1-based) from a ``(horizons, features)`` row."""
        k = horizons - 1
        hour = origin_hour % DAY
        return self.intercept[hour, k] + np.einsum("kf,kf->k", x[k], self.coef[hour, k])


@dataclass
class DecayedGrams:
    """Sums of per-day Gram blocks with weights ``decay ** (end_day - day)``.

    Holds the complete days ``first_day .. complete - 1`` weighted for ``end_day``, so that the
    next day's fit only adds and removes the days that changed.
    """

    end_day: int
    first_day: int
    complete: int
    sums: np.ndarray
    peers: tuple[str, ...] = ()
    chosen_day: int = 0  # the day the peers were chosen


@dataclass
class HistoryForecaster(HourlyForecaster):
    """Ridge per origin hour of day and horizon, refitted daily from a trailing, decaying window.

    The model used at any time was fitted at the start of that UTC day on the origins of the
    previous ``window_days`` days (weights halve every ``half_life_days``), counting only targets
    that were already known. Each (origin hour, horizon) model is shrunk towards the model pooled
    over all origin hours (``shrinkage``, on standardised features; ``alpha`` is the pooled
    model's own ridge penalty).
    """

    name: ClassVar[str] = "history"
    horizons: int = 48
    window_days: int = 365
    half_life_days: float = 180.0
    alpha: float = 0.01
    shrinkage: float = 0.3
    min_train_days: int = 14
    fallback: HourlyForecaster = field(default_factory=NaiveMedian7)

    def predict(
        self, series: HourlySeries, first_hour: int, hours: int, memo: Memo | None = None
    ) -> np.ndarray:
        model = self.model_for(series, {} if memo is None else memo)
        _, horizons = _targets(series, first_hour, hours)
        if model is None:
            return self.fallback.predict(series, first_hour, hours)
        modelled = horizons <= model.horizons
        if modelled.all():
            out = np.empty(hours)
        else:
            out = self.fallback.predict(series, first_hour, hours)
        if modelled.any():
            origin = np.array([series.values.size])
            x = features(
                series.values,
                origin,
                model.horizons,
                series.first_hour,
                peer_table(series, model.peers),
            )[0]
            out[modelled] = model.predict(x, horizons[modelled], series.end_hour)
        return out

    def model_for(self, series: HourlySeries, memo: Memo) -> RidgeModel | None:
        """The model fitted on the data before the UTC day of the series end (memoised)."""
        day = series.end_hour // DAY
        models = memo.setdefault("models", {})
        if day not in models:
            models[day] = self.fit(series.between(series.first_hour, day * DAY), memo)
        return models[day]

    def fit(self, series: HourlySeries, memo: Memo | None = None) -> RidgeModel | None:
        """Fit on the window's origins, counting only targets inside ``series``.

        None when fewer than ``min_train_days`` days of origins have enough history.
        """
        end_day = series.end_hour // DAY
        earliest = -(-(series.first_hour + lookback(self.horizons)) // DAY)
        first_day = max(end_day - self.window_days, earliest)
        if end_day - first_day < self.min_train_days:
            return None
        # Days whose every target is known are the same for any longer history: summed once.
        complete = max(first_day, min(end_day, (series.end_hour - self.horizons + 1) // DAY))
        memo = {} if memo is None else memo
        state = self._complete_sums(series, memo.get("grams"), end_day, first_day, complete)
        memo["grams"] = state
        partial = self._grams(series, range(complete, end_day), end_day, state.peers)
        return self._solve(state.sums + partial, state.peers)

    def _complete_sums(
        self,
        series: HourlySeries,
        held: DecayedGrams | None,
        end_day: int,
        first_day: int,
        complete: int,
    ) -> DecayedGrams:
        """The decayed sums of complete days, updated from ``held`` when that is cheaper.

        Peers are chosen on the data of the fit when the sums are rebuilt, and chosen again
        every ``PEER_RESELECT_DAYS`` days (the sums are rebuilt if the choice changed)."""
        earliest = -(-(series.first_hour + lookback(self.horizons)) // DAY)
        chosen_day = end_day
        if held is not None and end_day - held.chosen_day < PEER_RESELECT_DAYS:
            peers, chosen_day = held.peers, held.chosen_day
        else:
            peers = select_peers(series)
        if (
            held is not None
            and held.peers == peers
            and earliest <= held.first_day <= first_day <= held.complete <= complete
            and held.end_day <= end_day
            and (first_day - held.first_day) + (complete - held.complete) < complete - first_day
        ):
            sums = held.sums * 0.5 ** ((end_day - held.end_day) / self.half_life_days)
            sums -= self._grams(series, range(held.first_day, first_day), end_day, peers)
            sums += self._grams(series, range(held.complete, complete), end_day, peers)
        else:
            sums = self._grams(series, range(first_day, complete), end_day, peers)
        return DecayedGrams(end_day, first_day, complete, sums, peers, chosen_day)

    def _grams(
        self, series: HourlySeries, days: range, end_day: int, peers: tuple[str, ...]
    ) -> np.ndarray:
        """Per origin hour and horizon, the sum of ``weight * z z^T`` with
        ``z = [1, features, target]`` over the origins of ``days`` (targets outside the series
        left out), each day weighted ``0.5 ** ((end_day - day) / half_life_days)``."""
        size = len(FEATURES) + len(peers) + 2
        table = peer_table(series, peers)
        total = np.zeros((DAY, self.horizons, size, size))
        for start in range(days.start, days.stop, GRAM_CHUNK_DAYS):
            chunk = np.arange(start, min(start + GRAM_CHUNK_DAYS, days.stop))
            origins = (chunk[:, None] * DAY + np.arange(DAY)).ravel() - series.first_hour
            x = features(series.values, origins, self.horizons, series.first_hour, table)
            target = origins[:, None] + np.arange(self.horizons)[None, :]
            known = target < series.values.size
            y = series.values[np.minimum(target, series.values.size - 1)]
            z = np.concatenate((np.ones((*x.shape[:-1], 1)), x, y[..., None]), axis=-1)
            z *= known[..., None]
            z = z.reshape(chunk.size, DAY, self.horizons, size).transpose(1, 2, 3, 0)
            weights = 0.5 ** ((end_day - chunk) / self.half_life_days)
            total += (z * weights) @ z.transpose(0, 1, 3, 2)
        return total

    def _solve(self, gram: np.ndarray, peers: tuple[str, ...]) -> RidgeModel:
        """Pooled ridge per horizon on standardised features, then one ridge per origin hour
        shrunk towards it (features constant over the pool get 0)."""
        pooled = _moments(gram.sum(axis=0))
        var = np.einsum("kii->ki", pooled.cxx)
        varies = var > 1e-9 * (1.0 + pooled.x_mean**2)
        sd = np.where(varies, np.sqrt(np.where(varies, var, 1.0)), np.inf)
        eye = np.eye(gram.shape[-1] - 2)
        scale = sd[:, :, None] * sd[:, None, :]
        base = np.linalg.solve(pooled.cxx / scale + self.alpha * eye, (pooled.cxy / sd)[..., None])
        hourly = _moments(gram)
        a = hourly.cxx / scale + self.shrinkage * eye
        b = hourly.cxy / sd + self.shrinkage * base[..., 0]
        coef = np.linalg.solve(a, b[..., None])[..., 0] / sd
        intercept = hourly.y_mean - np.einsum("...f,...f->...", coef, hourly.x_mean)
        return RidgeModel(intercept, coef, peers)


def select_peers(series: HourlySeries) -> tuple[str, ...]:
    """Up to ``MAX_PEERS`` zones whose recent deviation correlates, now or ``PEER_LAGS`` hours
    ahead, with the series' own by at least ``PEER_MIN_CORRELATION`` in absolute value
    (neighbouring grids share the weather, and weather moves), strongest first, over the hours of
    ``series`` (at least ``PEER_MIN_DAYS`` days in common)."""
    if not series.peers:
        return ()
    origins = np.arange(WEEK + 3, series.values.size + 1)
    if origins.size < PEER_MIN_DAYS * DAY:
        return ()
    own = _recent_deviation(series.values[:, None], origins)[:, 0]
    scores = {}
    for zone, values in series.peers.items():
        known = ~np.isnan(values)
        usable = np.convolve(known, np.ones(WEEK + 3), "full")[origins - 1] == WEEK + 3
        theirs = _recent_deviation(values[:, None], origins)[:, 0]
        best = 0.0
        for lag in PEER_LAGS:
            both = usable[: usable.size - lag]
            if both.sum() < PEER_MIN_DAYS * DAY:
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.corrcoef(own[lag:][both], theirs[: theirs.size - lag][both])[0, 1]
            if np.isfinite(r):
                best = max(best, abs(float(r)))
        if best >= PEER_MIN_CORRELATION:
            scores[zone] = best
    return tuple(sorted(scores, key=lambda z: (-scores[z], z))[:MAX_PEERS])


def peer_table(series: HourlySeries, peers: tuple[str, ...]) -> np.ndarray | None:
    """The chosen peers' hours aligned with the series (NaN for a peer it lacks)."""
    if not peers:
        return None
    found = series.peers or {}
    missing = np.full(series.values.size, np.nan)
    return np.stack([found.get(zone, missing) for zone in peers], axis=1)


@dataclass(frozen=True)
class _Moments:
    """Weighted means and covariances of features and target from a Gram block."""

    x_mean: np.ndarray
    y_mean: np.ndarray
    cxx: np.ndarray
    cxy: np.ndarray


def _moments(gram: np.ndarray) -> _Moments:
    """Moments over the last two axes of ``[1, features, target]`` Gram blocks."""
    n = gram[..., 0, 0]
    mean = gram[..., 0, 1:] / n[..., None]
    cov = gram[..., 1:, 1:] / n[..., None, None] - mean[..., :, None] * mean[..., None, :]
    return _Moments(mean[..., :-1], mean[..., -1], cov[..., :-1, :-1], cov[..., :-1, -1])


FORECASTERS: dict[str, Callable[[], HourlyForecaster]] = {
    HistoryForecaster.name: HistoryForecaster,
    NaiveYesterday.name: NaiveYesterday,
    NaiveMedian7.name: NaiveMedian7,
}


def get_forecaster(name: str) -> HourlyForecaster:
    """A forecaster by name."""
    try:
        return FORECASTERS[name]()
    except KeyError:
        raise ValueError(
            f"unknown forecaster {name!r}; choose one of {', '.join(FORECASTERS)}"
        ) from None


# --- backtests -----------------------------------------------------------------------------------


def history_forecast_fn(
    actual: SignalSet, forecaster: Forecaster, *, history_days: int = DEFAULT_HISTORY_DAYS
) -> ForecastFn:
    """Forecasts for a workload's regions from ``actual`` points strictly before ``submitted_at``.

    Each covers at least up to the deadline (and 48 h); the history used starts ``history_days``
    days before the issue day, and the other regions of ``actual`` over the same hours are the
    candidate peers. Regions without history are left out. Forecasts are cached per
    (region, issued_at), so jobs submitted together share them; for the built-in forecasters the
    hourly means are computed once per region and the model once per region and day.
    """
    return _HistoryForecasts(actual, forecaster, history_days)


class _HistoryForecasts:
    """The callable returned by :func:`history_forecast_fn`."""

    def __init__(self, actual: SignalSet, forecaster: Forecaster, history_days: int) -> None:
        self.actual = actual
        self.forecaster = forecaster
        self.history_days = history_days
        self.hourly: dict[str, HourlySeries] = {}
        self.peered: dict[str, HourlySeries] = {}
        self.memos: dict[str, Memo] = {}
        self.signals: dict[tuple[str, float], Signal] = {}
        self.sets: dict[tuple[tuple[str, ...], float], SignalSet] = {}

    def __call__(self, workload: Workload) -> SignalSet:
        issued_at = workload.submitted_at
        until = max(workload.deadline, issued_at + MIN_FORECAST_HOURS * SECONDS_PER_HOUR)
        wanted = dict.fromkeys((workload.home_region, *workload.regions))
        key = (tuple(r for r in wanted if r in self.actual), issued_at)
        cached = self.sets.get(key)
        if cached is not None and all(s.end >= until for s in cached.signals.values()):
            return cached
        signals = []
        for region in key[0]:
            try:
                signals.append(self.region_forecast(region, issued_at, until))
            except SignalError:
                continue
        if not signals:
            raise SignalError(f"workload {workload.id}: no region has history before submitted_at")
        self.sets[key] = SignalSet.of(signals)
        return self.sets[key]

    def region_forecast(self, region: str, issued_at: float, until: float) -> Signal:
        """One region's forecast from ``issued_at`` to at least ``until`` (cached)."""
        cached = self.signals.get((region, issued_at))
        if cached is None or cached.end < until:
            cached = self.signals[(region, issued_at)] = self._make(region, issued_at, until)
        return cached

    def _make(self, region: str, issued_at: float, until: float) -> Signal:
        horizon = until - issued_at
        if not isinstance(self.forecaster, HourlyForecaster):
            history = _recent_signal(self.actual[region], issued_at, self.history_days)
            return self.forecaster.forecast(history, issued_at, horizon)
        series = _recent(self._with_peers(region), issued_at, self.history_days)
        memo = self.memos.setdefault(region, {})
        return self.forecaster.forecast_series(series, issued_at, horizon, memo)

    def _with_peers(self, region: str) -> HourlySeries:
        """The region's hourly means with every other region of ``actual`` as candidate peers."""
        if region not in self.peered:
            for name in self.actual.regions:
                if name not in self.hourly:
                    self.hourly[name] = HourlySeries.from_signal(self.actual[name])
            self.peered[region] = self.hourly[region].with_peers(self.hourly)
        return self.peered[region]


def _recent(series: HourlySeries, issued_at: float, history_days: int) -> HourlySeries:
    """Complete hours before ``issued_at``, from ``history_days`` days before the last one's day."""
    end = min(math.floor(issued_at / SECONDS_PER_HOUR), series.end_hour)
    return series.between((end // DAY - history_days) * DAY, end)


def _recent_signal(signal: Signal, issued_at: float, history_days: int) -> Signal:
    """The points before ``issued_at`` from ``history_days`` days before the issue day."""
    day = math.floor(min(issued_at, signal.end) / SECONDS_PER_HOUR) // DAY
    start = max(signal.start, (day - history_days) * DAY * SECONDS_PER_HOUR)
    if start >= issued_at:
        raise SignalError(f"{signal.region}: no history before the forecast time to forecast from")
    return signal.window(start, issued_at)
