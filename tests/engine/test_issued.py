"""Issued forecasts: the latest at or before a decision, never a later one."""

from __future__ import annotations

import pytest

from carbon_aware.engine import Signal, SignalError
from carbon_aware.engine.issued import IssuedForecast, IssuedForecasts

H = 3600.0
T0 = 1_700_000_000.0


def issued(region: str, at: float, first: float, values: list[float]) -> IssuedForecast:
    times = [first + i * H for i in range(len(values))]
    return IssuedForecast(region, at, Signal.from_points(region, times, values))


def test_latest_is_the_last_issued_at_or_before_the_instant() -> None:
    a, b = issued("r", T0, T0, [1.0, 2.0]), issued("r", T0 + 6 * H, T0 + 6 * H, [3.0, 4.0])
    forecasts = IssuedForecasts([b, a])  # any order
    assert forecasts.latest("r", T0 - 1) is None
    assert forecasts.latest("r", T0) is a
    assert forecasts.latest("r", T0 + 6 * H - 1) is a
    assert forecasts.latest("r", T0 + 6 * H) is b
    assert forecasts.latest("elsewhere", T0 + 6 * H) is None


def test_as_of_leaves_out_regions_without_one_and_shares_sets() -> None:
    forecasts = IssuedForecasts([issued("a", T0, T0, [1.0, 2.0]), issued("b", T0 + H, T0, [5.0])])
    seen = forecasts.as_of(["a", "b"], T0 + 10)
    assert seen.regions == ["a"]
    assert forecasts.as_of(["b", "a"], T0 + 20) is seen  # same forecasts seen: same set
    assert forecasts.as_of(["a", "b"], T0 + H).regions == ["a", "b"]
    with pytest.raises(SignalError, match=r"no forecast issued at or before .* for b"):
        forecasts.as_of(["b"], T0)


def test_first_value_stands_from_the_issue_time() -> None:
    late = issued("r", T0 - 600, T0, [7.0, 8.0])
    seen = late.as_seen()
    assert seen.start == T0 - 600 and seen.value_at(T0 - 600) == 7.0 and seen.end == late.signal.end
    assert issued("r", T0, T0, [1.0]).as_seen().start == T0


def test_two_forecasts_issued_at_once_for_a_region_are_an_error() -> None:
    with pytest.raises(SignalError, match="r: two forecasts issued at"):
        IssuedForecasts([issued("r", T0, T0, [1.0]), issued("r", T0, T0, [2.0])])
