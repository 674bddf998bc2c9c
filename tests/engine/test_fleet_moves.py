"""Worthwhile moves: capacity moves only when the forecast saving beats the move cost."""

from __future__ import annotations

import itertools
import random

import pytest

from carbon_aware.engine.fleet import FLEET_STRATEGIES
from carbon_aware.engine.fleet_moves import (
    RegionPath,
    score_paths,
    switching_costs,
    worthwhile_moves,
)
from carbon_aware.engine.fleet_policy import FleetPolicy, GroupState, RegionSignals, decide

BOUNDS = {"a": 0, "b": 0, "c": 0}
HIGH = {"a": 10, "b": 10, "c": 10}


def moves(paths: dict[str, list[float]], alloc: dict[str, int], **kw: object):
    return worthwhile_moves(
        alloc,
        BOUNDS,
        HIGH,
        {r: tuple(p) for r, p in paths.items()},
        hysteresis=kw.get("hysteresis", 0.0),  # type: ignore[arg-type]
        move_cost_hours=kw.get("move_cost_hours", 0.5),  # type: ignore[arg-type]
        budget=kw.get("budget"),  # type: ignore[arg-type]
    )


def brute_force(start: tuple[float, ...], other: tuple[float, ...], cost: float) -> float:
    """Every sequence of regions hour by hour, a switch into hour h costing cost * left[h]."""
    paths = (start, other)
    best = float("inf")
    for rest in itertools.product((0, 1), repeat=len(start) - 1):
        where = (0, *rest)
        total = sum(paths[r][h] for h, r in enumerate(where))
        total += sum(
            cost * paths[where[h - 1]][h] for h in range(1, len(where)) if where[h] != where[h - 1]
        )
        best = min(best, total)
    return best


def test_switching_costs_by_hand_a_dip_the_source_can_reach_later_is_not_chased() -> None:
    source, destination = (1.0, 1.0, 1.0), (0.2, 2.0, 0.2)
    # from source: move on hour 2 (1 + 1 + 0.5 * 1 + 0.2); from destination: stay (2.4)
    assert switching_costs(source, destination, 0.5) == pytest.approx((2.7, 2.4))
    plan = moves({"a": list(source), "b": list(destination)}, {"a": 10, "b": 0})
    assert not plan.moves  # moving now saves 0.3 of a 0.5 cost: wait for hour 2
    assert plan.refused is not None and plan.refused.saving == pytest.approx(0.3)


def test_switching_costs_match_every_path() -> None:
    rng = random.Random(11)
    for _ in range(200):
        hours = rng.randint(1, 7)
        a = tuple(round(rng.uniform(0.1, 2.0), 2) for _ in range(hours))
        b = tuple(round(rng.uniform(0.1, 2.0), 2) for _ in range(hours))
        cost = rng.choice((0.0, 0.25, 0.5, 1.5))
        in_a, in_b = switching_costs(a, b, cost)
        assert in_a == pytest.approx(brute_force(a, b, cost))
        assert in_b == pytest.approx(brute_force(b, a, cost))


def test_a_short_dip_is_refused_and_a_lasting_advantage_moves() -> None:
    short = moves({"a": [1.0] * 6, "b": [0.5] + [1.05] * 5}, {"a": 10, "b": 0})
    assert short.allocation == {"a": 10, "b": 0} and not short.moves
    assert short.refused is not None and short.refused.saving <= short.refused.cost
    lasting = moves({"a": [1.0] * 6, "b": [0.85] * 6}, {"a": 10, "b": 0})
    assert lasting.allocation == {"a": 0, "b": 10}
    # staying would still move on hour 1 (1 + 0.5 + 5 * 0.85): moving now saves 5.75 - 5.1
    assert lasting.moves[0].saving == pytest.approx(0.65) and lasting.moves[0].cost == 0.5


def test_waits_when_moving_later_is_cheaper_and_hysteresis_on_the_mean() -> None:
    later = moves({"a": [1.0] * 6, "b": [1.1] + [0.2] * 5}, {"a": 10, "b": 0})
    assert not later.moves  # b is better later, not now: wait
    near = {"a": [1.0] * 6, "b": [0.96] * 6}
    assert moves(near, {"a": 10, "b": 0}, move_cost_hours=0.0).moves
    assert not moves(near, {"a": 10, "b": 0}, move_cost_hours=0.0, hysteresis=0.05).moves


def test_budget_bounds_and_no_region_both_filled_and_drained() -> None:
    paths = {"a": [1.0] * 6, "b": [0.6] * 6, "c": [0.2] * 6}
    plan = moves(paths, {"a": 4, "b": 6, "c": 0}, budget=7)
    assert sum(m.units for m in plan.moves) == 7
    filled = {m.destination for m in plan.moves}
    drained = {m.source for m in plan.moves}
    assert not filled & drained
    assert plan.allocation == {"a": 0, "b": 3, "c": 7}


def test_score_paths_share_one_scale_and_hold_a_short_forecast() -> None:
    strategy = FLEET_STRATEGIES["carbon_only"]
    paths = score_paths(
        strategy,
        {"a": RegionPath((200.0, 100.0), 0.1, 10), "b": RegionPath((300.0,) * 3, 0.1, 10)},
        3,
    )
    assert paths["b"] == pytest.approx((1.0, 1.0, 1.0))  # b's mean is the scale
    assert paths["a"] == pytest.approx((200 / 300, 100 / 300, 100 / 300))


def test_decide_reports_a_refused_move_and_makes_a_worthwhile_one() -> None:
    regions = ("x", "y")
    # two hours a third cleaner save 0.667 score-hours: less than a 45-minute move
    policy = FleetPolicy(
        "f", regions, "follow_the_sun", 4, 4, dwell_minutes=0, move_cost_minutes=45
    )
    groups = {"x": GroupState("x", 4, 4), "y": GroupState("y", 0, 0)}

    def signals(y: tuple[float, ...]) -> list[RegionSignals]:
        return [RegionSignals("x", (300.0,) * 6, 0.1, 10), RegionSignals("y", y, 0.1, 10)]

    blip = decide(
        policy,
        signals((200.0, 200.0, 300.0, 300.0, 300.0, 300.0)),
        groups,
        total=4,
        now=0,
        last_change_at=None,
    )
    assert blip.allocation == {"x": 4, "y": 0} and blip.held and not blip.changed
    assert "kept: moving x to y would save" in blip.reason
    lasting = decide(policy, signals((200.0,) * 6), groups, total=4, now=0, last_change_at=None)
    assert lasting.allocation == {"x": 0, "y": 4} and lasting.moved == 4
    assert "moved 4 from x to y: forecast saving" in lasting.reason
