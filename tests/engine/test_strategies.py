"""Strategy behaviour beyond exactness: blends, constraints, carbon_time, infeasibility, batches."""

from __future__ import annotations

import math

import pytest

from carbon_aware.engine import (
    STRATEGIES,
    Signal,
    SignalSet,
    StrategyError,
    Workload,
    get_strategy,
    place_all,
)
from carbon_aware.engine.workload import RegionPrice

T0 = 1_700_000_000.0
H = 3600.0


def hourly(region: str, values: list[float]) -> Signal:
    return Signal.from_points(region, [T0 + H * i for i in range(len(values))], values)


SIGNALS = SignalSet.of(
    [
        hourly("clean-dear", [100, 100, 100, 100]),
        hourly("dirty-cheap", [400, 400, 400, 400]),
        hourly("home", [300, 200, 50, 300]),
    ]
)


def job(**overrides: object) -> Workload:
    fields = {
        "id": "w",
        "submitted_at": T0,
        "duration": H,
        "deadline": T0 + 4 * H,
        "home_region": "home",
        "regions": ("home", "clean-dear", "dirty-cheap"),
        "power_watts": 1000.0,
        "prices": {
            "clean-dear": RegionPrice(on_demand=4.0),
            "dirty-cheap": RegionPrice(on_demand=1.0),
            "home": RegionPrice(on_demand=2.0),
        },
    }
    fields.update(overrides)
    return Workload(**fields)


def test_every_documented_strategy_is_registered() -> None:
    assert set(STRATEGIES) == {
        "time_shift",
        "location_shift",
        "combined",
        "carbon_time",
        "carbon_first",
        "balanced",
        "cost_first",
        "follow_the_sun",
    }


def test_basic_strategies_choose_as_documented() -> None:
    w = job()
    assert (get_strategy("time_shift").place(w, SIGNALS).start - T0) / H == 2
    assert get_strategy("location_shift").place(w, SIGNALS).region == "clean-dear"
    combined = get_strategy("combined").place(w, SIGNALS)
    assert (combined.region, combined.start) == ("home", T0 + 2 * H)
    assert math.isclose(combined.emissions_g, 50.0)
    assert math.isclose(combined.cost_usd, 2.0)


def test_cost_weight_moves_the_choice_to_the_cheap_region() -> None:
    w = job()
    assert get_strategy("carbon_first").place(w, SIGNALS).region == "home"
    assert get_strategy("cost_first").place(w, SIGNALS).region == "dirty-cheap"


def test_carbon_price_puts_both_terms_in_dollars() -> None:
    w = job(power_watts=1_000_000.0)  # 1 MW for 1 h: 50 kg at home at the best hour
    # At 100 $/t the home slot costs 2 + 5 = 7 $; dirty-cheap 1 + 40 = 41 $.
    pricey = get_strategy("balanced", carbon_price_usd_per_tonne=100.0).place(w, SIGNALS)
    assert pricey.region == "home"
    # At 0.01 $/t carbon hardly counts: the cheapest region wins.
    cheap = get_strategy("balanced", carbon_price_usd_per_tonne=0.01).place(w, SIGNALS)
    assert cheap.region == "dirty-cheap"


def test_constraints_filter_candidates_and_explain_infeasibility() -> None:
    w = job(deadline=T0 + H, regions=("home", "dirty-cheap"))
    capped = get_strategy("cost_first", max_carbon=350.0).place(w, SIGNALS)
    assert capped.region == "home"
    none = get_strategy("cost_first", max_carbon=10.0).place(w, SIGNALS)
    assert not none.placed and "max_carbon" in none.reason
    budget = get_strategy("carbon_first", max_cost=1.5).place(job(), SIGNALS)
    assert budget.region == "dirty-cheap"


def test_carbon_time_trades_delay_for_savings() -> None:
    # Waiting 2 h saves 250 g/kWh-h over a 3 h completion: better than 100 over 2 h.
    placed = get_strategy("carbon_time").place(job(), SIGNALS)
    assert placed.start == T0 + 2 * H
    flat = SignalSet.of([hourly("home", [100, 100, 100, 100])])
    now = get_strategy("carbon_time").place(job(regions=("home",)), flat)
    assert now.start == T0


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_infeasible_workloads_get_a_reason_not_an_exception(name: str) -> None:
    no_data = job(regions=("mars",), home_region="mars")
    assert "no allowed region has carbon data" in get_strategy(name).place(no_data, SIGNALS).reason
    beyond = job(submitted_at=T0 + 10 * H, deadline=T0 + 12 * H)
    result = get_strategy(name).place(beyond, SIGNALS)
    assert not result.placed and "does not cover" in result.reason


def test_a_batch_never_raises_and_keeps_order() -> None:
    jobs = [job(id="a"), job(id="b", regions=("mars",), home_region="mars"), job(id="c")]
    results = place_all(jobs, SIGNALS, get_strategy("combined"))
    assert [r.workload_id for r in results] == ["a", "b", "c"]
    assert [r.status for r in results] == ["placed", "infeasible", "placed"]


def test_unknown_strategy_and_bad_options_are_clear() -> None:
    with pytest.raises(StrategyError, match="unknown strategy"):
        get_strategy("random")
    with pytest.raises(StrategyError, match="carbon_weight"):
        get_strategy("balanced", carbon_weight=2.0)
    with pytest.raises(StrategyError, match="time_shift"):
        get_strategy("time_shift", carbon_weight=0.5)
