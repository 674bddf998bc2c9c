"""Emissions accounting without numpy: duration-weighted grams, provenance, one class each."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbon_aware.engine.accounting import (
    Emissions,
    ProviderClass,
    Series,
    account,
    comparison,
    emissions_g,
    provider_class,
)
from carbon_aware.engine.signal import Signal, SignalError, SignalType

H = 3600.0


def series(values: list[float], source: str = "electricitymaps", **kw: object) -> Series:
    return Series.from_points(
        "r", [i * H for i in range(len(values))], values, end=len(values) * H, source=source, **kw
    )


def test_grams_are_weighted_by_the_time_each_value_holds() -> None:
    s = series([100.0, 300.0])
    # Half an hour at 100 and a quarter hour at 300, at 2 kW.
    assert emissions_g(s, 2000.0, 0.5 * H, 1.25 * H) == pytest.approx(
        (50.0 + 75.0) * 2 / 1000 * 1000
    )


def test_an_interval_the_series_does_not_cover_is_an_error() -> None:
    with pytest.raises(SignalError, match="does not cover"):
        emissions_g(series([100.0]), 1000.0, -60.0, 60.0)
    with pytest.raises(SignalError, match="does not cover"):
        emissions_g(series([100.0]), 1000.0, 0.0, H + 1)


@given(
    values=st.lists(st.floats(0, 2000, allow_nan=False), min_size=1, max_size=30),
    a=st.floats(0, 1),
    b=st.floats(0, 1),
)
def test_same_grams_as_the_numpy_signal(values: list[float], a: float, b: float) -> None:
    a, b = sorted((a * len(values) * H, b * len(values) * H))
    plain = series(values)
    signal = Signal.from_points("r", list(plain.times), values, end=plain.end)
    assert emissions_g(plain, 700.0, a, b) == pytest.approx(
        signal.emissions_g(700.0, a, b), rel=1e-9, abs=1e-9
    )


def test_bad_points_are_rejected_naming_the_region() -> None:
    with pytest.raises(SignalError, match=r"r: .*negative"):
        series([1.0, -1.0])
    with pytest.raises(SignalError, match=r"r: .*non-finite"):
        series([float("nan")])
    with pytest.raises(SignalError, match="r: times must be strictly increasing"):
        Series.from_points("r", [0.0, 0.0], [1.0, 1.0])


def test_window_matches_the_signal_window() -> None:
    plain = series([1.0, 2.0, 3.0, 4.0])
    signal = Signal.of_series(plain)
    for a, b in [(0.5 * H, 2.5 * H), (H, 3 * H), (0.0, 4 * H), (1.2 * H, 1.3 * H)]:
        got, want = plain.window(a, b), signal.window(a, b)
        assert list(got.times) == want.times.tolist() and list(got.values) == want.values.tolist()
        assert got.end == want.end


def test_provider_class_is_the_weakest_joined_source() -> None:
    assert provider_class("watttime") is ProviderClass.PROVIDER
    assert provider_class("history") is ProviderClass.FORECAST
    assert provider_class("electricitymaps+profile") is ProviderClass.PROFILE
    assert provider_class("static-factor") is ProviderClass.PROFILE


def test_comparison_refuses_mixed_signal_types_or_classes() -> None:
    average = account(series([100.0]), 1000.0, 0.0, H)
    marginal = account(series([400.0], signal_type=SignalType.MARGINAL), 1000.0, 0.0, H)
    with pytest.raises(SignalError, match="marginal provider data with a baseline on average"):
        comparison(marginal, average)
    profile = account(series([100.0], source="profile"), 1000.0, 0.0, H)
    with pytest.raises(SignalError, match="provider data with a baseline on average profile"):
        comparison(average, profile)


def test_comparison_records_provenance_per_side_when_providers_differ() -> None:
    run = Emissions(10.0, "electricitymaps", SignalType.AVERAGE, False)
    baseline = Emissions(30.0, "ukci", SignalType.AVERAGE, True)
    fields = comparison(run, baseline)
    assert fields["saved_g"] == 20.0 and fields["estimated"] is True
    assert (fields["provider"], fields["baseline_provider"]) == ("electricitymaps", "ukci")
    assert (fields["provider_class"], fields["signal_type"]) == ("provider", "average")


def test_accounting_imports_no_numpy() -> None:
    code = "import sys, carbon_aware.engine.accounting; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
