"""The chain's local estimators: the history forecaster over cached data, the built-in profile."""

from __future__ import annotations

import numpy as np
import pytest

from carbon_aware.engine.forecast import HistoryForecaster as Ridge
from carbon_aware.engine.forecast import HourlySeries, NaiveMedian7
from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.signals.errors import NoData
from carbon_aware.signals.providers.estimates import BuiltinProfile, HistoryForecaster
from fakes.chains import target
from fakes.clock import T0

HOUR = 3600.0


def cached(hours: float, signal_type: SignalType = SignalType.AVERAGE):
    """An observation source holding ``hours`` of hourly history before T0."""
    times = T0 - hours * HOUR + HOUR * np.arange(int(hours))
    values = 300 + 50 * np.sin(2 * np.pi * times / 86400)
    history = Signal.from_points(
        "Z", times, values, source="electricitymaps", signal_type=signal_type
    )
    asked = []

    def observations(zone, kind, start, end):
        asked.append((zone, kind, start, end))
        return history.window(max(start, history.start), min(end, history.end))

    return observations, asked


def test_history_needs_enough_cached_history():
    observations, asked = cached(6)
    with pytest.raises(NoData, match=r"6\.0 h of cached history, needs 24 h"):
        HistoryForecaster(observations).forecast(target("eu-central-1"), T0, 24 * HOUR)
    assert asked == [("DE", SignalType.AVERAGE, T0 - 90 * 24 * HOUR, T0)]


def test_history_forecast_is_estimated_and_keeps_the_signal_type():
    pytest.importorskip("carbon_aware.engine.forecast")
    observations, _ = cached(10 * 24, SignalType.MARGINAL)
    kind = SignalType.MARGINAL
    forecast = HistoryForecaster(observations).forecast(target("us-west-1", kind), T0, 24 * HOUR)
    assert (forecast.source, forecast.estimated, forecast.region) == (
        "history",
        True,
        "CAISO_NORTH",
    )
    assert forecast.signal_type is kind
    assert forecast.covers(T0, T0 + 24 * HOUR)


def test_profile_answers_every_region_labelled():
    estimate = BuiltinProfile().forecast(target("ca-west-1"), T0, 6 * HOUR)
    assert (estimate.source, estimate.estimated, estimate.region) == (
        "static-factor",
        True,
        "ca-west-1",
    )
    profiled = BuiltinProfile().forecast(target("eu-central-1"), T0, 6 * HOUR)
    assert profiled.source == "profile" and profiled.region == "DE"
    assert profiled.covers(T0, T0 + 6 * HOUR)


def test_estimators_have_no_observations():
    with pytest.raises(NoData):
        BuiltinProfile().latest(target("eu-central-1"), T0)


def test_history_reads_enough_for_the_ridge_not_just_the_median():
    observations, _ = cached(60 * 24)  # what the default 90-day cache holds after 60 days
    forecast = HistoryForecaster(observations).forecast(target("eu-central-1"), T0, 24 * HOUR)
    past = observations("DE", SignalType.AVERAGE, T0 - 60 * 24 * HOUR, T0)
    assert Ridge().model_for(HourlySeries.from_signal(past), {}) is not None
    ridge = Ridge().forecast(past, T0, 24 * HOUR)
    median = NaiveMedian7().forecast(past, T0, 24 * HOUR)
    assert np.allclose(forecast.values, ridge.values)
    assert not np.allclose(forecast.values, median.values, rtol=0, atol=1e-6)


def shared_weather(days: int):
    """Observations of DE and FR, which share their weather, and of an unrelated JP."""
    rng = np.random.default_rng(5)
    hours = np.arange(days * 24)
    weather = np.convolve(rng.normal(0, 40, hours.size), np.ones(6) / 3, "same")
    daily = 300 - 100 * np.exp(-(((hours % 24) - 13) ** 2) / 8)
    times = T0 - days * 24 * HOUR + HOUR * hours
    zones = {
        "DE": daily + weather + rng.normal(0, 5, hours.size),
        "FR": 0.5 * daily + weather + rng.normal(0, 5, hours.size),
        "JP": daily + rng.normal(0, 30, hours.size),
    }
    signals = {z: Signal.from_points(z, times, np.clip(v, 5, None)) for z, v in zones.items()}
    asked = []

    def observations(zone, kind, start, end):
        asked.append(zone)
        found = signals.get(zone)
        return None if found is None else found.window(max(start, found.start), min(end, T0))

    return signals, observations, asked


def test_history_offers_the_other_configured_zones_as_peers():
    signals, observations, asked = shared_weather(80)
    estimator = HistoryForecaster(observations, peers=("DE", "FR", "JP", "XX"))
    forecast = estimator.forecast(target("eu-central-1"), T0, 24 * HOUR)
    peered = Ridge().forecast(
        signals["DE"], T0, 24 * HOUR, peers={"FR": signals["FR"], "JP": signals["JP"]}
    )
    alone = Ridge().forecast(signals["DE"], T0, 24 * HOUR)
    assert np.allclose(forecast.values, peered.values)
    assert not np.allclose(forecast.values, alone.values, rtol=1e-3)
    # A zone with nothing cached (XX) is left out; the next zone of the same refresh, a few
    # seconds later, reuses the observations already read; the next refresh reads again.
    estimator.forecast(target("eu-west-3"), T0 + 2.0, 24 * HOUR)
    assert sorted(asked) == ["DE", "FR", "JP", "XX"]
    estimator.forecast(target("eu-west-3"), T0 + 300.0, 24 * HOUR)
    assert sorted(asked) == ["DE", "DE", "FR", "FR", "JP", "JP", "XX", "XX"]
