"""Fleet policy: decide, launch-before-drain plans and scaling tiers (examples and properties)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_aware.engine.fleet_policy import (
    FleetPolicy,
    FleetPolicyError,
    GroupState,
    RegionSignals,
    apply_plan,
    decide,
    scaling_target,
)

REGIONS = ("eu-central-1", "eu-west-1", "eu-west-2")
HOUR = 3600.0


def policy(**kw: object) -> FleetPolicy:
    base: dict[str, object] = {
        "name": "web",
        "regions": REGIONS,
        "strategy": "carbon_first",
        "min_total": 2,
        "max_total": 20,
    }
    base.update(kw)
    return FleetPolicy(**base)  # type: ignore[arg-type]


def signals(carbon: dict[str, float], **kw: object) -> list[RegionSignals]:
    renew = kw.get("renewable", {})
    return [
        RegionSignals(
            r,
            (c,) * 4,
            spot_price=0.1,
            placement_score=9,
            renewable_share=renew.get(r),  # type: ignore[union-attr]
        )
        for r, c in carbon.items()
    ]


def groups(desired: dict[str, int], in_service: dict[str, int] | None = None) -> dict:
    seen = in_service if in_service is not None else desired
    return {r: GroupState(r, desired.get(r, 0), seen.get(r, 0)) for r in REGIONS}


# --- decide ---------------------------------------------------------------------------------


def test_carbon_first_moves_capacity_to_the_cleanest_regions_within_max_share() -> None:
    p = policy(max_share=dict.fromkeys(REGIONS, 0.5), move_cost_minutes=0)
    carbon = {"eu-central-1": 350.0, "eu-west-1": 300.0, "eu-west-2": 150.0}
    d = decide(p, signals(carbon), groups({"eu-central-1": 6}), total=6, now=0, last_change_at=None)
    assert d.allocation == {"eu-central-1": 0, "eu-west-1": 3, "eu-west-2": 3}
    assert d.changed and d.moved == 6
    assert json.loads(json.dumps(d.to_dict()))["allocation"] == d.allocation


def test_forecast_over_the_dwell_horizon_not_the_current_value_decides() -> None:
    # eu-west-1 is cleanest now but dirty for the rest of the next two hours
    sig = [
        RegionSignals("eu-west-1", (50.0, 400.0, 400.0), 0.1, 9),
        RegionSignals("eu-west-2", (200.0, 200.0, 200.0), 0.1, 9),
        RegionSignals("eu-central-1", (300.0, 300.0, 300.0), 0.1, 9),
    ]
    state = groups({"eu-central-1": 4})
    long = decide(
        policy(
            strategy="follow_the_sun", dwell_minutes=120, lookahead_hours=0, move_cost_minutes=30
        ),
        sig,
        state,
        total=4,
        now=0,
        last_change_at=None,
    )
    assert long.allocation["eu-west-2"] == 4
    assert long.inputs["eu-west-1"]["carbon_horizon"] == pytest.approx(225.0)
    short = decide(
        policy(
            strategy="follow_the_sun", dwell_minutes=30, lookahead_hours=0, move_cost_minutes=30
        ),
        sig,
        state,
        total=4,
        now=0,
        last_change_at=None,
    )
    assert short.allocation["eu-west-1"] == 4


def test_renewable_only_excludes_regions_below_threshold_or_unknown_with_reasons() -> None:
    p = policy(strategy="renewable_only", renewable_threshold=0.6, min_total=0)
    carbon = {"eu-central-1": 100.0, "eu-west-1": 300.0, "eu-west-2": 200.0}
    sig = signals(carbon, renewable={"eu-central-1": 0.4, "eu-west-1": 0.7})
    d = decide(p, sig, groups({"eu-central-1": 3}), total=3, now=0, last_change_at=None)
    assert d.excluded == {
        "eu-central-1": "renewable share 40% below the threshold 60%",
        "eu-west-2": "renewable share unknown",
    }
    assert d.allocation == {"eu-central-1": 0, "eu-west-1": 3, "eu-west-2": 0}
    assert "eu-west-2 excluded: renewable share unknown" in d.reason


def test_excluded_region_keeps_its_minimum_share() -> None:
    p = policy(strategy="renewable_only", min_share={"eu-central-1": 0.25})
    sig = signals({r: 100.0 for r in REGIONS}, renewable={"eu-west-1": 0.9, "eu-west-2": 0.9})
    d = decide(p, sig, groups({"eu-central-1": 8}), total=8, now=0, last_change_at=None)
    assert d.allocation["eu-central-1"] == 2 == d.floors["eu-central-1"]


def test_missing_signals_exclude_a_region() -> None:
    sig = signals({"eu-west-1": 100.0, "eu-west-2": 100.0})
    d = decide(policy(), sig, groups({"eu-central-1": 2}), total=2, now=0, last_change_at=None)
    assert d.excluded == {"eu-central-1": "no signals"}
    assert d.allocation["eu-central-1"] == 0 and d.mandatory


def test_dwell_keeps_the_allocation_unless_a_move_is_mandatory() -> None:
    carbon = {"eu-central-1": 400.0, "eu-west-1": 100.0, "eu-west-2": 300.0}
    state = groups({"eu-central-1": 4})
    p = policy(dwell_minutes=60)
    recent = decide(p, signals(carbon), state, total=4, now=10 * 60, last_change_at=0)
    assert recent.allocation == {"eu-central-1": 4, "eu-west-1": 0, "eu-west-2": 0}
    assert recent.held and not recent.changed and "dwell" in recent.reason
    later = decide(p, signals(carbon), state, total=4, now=61 * 60, last_change_at=0)
    assert later.allocation["eu-west-1"] == 4
    # a higher total during dwell is mandatory: the new units go to the best region only
    grown = decide(p, signals(carbon), state, total=6, now=10 * 60, last_change_at=0)
    assert grown.allocation == {"eu-central-1": 4, "eu-west-1": 2, "eu-west-2": 0}
    assert grown.mandatory and "mandatory moves only" in grown.reason


def test_total_is_clamped_to_the_fleet_bounds_with_a_reason() -> None:
    carbon = dict.fromkeys(REGIONS, 100.0)
    d = decide(
        policy(max_total=5), signals(carbon), groups({}), total=9, now=0, last_change_at=None
    )
    assert d.total == 5 and d.requested == 9
    assert "clamped to [2, 5]" in d.reason


def test_policy_validation_names_the_field() -> None:
    with pytest.raises(FleetPolicyError, match="strategy"):
        policy(strategy="greenest")
    with pytest.raises(FleetPolicyError, match=r"min_share\[eu-west-1\]"):
        policy(min_share={"eu-west-1": 0.8}, max_share={"eu-west-1": 0.5})
    with pytest.raises(FleetPolicyError, match="unknown regions"):
        policy(max_share={"us-east-1": 0.5})
    with pytest.raises(FleetPolicyError, match="max_total"):
        policy(min_total=5, max_total=4)
    with pytest.raises(FleetPolicyError, match="scaling_tiers"):
        policy(scaling_tiers=((200.0, 60.0), (100.0, 75.0), (None, 90.0)))
    with pytest.raises(FleetPolicyError, match="bound None"):
        policy(scaling_tiers=((200.0, 60.0),))
    with pytest.raises(FleetPolicyError, match="max_share values add up"):
        policy(max_share=dict.fromkeys(REGIONS, 0.3))
    with pytest.raises(FleetPolicyError, match="placement_score"):
        RegionSignals("eu-west-1", (1.0,), 0.1, 11)


# --- apply_plan -----------------------------------------------------------------------------


def test_apply_plan_launches_first_and_drains_once_capacity_is_in_service() -> None:
    target = {"eu-central-1": 0, "eu-west-1": 4, "eu-west-2": 0}
    floors = dict.fromkeys(REGIONS, 0)
    before = groups({"eu-central-1": 4})
    first = apply_plan(before, target, floors=floors)
    assert first == {"eu-central-1": 4, "eu-west-1": 4, "eu-west-2": 0}
    half = groups(first, {"eu-central-1": 4, "eu-west-1": 2})
    assert apply_plan(half, target, floors=floors)["eu-central-1"] == 2
    done = groups(first, {"eu-central-1": 4, "eu-west-1": 4})
    assert apply_plan(done, target, floors=floors)["eu-central-1"] == 0


def test_apply_plan_drains_pending_capacity_freely_and_respects_floors() -> None:
    target = {"eu-central-1": 0, "eu-west-1": 3, "eu-west-2": 0}
    lost = groups({"eu-central-1": 3, "eu-west-1": 3}, {"eu-central-1": 0, "eu-west-1": 3})
    assert apply_plan(lost, target, floors={})["eu-central-1"] == 0
    floored = apply_plan(lost, target, floors={"eu-central-1": 1})
    assert floored["eu-central-1"] == 1


@st.composite
def fleets(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, int], dict[str, int], list]:
    desired = {r: draw(st.integers(0, 8)) for r in REGIONS}
    in_service = {r: draw(st.integers(0, desired[r])) for r in REGIONS}
    floors = {r: draw(st.integers(0, 2)) for r in REGIONS}
    target = {r: draw(st.integers(floors[r], 8)) for r in REGIONS}
    arrivals = draw(st.lists(st.dictionaries(st.sampled_from(REGIONS), st.booleans()), max_size=6))
    return desired, in_service, floors, target, arrivals  # type: ignore[return-value]


@settings(max_examples=300, deadline=None)
@given(fleets())
def test_applied_plans_keep_minimums_never_both_ways_and_converge(case: tuple) -> None:
    desired, in_service, floors, target, arrivals = case
    for step in range(len(arrivals) + 12):
        state = groups(desired, in_service)
        plan = apply_plan(state, target, floors=floors)
        total_before = sum(in_service.values())
        for r in REGIONS:
            raised, lowered = plan[r] > desired[r], plan[r] < desired[r]
            assert not (raised and lowered)
            if lowered:
                assert plan[r] >= max(floors[r], target[r])
            assert plan[r] >= min(desired[r], floors[r])
            if target[r] > desired[r]:
                assert plan[r] == target[r]
        # worst case: a lowered group terminates InService instances first
        in_service = {r: min(in_service[r], plan[r]) for r in REGIONS}
        assert sum(in_service.values()) >= min(sum(target.values()), total_before)
        # some pending instances come up (all of them once the arrivals run out)
        came = arrivals[step] if step < len(arrivals) else dict.fromkeys(REGIONS, True)
        in_service = {r: plan[r] if came.get(r) else in_service[r] for r in REGIONS}
        desired = plan
    assert desired == target


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(REGIONS), st.floats(0, 800), min_size=3, max_size=3),
    st.dictionaries(st.sampled_from(REGIONS), st.integers(0, 6), min_size=3, max_size=3),
    st.integers(0, 3),
    st.integers(1, 12),
)
def test_decisions_keep_minimums_and_respect_max_step(
    carbon: dict, start: dict, step: int, total: int
) -> None:
    p = policy(
        min_total=1,
        max_total=12,
        max_step=step,
        min_share={"eu-west-2": 0.25},
        max_share=dict.fromkeys(REGIONS, 0.6),
        hysteresis=0.0,
    )
    state = groups(start)
    d = decide(p, signals(carbon), state, total=total, now=0, last_change_at=None)
    assert d.total == sum(d.allocation.values())
    assert d.allocation["eu-west-2"] >= d.floors["eu-west-2"]
    valid = sum(start.values()) == d.total and all(
        d.floors[r] <= start[r] <= -(-0.6 * d.total // 1) for r in REGIONS
    )
    if valid:
        assert d.moved <= step


def test_hysteresis_and_dwell_stop_flapping_between_near_equal_regions() -> None:
    p = policy(hysteresis=0.05, dwell_minutes=60, max_share=dict.fromkeys(REGIONS, 1.0))
    desired = {"eu-central-1": 4, "eu-west-1": 0, "eu-west-2": 0}
    last, changes = None, 0
    for hour in range(48):
        wobble = 3.0 if hour % 2 else -3.0  # eu-west-1 alternates 2 % better and worse
        carbon = {"eu-central-1": 150.0, "eu-west-1": 150.0 + wobble, "eu-west-2": 400.0}
        d = decide(
            p, signals(carbon), groups(desired), total=4, now=hour * HOUR, last_change_at=last
        )
        if d.changed:
            changes += 1
            last = hour * HOUR
        desired = dict(d.allocation)
    assert changes == 0
    no_guard = policy(hysteresis=0.0, dwell_minutes=0, move_cost_minutes=0)
    flips = 0
    for hour in range(6):
        wobble = 3.0 if hour % 2 else -3.0
        carbon = {"eu-central-1": 150.0, "eu-west-1": 150.0 + wobble, "eu-west-2": 400.0}
        d = decide(no_guard, signals(carbon), groups(desired), total=4, now=0, last_change_at=None)
        flips += d.changed
        desired = dict(d.allocation)
    assert flips >= 5  # without the guards the same inputs flap every run


# --- scaling_target -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("carbon", "current", "expected"),
    [
        (50.0, None, 60.0),
        (150.0, None, 75.0),
        (250.0, None, 90.0),
        (105.0, 60.0, 60.0),  # just past 100: within the 10 g hysteresis
        (111.0, 60.0, 75.0),
        (215.0, 60.0, 90.0),  # two tiers up, 15 g past 200
        (95.0, 75.0, 75.0),
        (89.0, 75.0, 60.0),
        (195.0, 90.0, 90.0),
        (120.0, 42.0, 75.0),  # target not in the tiers (tiers changed): take the tier outright
    ],
)
def test_scaling_target_follows_tiers_with_hysteresis(
    carbon: float, current: float | None, expected: float
) -> None:
    assert scaling_target(policy(), carbon, current) == expected


def test_scaling_target_steps_one_tier_when_the_far_boundary_is_within_hysteresis() -> None:
    assert scaling_target(policy(), 205.0, 60.0) == 75.0
    assert scaling_target(policy(), 95.0, 90.0) == 75.0
    custom = policy(scaling_tiers=((50.0, 40.0), (None, 80.0)))
    assert scaling_target(custom, 70.0, 40.0, hysteresis_g=25.0) == 40.0
    assert scaling_target(custom, 80.0, 40.0, hysteresis_g=25.0) == 80.0


def test_exclusions_never_shrink_the_fleet_below_its_total() -> None:
    # renewable_only with no known share anywhere: every region excluded, capacity is kept
    p = policy(strategy="renewable_only", min_total=2)
    state = groups({"eu-central-1": 3, "eu-west-1": 1})
    d = decide(
        p, signals(dict.fromkeys(REGIONS, 100.0)), state, total=4, now=0, last_change_at=None
    )
    assert d.allocation == {"eu-central-1": 3, "eu-west-1": 1, "eu-west-2": 0}
    assert len(d.excluded) == 3 and not d.changed
    # one qualifying region capped at half: the excluded keep only what the total needs
    capped = policy(strategy="renewable_only", max_share=dict.fromkeys(REGIONS, 0.5))
    sig = signals(dict.fromkeys(REGIONS, 100.0), renewable={"eu-west-2": 0.9})
    d = decide(capped, sig, state, total=4, now=0, last_change_at=None)
    assert d.allocation["eu-west-2"] == 2 and d.total == 4
    assert d.allocation["eu-central-1"] + d.allocation["eu-west-1"] == 2
