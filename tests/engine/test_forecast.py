"""Forecasting from history: no look-ahead, honest metadata, and better than the naive baselines."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from carbon_aware.engine import Signal, SignalError, SignalSet, Workload, get_strategy
from carbon_aware.engine.backtest import run_backtest
from carbon_aware.engine.forecast import (
    FORECASTERS,
    get_forecaster,
    history_forecast_fn,
    hourly_means,
)

T0 = 1_672_531_200.0  # 2023-01-01T00:00:00Z
H = 3600.0
DATA = (
    Path(__file__).resolve().parents[2]
    / ".."
    / "shared/data/carbon/hourly_2021_2023_16zones_lifecycle.csv"
)


def daily_pattern(days: int, seed: int = 0, noise: float = 15.0) -> Signal:
    """A clean midday dip, a weekly level and noise: what grids look like, roughly."""
    rng = np.random.default_rng(seed)
    hours = np.arange(days * 24)
    values = (
        300
        - 120 * np.exp(-(((hours % 24) - 13) ** 2) / 8)
        + 30 * np.sin(2 * np.pi * hours / (24 * 7))
        + np.cumsum(rng.normal(0, noise / 4, hours.size)) * 0.2
        + rng.normal(0, noise, hours.size)
    )
    return Signal.from_points("zone", T0 + H * hours, np.clip(values, 5, None))


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_nothing_at_or_after_issue_time_changes_the_forecast(name: str) -> None:
    signal = daily_pattern(60)
    issued = T0 + 50 * 86400 + 5 * H
    past = signal.window(signal.start, issued)
    tampered = Signal.from_points(
        "zone",
        signal.times,
        np.where(signal.times >= issued, 9999.0, signal.values),
    )
    a = get_forecaster(name).forecast(past, issued, 30 * H)
    b = get_forecaster(name).forecast(tampered, issued, 30 * H)
    assert np.array_equal(a.values, b.values) and np.array_equal(a.times, b.times)


@pytest.mark.parametrize("name", sorted(FORECASTERS))
def test_output_covers_the_horizon_with_honest_metadata(name: str) -> None:
    signal = daily_pattern(60)
    issued = T0 + 50 * 86400 + 0.5 * H  # mid-hour
    forecast = get_forecaster(name).forecast(signal.window(signal.start, issued), issued, 30 * H)
    assert forecast.times[0] == issued and forecast.end >= issued + 30 * H
    assert np.all(np.diff(forecast.times[1:]) == H) and forecast.times[1] % H == 0
    assert forecast.estimated and forecast.source == f"forecast:{name}"
    assert forecast.signal_type == signal.signal_type and np.all(forecast.values >= 0)


def test_irregular_five_minute_history_becomes_exact_hourly_means() -> None:
    times = [T0 + 300 * i for i in range(24)] + [T0 + 2 * H + 900 * i for i in range(4)]
    values = [100.0] * 12 + [200.0] * 12 + [10, 20, 30, 40]
    start, hourly = hourly_means(Signal.from_points("z", times, values, end=T0 + 3 * H), T0 + 3 * H)
    assert start == T0 and hourly.tolist() == [100.0, 200.0, 25.0]


def test_naive_baselines_are_what_they_say() -> None:
    hours = np.arange(10 * 24)
    values = (hours % 24) * 10.0 + (hours // 24)  # hour of day, plus the day number
    signal = Signal.from_points("z", T0 + H * hours, values)
    issued = T0 + 10 * 86400
    yesterday = get_forecaster("naive_yesterday").forecast(signal, issued, 24 * H)
    assert yesterday.values.tolist() == [h * 10.0 + 9 for h in range(24)]
    median7 = get_forecaster("naive_median7").forecast(signal, issued, 24 * H)
    assert median7.values.tolist() == [h * 10.0 + 6 for h in range(24)]  # days 3..9


def test_history_forecaster_beats_both_naive_baselines_where_it_counts() -> None:
    signal = daily_pattern(150, seed=3, noise=25.0)
    actual = SignalSet.of([signal])
    start = T0 + 100 * 86400
    jobs = [
        Workload(f"j{i}", start + i * H, 2 * H, start + i * H + 26 * H, "zone", ("zone",), 1000.0)
        for i in range(0, 40 * 24, 5)
    ]
    strategy = get_strategy("time_shift")
    emitted = {}
    for name in FORECASTERS:
        fn = history_forecast_fn(actual, get_forecaster(name))
        emitted[name] = run_backtest(jobs, actual, strategy, fn).summary()["placed_g"]
    assert emitted["history"] < emitted["naive_yesterday"]
    assert emitted["history"] < emitted["naive_median7"]


def test_no_history_is_a_clear_error() -> None:
    short = Signal.from_points("z", [T0], [100.0], end=T0 + 1800)
    with pytest.raises(SignalError, match="no complete hour"):
        get_forecaster("history").forecast(short, T0 + 1800, 24 * H)
    with pytest.raises(SignalError, match="unknown forecaster"):
        get_forecaster("crystal_ball")


def test_short_history_falls_back_to_the_median_profile() -> None:
    signal = daily_pattern(10)
    issued = T0 + 10 * 86400
    history = get_forecaster("history").forecast(signal, issued, 24 * H)
    median7 = get_forecaster("naive_median7").forecast(signal, issued, 24 * H)
    assert np.allclose(history.values, median7.values)


@pytest.mark.skipif(
    not DATA.exists(),
    reason=f"shared data not found at {DATA}: the real-data check of the forecaster needs it",
)
def test_on_real_data_the_forecaster_keeps_most_of_the_oracle_saving() -> None:
    import csv

    with DATA.open(newline="") as handle:
        rows = list(csv.reader(handle))
    col = rows[0].index("DE")
    first = next(i for i, r in enumerate(rows) if r[0].startswith("2023-03-01"))
    chunk = rows[first - 120 * 24 : first + 21 * 24]
    times = [T0 + H * i for i in range(len(chunk))]
    actual = SignalSet.of([Signal.from_points("DE", times, [float(r[col]) for r in chunk])])
    start = times[120 * 24]
    jobs = [
        Workload(f"j{i}", start + i * H, H, start + i * H + 25 * H, "DE", ("DE",), 1000.0)
        for i in range(0, 19 * 24, 3)
    ]
    fn = history_forecast_fn(actual, get_forecaster("history"))
    summary = run_backtest(jobs, actual, get_strategy("time_shift"), fn).summary()
    assert summary["oracle_savings_pct"] > 5
    assert summary["fraction_of_oracle"] > 0.5
    assert math.isfinite(summary["placed_g"])
