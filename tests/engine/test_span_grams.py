"""Grams of many spans at once equal the one-span accounting walk, error messages included."""

from __future__ import annotations

import numpy as np
import pytest

from carbon_aware.engine import Segment, Signal, SignalError, SignalSet
from carbon_aware.engine.accounting import emissions_g
from carbon_aware.engine.span_grams import span_grams

T0 = 1_700_000_000.0


def test_span_grams_equal_the_one_span_walk() -> None:
    rng = np.random.default_rng(11)
    signals = []
    for name in ("a", "b"):
        steps = rng.choice([300.0, 900.0, 3600.0], size=300)
        times = T0 + float(rng.integers(0, 7200)) + np.concatenate(([0.0], np.cumsum(steps)))
        values = rng.uniform(0, 800, size=times.size - 1).round(2)
        signals.append(Signal.from_points(name, times[:-1], values, end=float(times[-1])))
    actual = SignalSet.of(signals)
    spans, powers = [], []
    for _ in range(2000):
        start = T0 + float(rng.uniform(-3600, 300 * 1800))
        length = float(rng.choice([0.0, 1.0, 600.0, 3600.0, 5 * 3600.0, 30 * 3600.0]))
        spans.append(Segment(str(rng.choice(["a", "b", "zz"])), start, start + length))
        powers.append(float(rng.uniform(1, 2000)))
    got = span_grams(spans, powers, actual)
    errors = 0
    for span, power, value in zip(spans, powers, got, strict=True):
        if span.region not in actual:
            assert value == f"no actual data for region {span.region}"
            errors += 1
            continue
        try:
            expected = emissions_g(actual[span.region], power, span.start, span.end)
        except SignalError as exc:
            assert value == str(exc)
            errors += 1
            continue
        assert value == expected and type(value) is type(expected), span
        assert round(value, 3) == round(expected, 3)
    assert 100 < errors < 1500


def test_multi_piece_span_sums_every_piece() -> None:
    signal = Signal.from_points("a", [T0, T0 + 600, T0 + 1200], [100.0, 200.0, 400.0])
    (grams,) = span_grams([Segment("a", T0 + 300, T0 + 1500)], [1000.0], SignalSet.of([signal]))
    assert grams == pytest.approx((300 * 100 + 600 * 200 + 300 * 400) / 3600)
