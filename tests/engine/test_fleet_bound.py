"""The move-budget bound against hand-computed cases and an exhaustive search of small ones."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from carbon_aware.engine.fleet_bound import FleetBoundError, move_budget_bound

# Two regions over four hours; the oracle goes A, B, B, A (2 moves, 400 carbon-hours).
SWAP = np.array([[100.0, 300.0], [300.0, 100.0], [300.0, 100.0], [100.0, 300.0]])
ONE_MOVE_A_DAY_OVER_FOUR_HOURS = 6.0  # 6 per day x 4 h / 24 = 1 move


def exhaustive(carbon: np.ndarray, budget: float, overlap: float) -> float:
    """Cheapest path within the budget by trying every path."""
    hours, regions = carbon.shape
    best = np.inf
    for path in itertools.product(range(regions), repeat=hours):
        moves = [h for h in range(1, hours) if path[h] != path[h - 1]]
        if len(moves) > budget:
            continue
        cost = sum(carbon[h, r] for h, r in enumerate(path))
        cost += overlap * sum(carbon[h, path[h - 1]] for h in moves)
        best = min(best, cost)
    return float(best)


def test_without_overlap_the_bound_is_the_best_one_move_path() -> None:
    bound = move_budget_bound(
        SWAP, moves_per_instance_day=ONE_MOVE_A_DAY_OVER_FOUR_HOURS, overlap_hours=0.0
    )
    # A, B, B, B or B, B, B, A: 600; no move: 800; both moves (over budget): 400.
    assert bound.budget_moves == pytest.approx(1.0)
    assert bound.plan == pytest.approx(600.0)
    assert bound.plan_moves == 1
    assert bound.floor == pytest.approx(600.0)
    assert bound.plan_moves_per_instance_day == pytest.approx(6.0)


def test_with_overlap_the_floor_is_the_hull_and_the_plan_pays_for_its_overlap() -> None:
    # B dips to 0 for three hours; overlap 0.5 h at the source's carbon. Staying in A: 500.
    # One move never helps (A, B, B, B, B: 100 + 50 + 400 = 550). Two moves: A, B, B, A, A =
    # 100 + 50 (leaving A at 100) + 0 + 0 + 0 (leaving B at 0) + 100 + 100 = 350. Costs
    # 500 / 500 / 350 by moves are not convex: a fleet where half the instances move twice
    # averages one move each and reaches the chord, 425, which is the floor.
    dip = np.array([[100.0, 400.0], [100.0, 0.0], [100.0, 0.0], [100.0, 0.0], [100.0, 400.0]])
    bound = move_budget_bound(dip, moves_per_instance_day=24 / 5, overlap_hours=0.5)
    assert bound.budget_moves == pytest.approx(1.0)
    assert bound.plan == pytest.approx(500.0) == exhaustive(dip, 1, 0.5)
    assert bound.plan_moves == 0
    assert bound.floor == pytest.approx(425.0)


def test_an_unbinding_budget_gives_the_oracle_plus_overlap() -> None:
    bound = move_budget_bound(SWAP, moves_per_instance_day=24.0, overlap_hours=0.0)
    assert bound.floor == bound.plan == pytest.approx(400.0)
    assert bound.plan_moves == 2


@pytest.mark.parametrize("seed", range(12))
def test_floor_and_plan_bracket_the_exhaustive_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hours, regions = 9, 3
    carbon = rng.uniform(50.0, 600.0, size=(hours, regions)).round()
    per_day = float(rng.choice([0.0, 2.0, 5.0, 8.0]))
    overlap = float(rng.choice([0.0, 1 / 12, 0.5]))
    budget = per_day * hours / 24
    best = exhaustive(carbon, budget, overlap)
    bound = move_budget_bound(carbon, moves_per_instance_day=per_day, overlap_hours=overlap)
    assert bound.plan == pytest.approx(best)  # exact within a uniform budget
    assert bound.plan_moves <= budget
    assert bound.floor <= best + 1e-6  # a floor
    assert bound.floor >= exhaustive(carbon, hours, overlap) - 1e-6  # never below no budget


@pytest.mark.parametrize(
    ("carbon", "kwargs", "field"),
    [
        (np.empty((0, 2)), {}, "carbon"),
        (np.array([[1.0, -1.0]]), {}, "carbon"),
        (SWAP, {"moves_per_instance_day": -1.0}, "moves_per_instance_day"),
        (SWAP, {"overlap_hours": float("nan")}, "overlap_hours"),
    ],
)
def test_bad_inputs_name_the_field(
    carbon: np.ndarray, kwargs: dict[str, float], field: str
) -> None:
    arguments = {"moves_per_instance_day": 1.0, "overlap_hours": 0.0, **kwargs}
    with pytest.raises(FleetBoundError, match=field):
        move_budget_bound(carbon, **arguments)
