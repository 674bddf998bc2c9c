"""Interruptible work: the segment programme against exhaustive search on small instances."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_aware.engine import Signal, SignalSet, Workload, get_strategy
from carbon_aware.engine.segments import plan_segments

T0 = 1_700_000_000.0
SLOT = 900.0


@st.composite
def instances(draw: st.DrawFn) -> dict:
    n_regions = draw(st.integers(1, 2))
    n_slots = draw(st.integers(2, 7))
    units = draw(st.integers(1, min(4, n_slots)))
    min_units = draw(st.integers(1, 3))
    # Values every 5 minutes, so a slot's cost is a sum of three steps.
    values = [
        draw(st.lists(st.integers(0, 30), min_size=3 * n_slots, max_size=3 * n_slots))
        for _ in range(n_regions)
    ]
    penalty = draw(st.sampled_from([0.0, 3.0, math.inf]))
    return {
        "regions": ["a", "b"][:n_regions],
        "n_slots": n_slots,
        "units": units,
        "min_units": min_units,
        "values": values,
        "penalty": penalty,
    }


def signals_of(case: dict) -> SignalSet:
    times = [T0 + 300.0 * i for i in range(3 * case["n_slots"])]
    return SignalSet.of(
        Signal.from_points(r, times, v, end=T0 + SLOT * case["n_slots"])
        for r, v in zip(case["regions"], case["values"], strict=True)
    )


def exhaustive(case: dict) -> float:
    """Cheapest assignment of slots to idle/regions meeting every rule (grams at 1 kW)."""
    regions, units, m = case["regions"], case["units"], min(case["min_units"], case["units"])
    slot_cost = [
        [sum(v[3 * j : 3 * j + 3]) * 300.0 / 3600.0 for j in range(case["n_slots"])]
        for v in case["values"]
    ]
    best = math.inf
    for plan in itertools.product([None, *range(len(regions))], repeat=case["n_slots"]):
        if sum(p is not None for p in plan) != units:
            continue
        runs = [(k, len(list(g))) for k, g in itertools.groupby(plan) if k is not None]
        # Consecutive runs in the same region split only by idle slots are separate segments.
        if any(length < m for _, length in runs):
            continue
        moves = sum(1 for (a, _), (b, _) in itertools.pairwise(runs) if a != b)
        carbon = sum(slot_cost[r][j] for j, r in enumerate(plan) if r is not None)
        best = min(best, carbon + (case["penalty"] * moves if moves else 0.0))
    return best


@settings(max_examples=250, deadline=None)
@given(instances())
def test_programme_matches_exhaustive_search(case: dict) -> None:
    signals = signals_of(case)
    plan = plan_segments(
        signals.matrix,
        case["regions"],
        T0,
        T0 + SLOT * case["n_slots"],
        SLOT * case["units"],
        SLOT * case["min_units"],
        1000.0,
        case["penalty"],
    )
    expected = exhaustive(case)
    if math.isinf(expected):
        assert plan is None
        return
    assert plan is not None
    assert math.isclose(plan.objective_g, expected, rel_tol=1e-9, abs_tol=1e-9)
    # The segments themselves must honour the rules and add up to the reported emissions.
    assert sum(s.end - s.start for s in plan.segments) == SLOT * case["units"]
    min_len = SLOT * min(case["min_units"], case["units"])
    assert all(s.end - s.start >= min_len for s in plan.segments)
    assert all(a.end <= b.start for a, b in itertools.pairwise(plan.segments))
    carbon = sum(signals[s.region].emissions_g(1000.0, s.start, s.end) for s in plan.segments)
    assert math.isclose(plan.emissions_g, carbon, rel_tol=1e-9, abs_tol=1e-9)
    moves = sum(1 for a, b in itertools.pairwise(plan.segments) if a.region != b.region)
    if math.isinf(case["penalty"]):
        assert moves == 0


def test_time_shift_splits_interruptible_work_into_the_cleanest_slots() -> None:
    # Clean hours at 1-2 h and 5-6 h, dirty elsewhere: a 2 h job with 1 h segments takes both.
    values = [500, 10, 500, 500, 500, 20, 500, 500]
    signal = Signal.from_points("home", [T0 + 3600 * i for i in range(8)], values)
    workload = Workload(
        "w",
        T0,
        7200.0,
        T0 + 8 * 3600,
        "home",
        ("home",),
        1000.0,
        interruptible=True,
        min_segment=3600.0,
    )
    placement = get_strategy("time_shift").place(workload, SignalSet.of([signal]))
    assert [(s.start - T0, s.end - T0) for s in placement.segments] == [
        (3600, 7200),
        (18000, 21600),
    ]
    assert math.isclose(placement.emissions_g, 30.0)


def test_follow_the_sun_moves_only_when_the_saving_beats_the_penalty() -> None:
    times = [T0 + 3600 * i for i in range(4)]
    east = Signal.from_points("east", times, [100, 100, 400, 400])
    west = Signal.from_points("west", times, [400, 400, 100, 100])
    signals = SignalSet.of([east, west])
    workload = Workload(
        "w",
        T0,
        4 * 3600.0,
        T0 + 4 * 3600,
        "east",
        ("east", "west"),
        1000.0,
        interruptible=True,
        min_segment=3600.0,
    )
    cheap = get_strategy("follow_the_sun", migration_penalty_g=50.0).place(workload, signals)
    assert [s.region for s in cheap.segments] == ["east", "west"]
    assert math.isclose(cheap.emissions_g, 400.0)
    dear = get_strategy("follow_the_sun", migration_penalty_g=700.0).place(workload, signals)
    assert len({s.region for s in dear.segments}) == 1
    assert math.isclose(dear.emissions_g, 1000.0)
