"""Fleet simulation on small synthetic series where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from carbon_aware.engine.fleet_policy import FleetPolicy
from carbon_aware.engine.fleet_sim import (
    FleetSimError,
    FleetSimInputs,
    history_forecast,
    home_allocation,
    oracle_allocation,
    perfect_forecast,
    run_allocation,
    run_optimizer,
    static_allocation,
)
from carbon_aware.engine.forecast import NaiveYesterday

REGIONS = ("home", "clean", "mid")
START = 1_700_000_000 - 1_700_000_000 % 3600


def inputs(carbon: np.ndarray, **kwargs: object) -> FleetSimInputs:
    hours = carbon.shape[0]
    defaults: dict[str, object] = {
        "regions": REGIONS,
        "start": START,
        "carbon": carbon,
        "spot_price": np.full((hours, len(REGIONS)), 0.1),
        "placement_score": (10, 10, 10),
        "kwh_per_instance_hour": 0.05,
    }
    defaults.update(kwargs)
    return FleetSimInputs(**defaults)  # type: ignore[arg-type]


def policy(**kwargs: object) -> FleetPolicy:
    defaults: dict[str, object] = {
        "name": "sim",
        "regions": REGIONS,
        "strategy": "follow_the_sun",
        "min_total": 10,
        "max_total": 10,
        "hysteresis": 0.0,
        "dwell_minutes": 60,
    }
    defaults.update(kwargs)
    return FleetPolicy(**defaults)  # type: ignore[arg-type]


def test_one_region_always_cleaner_is_reached_within_max_step_runs() -> None:
    hours = 24
    carbon = np.tile([400.0, 100.0, 300.0], (hours, 1))
    sim = inputs(carbon)
    fleet = policy(max_step=2, dwell_minutes=0)
    start = np.tile([10, 0, 0], (hours, 1))  # the fleet begins all at home
    home = run_allocation("home", sim, start, policy=fleet)
    result = run_optimizer("opt", sim, fleet, 10, perfect_forecast(sim))
    # The first run fills the fleet at its target: all in the clean region, no move.
    assert result.mean_share["clean"] == pytest.approx(1.0)
    assert result.moves == 0
    assert result.grams == pytest.approx(10 * hours * 100.0 * 0.05)
    assert result.grams < home.grams


def test_moves_follow_launch_before_drain_and_never_break_the_minimum() -> None:
    # The clean region swaps every 6 hours: every move runs the new capacity one period early.
    hours = 48
    carbon = np.array(
        [
            [100.0, 400.0, 300.0] if (h // 6) % 2 == 0 else [400.0, 100.0, 300.0]
            for h in range(hours)
        ]
    )
    sim = inputs(carbon)
    fleet = policy(max_step=4, max_share={"home": 0.6, "clean": 0.6, "mid": 0.6})
    result = run_optimizer("opt", sim, fleet, 10, perfect_forecast(sim), runs_per_hour=2)
    assert result.min_in_service == 10
    assert result.periods_below_min == 0
    assert result.moves > 0
    oracle = run_allocation("oracle", sim, oracle_allocation(fleet, carbon, 10), policy=fleet)
    assert oracle.grams < result.grams  # the optimizer pays for overlap and max_step
    assert oracle.moves > 0


def test_oracle_is_at_most_optimizer_which_is_at_most_home() -> None:
    rng = np.random.default_rng(7)
    hours = 24 * 20
    day = np.sin(np.arange(hours) * 2 * np.pi / 24)
    carbon = np.stack(
        [300 + 50 * day, 250 - 120 * day, 280 + 10 * rng.standard_normal(hours)], axis=1
    )
    history = carbon[: 24 * 3]
    sim = inputs(carbon[24 * 3 :], history=history)
    fleet = policy(max_share={"home": 0.5, "clean": 0.5, "mid": 0.5})
    home = run_allocation("home", sim, home_allocation(sim, "home", 10))
    oracle = run_allocation("oracle", sim, oracle_allocation(fleet, sim.carbon, 10))
    naive = run_optimizer("naive", sim, fleet, 10, history_forecast(sim, NaiveYesterday()))
    perfect = run_optimizer("perfect", sim, fleet, 10, perfect_forecast(sim))
    assert oracle.grams <= perfect.grams <= home.grams
    assert oracle.grams <= naive.grams <= home.grams
    assert perfect.periods_below_min == naive.periods_below_min == 0


def test_static_allocation_respects_max_share_and_picks_the_cleanest() -> None:
    fleet = policy(max_share={"home": 0.5, "clean": 0.5, "mid": 0.5})
    assert static_allocation(fleet, [400.0, 100.0, 300.0], 10).tolist() == [0, 5, 5]
    assert static_allocation(policy(), [400.0, 100.0, 300.0], 10).tolist() == [0, 10, 0]


def test_oracle_allocation_changes_with_the_hourly_ranking() -> None:
    fleet = policy(max_share={"home": 0.5, "clean": 0.5, "mid": 0.5})
    carbon = np.array([[100.0, 200.0, 300.0], [300.0, 200.0, 100.0]])
    assert oracle_allocation(fleet, carbon, 10).tolist() == [[5, 5, 0], [0, 5, 5]]


def test_history_forecast_sees_no_hour_from_the_future() -> None:
    carbon = np.tile([100.0, 200.0, 300.0], (48, 1))
    carbon[30] = 999.0
    sim = inputs(carbon, history=np.tile([100.0, 200.0, 300.0], (24, 1)))
    forecast = history_forecast(sim, NaiveYesterday())
    assert forecast(30, 1)[0].tolist() == [100.0, 200.0, 300.0]
    assert forecast(31, 24)[23].tolist() == [999.0, 999.0, 999.0]  # seen the next day


def test_bad_inputs_name_the_field() -> None:
    carbon = np.tile([100.0, 200.0, 300.0], (4, 1))
    with pytest.raises(FleetSimError, match="spot_price"):
        inputs(carbon, spot_price=np.zeros((3, 3)))
    with pytest.raises(FleetSimError, match="history"):
        history_forecast(inputs(carbon))
    with pytest.raises(FleetSimError, match="home"):
        home_allocation(inputs(carbon), "elsewhere", 10)
    with pytest.raises(FleetSimError, match="placement_score"):
        inputs(carbon, placement_score=(0, 10, 10))


def test_a_move_runs_both_regions_for_one_period_and_counts_its_launches() -> None:
    # home is cleanest for 2 hours, then clean is: the move launches 10 in clean at hour 2, and
    # home drains at hour 3 once they are InService; hour 2 pays for 20 instances.
    carbon = np.array([[100.0, 300.0, 500.0]] * 2 + [[300.0, 100.0, 500.0]] * 4)
    price = np.array([[0.1, 0.2, 0.3]] * 6)
    sim = inputs(carbon, spot_price=price)
    fleet = policy(dwell_minutes=0, lookahead_hours=2)
    result = run_optimizer("opt", sim, fleet, 10, perfect_forecast(sim))
    running = np.array([[10, 0, 0]] * 2 + [[10, 10, 0]] + [[0, 10, 0]] * 3)
    assert result.grams == pytest.approx((running * carbon).sum() * 0.05)
    assert result.dollars == pytest.approx((running * price).sum())
    assert result.moves == 10
    assert result.min_in_service == 10
    assert result.instance_hours == 60  # held capacity: the launched ones count from hour 3
    assert result.mean_share == pytest.approx({"home": 30 / 70, "clean": 40 / 70, "mid": 0.0})
