"""The fleet's cold-start forecast: the same-hour profile anchored on the last hour."""

from __future__ import annotations

import numpy as np
import pytest

from carbon_aware.engine.fleet_forecast import AnchoredProfile, fleet_forecaster
from carbon_aware.engine.forecast import HourlySeries, NaiveMedian7


def test_the_last_deviation_from_the_profile_carries_on_and_decays() -> None:
    days = 8
    profile = 100 + 50 * np.sin(np.arange(24) / 24 * 2 * np.pi)
    values = np.tile(profile, days)
    values[-1] += 80.0  # the last hour is 80 above its usual value
    series = HourlySeries("r", 0, values)
    end = series.end_hour
    forecast = AnchoredProfile(decay=0.5).predict(series, end, 3)
    plain = NaiveMedian7().predict(series, end, 3)
    np.testing.assert_allclose(forecast - plain, [40.0, 20.0, 10.0])
    np.testing.assert_allclose(plain, profile[:3])


def test_a_later_first_hour_decays_from_the_last_known_hour() -> None:
    series = HourlySeries("r", 0, np.r_[np.full(47, 100.0), 160.0])
    gap = AnchoredProfile(decay=0.5).predict(series, series.end_hour + 2, 1)
    assert gap[0] == pytest.approx(100.0 + 60.0 * 0.5**3)


def test_the_fleet_forecaster_uses_it_until_the_history_model_fits() -> None:
    assert isinstance(fleet_forecaster().fallback, AnchoredProfile)
