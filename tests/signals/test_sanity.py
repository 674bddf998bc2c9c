"""Data sanity: bad points are dropped with a logged reason, all-bad answers are errors."""

from __future__ import annotations

import logging

import pytest

from carbon_aware.signals.errors import BadResponse, NoData
from carbon_aware.signals.sanity import clean
from fakes.clock import T0

NOW_ISO = "2025-03-06T12:00:00Z"


def test_keeps_good_points_sorted_and_scaled():
    points = [("2025-03-06T13:00:00Z", 100), (NOW_ISO, "200.5")]
    cleaned = clean("p", "Z", points, scale=0.5)
    assert cleaned.times == [T0, T0 + 3600]
    assert cleaned.values == [100.25, 50.0]
    assert cleaned.rejected == {}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (float("nan"), "not a number"),
        ("NaN", "not a number"),
        ("abc", "not a number"),
        (None, "missing value"),
        (True, "missing value"),
        (-5, "negative"),
        (2500, "absurd"),
    ],
)
def test_rejects_bad_values_with_a_logged_reason(value, reason, caplog):
    caplog.set_level(logging.WARNING)
    cleaned = clean("p", "Z", [(NOW_ISO, 100), ("2025-03-06T13:00:00Z", value)])
    assert cleaned.values == [100.0]
    (only,) = cleaned.rejected
    assert reason in only
    assert any(reason in r.getMessage() and "p Z" in r.getMessage() for r in caplog.records)


def test_rejects_stale_future_repeated_and_unreadable_times():
    points = [
        ("2025-03-05T00:00:00Z", 1),
        ("2025-03-09T00:00:00Z", 2),
        (NOW_ISO, 3),
        (NOW_ISO, 4),
        ("yesterday", 5),
        (None, 6),
    ]
    cleaned = clean("p", "Z", points, oldest=T0 - 3600, newest=T0 + 3600)
    assert cleaned.values == [3.0]
    assert sorted(cleaned.rejected) == [
        "in the future (after 2025-03-06T13:00:00Z)",
        "missing datetime",
        "repeated time",
        "stale (before 2025-03-06T11:00:00Z)",
        "unreadable datetime",
    ]


def test_unit_mixup_shows_as_absurd_values():
    # MOER in lbs/MWh read as if it were g/kWh * 1000: every point is out of range.
    with pytest.raises(BadResponse, match=r"no usable points \(2 absurd"):
        clean(
            "watttime", "CAISO_NORTH", [(NOW_ISO, 870), ("2025-03-06T12:05:00Z", 860)], scale=1000
        )


def test_empty_answer_is_no_data():
    with pytest.raises(NoData, match="Z: empty data"):
        clean("p", "Z", [])
