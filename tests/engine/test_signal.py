"""Signals: step semantics, duration-weighted integrals, validation and signal-type safety."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbon_aware.engine import Signal, SignalError, SignalSet, SignalType

T0 = 1_700_000_000.0


def test_each_value_holds_until_the_next_point_with_irregular_spacing() -> None:
    # 5-minute, then 55-minute, then hourly steps.
    sig = Signal.from_points("r", [T0, T0 + 300, T0 + 3600], [100, 200, 50], end=T0 + 7200)
    assert sig.value_at(T0 + 299) == 100
    assert sig.value_at(T0 + 300) == 200
    assert sig.value_at(T0 + 7199) == 50
    # 1 kW for 2 h: 100 g/kWh x 5 min + 200 x 55 min + 50 x 60 min.
    expected = (100 * 300 + 200 * 3300 + 50 * 3600) / 3600
    assert math.isclose(sig.emissions_g(1000.0, T0, T0 + 7200), expected)
    # A partial window inside one step.
    assert math.isclose(sig.emissions_g(2000.0, T0 + 600, T0 + 1200), 2 * 200 * 600 / 3600)


def test_default_end_is_one_median_step_after_the_last_point() -> None:
    sig = Signal.from_points("r", [T0, T0 + 3600, T0 + 7200], [1, 2, 3])
    assert sig.end == T0 + 3 * 3600


@pytest.mark.parametrize(
    ("times", "values", "message"),
    [
        ([T0, T0], [1, 2], "strictly increasing"),
        ([T0], [-1], "negative"),
        ([T0], [float("nan")], "non-finite"),
        ([], [], "non-empty"),
    ],
)
def test_malformed_signals_are_rejected(times: list, values: list, message: str) -> None:
    with pytest.raises(SignalError, match=message):
        Signal.from_points("r", times, values)


def test_uncovered_interval_is_an_error() -> None:
    sig = Signal.from_points("r", [T0], [10], end=T0 + 3600)
    with pytest.raises(SignalError, match="does not cover"):
        sig.emissions_g(100, T0, T0 + 3601)


def test_regions_are_never_compared_across_signal_types() -> None:
    avg = Signal.from_points("eu-west-1", [T0], [100])
    marginal = Signal.from_points("us-west-2", [T0], [400], signal_type=SignalType.MARGINAL)
    with pytest.raises(SignalError, match="across signal types"):
        SignalSet.of([avg, marginal])


def test_matrix_resampling_is_exact_on_the_union_grid() -> None:
    a = Signal.from_points("a", [T0, T0 + 300, T0 + 900], [10, 20, 30], end=T0 + 3600)
    b = Signal.from_points("b", [T0 + 600, T0 + 2400], [5, 7], end=T0 + 4000)
    matrix = SignalSet.of([a, b]).matrix
    starts = np.array([T0 + 600, T0 + 1000])
    got = matrix.run_integrals(None, starts, 1200.0)
    assert math.isclose(got[0, 0], float(a.integral(T0 + 600, T0 + 1800)))
    assert math.isclose(got[1, 1], float(b.integral(T0 + 1000, T0 + 2200)))
    # Region a's data ends at T0 + 3600: a run past it is marked uncovered.
    late = matrix.run_integrals(None, np.array([T0 + 3000]), 900.0)
    assert math.isinf(late[0, 0]) and math.isfinite(late[0, 1])


def test_window_keeps_values_and_clips_the_first_point() -> None:
    sig = Signal.from_points("r", [T0, T0 + 3600, T0 + 7200], [1, 2, 3])
    part = sig.window(T0 + 1800, T0 + 9000)
    assert part.times.tolist() == [T0 + 1800, T0 + 3600, T0 + 7200]
    assert part.end == T0 + 9000
    assert math.isclose(
        float(part.integral(part.start, part.end)), float(sig.integral(T0 + 1800, T0 + 9000))
    )
