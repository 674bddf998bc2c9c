"""With a perfect forecast, time_shift, location_shift and combined return the true optimum.

The brute force below shares no code with the engine: it integrates the step series directly, for
every start on a one-minute grid. Signals here have integer-minute breakpoints, integer values and
integer durations, so every breakpoint the engine considers lies on that grid and sums are exact.
"""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_aware.engine import Signal, SignalSet, Workload, get_strategy

T0 = 1_700_000_000.0
MIN = 60.0


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[SignalSet, Workload]:
    n_regions = draw(st.integers(1, 4))
    names = draw(
        st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=n_regions, unique=True)
    )
    signals = []
    for name in names:
        first = draw(st.integers(0, 30))
        steps = draw(st.lists(st.integers(1, 90), min_size=1, max_size=25))
        times = list(itertools.accumulate([first, *steps]))
        values = draw(st.lists(st.integers(0, 40), min_size=len(times), max_size=len(times)))
        signals.append(
            Signal.from_points(
                name,
                [T0 + t * MIN for t in times[:-1]],
                values[:-1],
                end=T0 + times[-1] * MIN,
            )
        )
    earliest = draw(st.integers(0, 60))
    duration = draw(st.integers(1, 240))
    slack = draw(st.integers(0, 600))
    home = draw(st.sampled_from(names))
    workload = Workload(
        id="w",
        submitted_at=T0 + earliest * MIN,
        duration=duration * MIN,
        deadline=T0 + (earliest + duration + slack) * MIN,
        home_region=home,
        regions=tuple(names),
        power_watts=1000.0,
    )
    return SignalSet.of(signals), workload


def brute_force_integral(signal: Signal, a: float, b: float) -> float | None:
    """g/kWh x seconds over [a, b) by walking the steps; None when not covered."""
    if a < signal.times[0] or b > signal.end:
        return None
    total = 0.0
    edges = [*signal.times.tolist(), signal.end]
    for value, lo, hi in zip(signal.values.tolist(), edges, edges[1:], strict=False):
        overlap = min(hi, b) - max(lo, a)
        if overlap > 0:
            total += value * overlap
    return total


def brute_force(
    signals: SignalSet, workload: Workload, regions: list[str], starts: list[float]
) -> tuple[float, float, str] | None:
    """Lowest (grams, start, region) with tie-break earliest start, home region, then name."""
    best = None
    for start in starts:
        for region in regions:
            if region not in signals:
                continue
            total = brute_force_integral(signals[region], start, start + workload.duration)
            if total is None:
                continue
            key = (total, start, region != workload.home_region, region)
            if best is None or key < best:
                best = key
    if best is None:
        return None
    return best[0] / 3600.0 * workload.power_watts / 1000.0, best[1], best[3]


def minute_starts(workload: Workload) -> list[float]:
    count = int((workload.latest_start - workload.submitted_at) / MIN)
    return [workload.submitted_at + i * MIN for i in range(count + 1)]


def check(strategy: str, signals: SignalSet, workload: Workload, regions: list[str], starts: list):
    expected = brute_force(signals, workload, regions, starts)
    placement = get_strategy(strategy).place(workload, signals)
    if expected is None:
        assert not placement.placed, placement
        assert placement.reason
        return
    grams, start, region = expected
    assert placement.placed, placement.reason
    assert math.isclose(placement.emissions_g, grams, rel_tol=1e-9, abs_tol=1e-9)
    assert (placement.start, placement.region) == (start, region)
    assert placement.segments[0].end - placement.segments[0].start == workload.duration


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_time_shift_is_optimal(scenario: tuple[SignalSet, Workload]) -> None:
    signals, workload = scenario
    check("time_shift", signals, workload, [workload.home_region], minute_starts(workload))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_location_shift_is_optimal(scenario: tuple[SignalSet, Workload]) -> None:
    signals, workload = scenario
    check("location_shift", signals, workload, list(workload.regions), [workload.submitted_at])


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_combined_is_optimal(scenario: tuple[SignalSet, Workload]) -> None:
    signals, workload = scenario
    check("combined", signals, workload, list(workload.regions), minute_starts(workload))


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_combined_never_worse_than_the_narrower_strategies(
    scenario: tuple[SignalSet, Workload],
) -> None:
    signals, workload = scenario
    combined = get_strategy("combined").place(workload, signals)
    for name in ("time_shift", "location_shift"):
        other = get_strategy(name).place(workload, signals)
        if other.placed:
            assert combined.placed
            assert combined.emissions_g <= other.emissions_g + 1e-9
