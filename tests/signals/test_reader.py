"""Cache-only reads: observations behind, forecast ahead, one signal type per ranking."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.signals.cache import SignalCache
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.reader import CarbonReader
from fakes.aws import SIGNALS_TABLE
from fakes.clock import T0

HOUR = 3600.0
MARGINAL = SignalType.MARGINAL


@pytest.fixture
def cache(dynamodb):
    return SignalCache(dynamodb, SIGNALS_TABLE)


def put_forecast(cache, zone, kind, start, values, provider="watttime"):
    times = start + HOUR * np.arange(len(values))
    signal = Signal.from_points(zone, times, values, source=provider, signal_type=kind)
    cache.put_forecast(zone, kind, signal, Provenance(provider, str(kind), False, start))


def test_nothing_cached_means_the_profile(cache, clock):
    reader = CarbonReader(cache, load_catalog(), clock)
    signals = reader.signal_set(["eu-north-1"], T0, T0 + 6 * HOUR)
    signal = signals["eu-north-1"]
    assert signal.estimated and signal.source == "profile"
    assert signal.covers(T0, T0 + 6 * HOUR)


def test_marginal_ranking_falls_back_to_average_for_every_region(cache, clock, caplog):
    put_forecast(cache, "CAISO_NORTH", MARGINAL, T0, [400.0] * 8)
    reader = CarbonReader(cache, load_catalog(), clock, signal_type=MARGINAL)
    caplog.set_level(logging.WARNING)
    mixed = reader.signal_set(["us-west-1", "eu-west-1"], T0, T0 + 6 * HOUR)
    assert mixed.signal_type == "average"
    assert "no marginal signal for eu-west-1" in caplog.text
    only_marginal = reader.signal_set(["us-west-1"], T0, T0 + 6 * HOUR)
    assert only_marginal.signal_type == "marginal"
    assert only_marginal["us-west-1"].values[0] == 400.0


def test_forecast_short_of_the_end_is_completed_by_the_profile(cache, clock):
    put_forecast(cache, "DE", SignalType.AVERAGE, T0, [100.0, 110.0], provider="electricitymaps")
    reader = CarbonReader(cache, load_catalog(), clock)
    signal = reader.signal_set(["eu-central-1"], T0, T0 + 5 * HOUR)["eu-central-1"]
    assert signal.values[:2].tolist() == [100.0, 110.0]
    assert signal.source == "electricitymaps+profile" and signal.estimated
    assert signal.covers(T0, T0 + 5 * HOUR)


def test_current_prefers_a_recent_observation_then_the_forecast(cache, clock):
    reader = CarbonReader(cache, load_catalog(), clock)
    observed = Signal.from_points("DE", [T0 - HOUR], [250.0], source="electricitymaps")
    cache.put_observations("DE", observed, Provenance("electricitymaps", "average", False, T0))
    put_forecast(cache, "DE", SignalType.AVERAGE, T0, [300.0] * 48, provider="electricitymaps")
    fresh = reader.current("eu-central-1")
    assert (fresh.value, fresh.stale) == (250.0, False)
    clock.advance(5 * HOUR)
    later = reader.current("eu-central-1")
    assert (later.value, later.stale, later.provenance.provider) == (300.0, True, "electricitymaps")
