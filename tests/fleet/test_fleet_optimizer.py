"""The fleet optimizer on moto: capacity follows carbon launch before drain, minimums hold at
every step, scaling follows the carbon tier, and a broken fleet never stops the others."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from tests.fleet.fleet_env import (
    FLEET_TABLE,
    HOUR,
    REGIONS,
    Carbon,
    Market,
    Renewables,
    fleet_spec,
    make_group,
)

from carbon_aware.runtime.fleet.optimizer import FleetOptimizer
from carbon_aware.runtime.fleet.repository import FleetRepository
from carbon_aware.runtime.fleet.settings import FLEET_TABLE as FLEET_TABLE_ENV
from carbon_aware.runtime.fleet.settings import FLEETS, FleetSettings

T0 = 1_700_000_000.0


def groups_of(name: str) -> dict[str, str]:
    return {r: f"{name}-{r}" for r in REGIONS}


def settings_for(fleets: dict[str, Any]) -> FleetSettings:
    return FleetSettings.from_env({FLEETS: json.dumps(fleets), FLEET_TABLE_ENV: FLEET_TABLE})


def optimizer(
    settings: FleetSettings,
    repo: FleetRepository,
    carbon: Carbon,
    market: Market | None = None,
    renewables: Renewables | None = None,
    metrics: list | None = None,
) -> FleetOptimizer:
    market = market or Market()
    return FleetOptimizer(
        settings,
        autoscaling=lambda region: boto3.client("autoscaling", region_name=region),
        repository=repo,
        carbon=carbon,
        prices=market,
        scores=market,
        renewables=renewables or Renewables(),
        emit=lambda name, value, dims: (metrics if metrics is not None else []).append(
            (name, value, dims)
        ),
    )


def capacity(groups: dict[str, str]) -> dict[str, tuple[int, int]]:
    """(desired, InService) per region, as moto reports them."""
    out = {}
    for region, name in groups.items():
        client = boto3.client("autoscaling", region_name=region)
        group = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        found = group["AutoScalingGroups"][0]
        in_service = sum(1 for i in found["Instances"] if i["LifecycleState"] == "InService")
        out[region] = (found["DesiredCapacity"], in_service)
    return out


def test_capacity_moves_to_the_cleaner_region_launch_before_drain_over_several_runs(
    repo: FleetRepository,
) -> None:
    groups = groups_of("web")
    for region, desired in zip(REGIONS, (6, 0, 0), strict=True):
        make_group(region, groups[region], desired)
    spec = fleet_spec(
        groups,
        min_share={"eu-central-1": 0.2},
        max_share=dict.fromkeys(REGIONS, 0.5),
        dwell_minutes=60,
    )
    # eu-central-1 dirty, eu-west-2 cleanest, eu-west-1 in between
    carbon = Carbon(
        {"eu-central-1": lambda t: 420, "eu-west-1": lambda t: 250, "eu-west-2": lambda t: 90}
    )
    metrics: list = []
    run = optimizer(settings_for({"web": spec}), repo, carbon, metrics=metrics)
    seen = [capacity(groups)]
    for step in range(4):
        summary = run.run(T0 + step * 5 * 60)
        assert summary["failed"] == 0, summary
        seen.append(capacity(groups))
    # run 1 launches in the clean regions and drains nothing: the new capacity is not counted yet
    assert seen[1] == {"eu-central-1": (6, 6), "eu-west-1": (1, 1), "eu-west-2": (3, 3)}
    # run 2 drains the source once the new capacity is InService; later runs hold
    assert (
        seen[2]
        == seen[3]
        == seen[4]
        == {
            "eu-central-1": (2, 2),
            "eu-west-1": (1, 1),
            "eu-west-2": (3, 3),
        }
    )
    for snapshot in seen:  # the fleet minimum and eu-central-1's share hold at every step
        assert sum(s for _, s in snapshot.values()) >= 6
        assert snapshot["eu-central-1"][1] >= 2
    decisions = repo.decisions("web")
    assert len(decisions) == 4
    first = decisions[-1]
    assert first["allocation"] == {"eu-central-1": 2, "eu-west-1": 1, "eu-west-2": 3}
    assert first["applied"] == {"eu-central-1": 6, "eu-west-1": 1, "eu-west-2": 3}
    assert first["launches"] == 4
    assert first["inputs"]["eu-west-2"]["provenance"]["carbon"] == "test-forecast"
    assert ("FleetLaunches", 4, {"Fleet": "web"}) in metrics
    assert ("FleetDesiredCapacity", 6, {"Fleet": "web", "Region": "eu-central-1"}) in metrics
    assert ("FleetInServiceCapacity", 2, {"Fleet": "web", "Region": "eu-central-1"}) in metrics
    state = repo.state("web")
    assert state.last_change_at == T0  # only the first run changed the target


def test_dwell_then_carbon_shift_moves_capacity_back(repo: FleetRepository) -> None:
    groups = groups_of("api")
    for region, desired in zip(REGIONS, (0, 4, 0), strict=True):
        make_group(region, groups[region], desired)
    level = {"eu-central-1": 300.0, "eu-west-1": 100.0, "eu-west-2": 300.0}
    carbon = Carbon({r: (lambda t, r=r: level[r]) for r in REGIONS})
    spec = fleet_spec(groups, desired_total=4, min_total=4, dwell_minutes=60, max_step=2)
    run = optimizer(settings_for({"api": spec}), repo, carbon)
    run.run(T0)
    assert capacity(groups)["eu-west-1"] == (4, 4)
    level["eu-west-1"], level["eu-west-2"] = 400.0, 80.0
    # carbon flipped; the first run changed nothing, so no dwell applies: max_step 2 launches two
    run.run(T0 + 600)
    assert capacity(groups)["eu-west-2"] == (2, 2)
    assert capacity(groups)["eu-west-1"] == (4, 4)
    run.run(T0 + 900)  # dwell: no new launches, the drain of the first two completes
    assert capacity(groups) == {"eu-central-1": (0, 0), "eu-west-1": (2, 2), "eu-west-2": (2, 2)}
    latest = repo.decisions("api", limit=1)[0]
    assert "dwell" in latest["reason"]
    run.run(T0 + 600 + HOUR)
    run.run(T0 + 900 + HOUR)
    assert capacity(groups) == {"eu-central-1": (0, 0), "eu-west-1": (0, 0), "eu-west-2": (4, 4)}


def test_scaling_policy_follows_the_carbon_tier_only_when_it_changes(
    repo: FleetRepository,
) -> None:
    groups = groups_of("tier")
    for region in REGIONS:
        make_group(region, groups[region], 2)
    level = {"eu-central-1": 50.0, "eu-west-1": 150.0, "eu-west-2": 250.0}
    carbon = Carbon({r: (lambda t, r=r: level[r]) for r in REGIONS})
    run = optimizer(settings_for({"tier": fleet_spec(groups)}), repo, carbon)

    def targets() -> dict[str, float]:
        out = {}
        for region, name in groups.items():
            client = boto3.client("autoscaling", region_name=region)
            found = client.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"]
            assert [p["PolicyName"] for p in found] == ["carbon-target"]
            assert found[0]["PolicyType"] == "TargetTrackingScaling"
            config = found[0]["TargetTrackingConfiguration"]
            assert config["PredefinedMetricSpecification"] == {
                "PredefinedMetricType": "ASGAverageCPUUtilization"
            }
            out[region] = config["TargetValue"]
        return out

    run.run(T0)
    assert targets() == {"eu-central-1": 60.0, "eu-west-1": 75.0, "eu-west-2": 90.0}
    level["eu-central-1"] = 105.0  # within hysteresis of the 100 g boundary: unchanged
    level["eu-west-2"] = 185.0  # 15 g below 200: one tier down
    run.run(T0 + 300)
    assert targets() == {"eu-central-1": 60.0, "eu-west-1": 75.0, "eu-west-2": 75.0}
    assert repo.state("tier").scaling_targets["eu-west-2"] == 75.0
    # no tier change, no PutScalingPolicy: a value set by hand survives the next run
    boto3.client("autoscaling", region_name="eu-west-1").put_scaling_policy(
        AutoScalingGroupName=groups["eu-west-1"],
        PolicyName="carbon-target",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
            "TargetValue": 42.0,
        },
    )
    run.run(T0 + 600)
    assert targets()["eu-west-1"] == 42.0


def test_a_broken_fleet_is_isolated_and_counted(repo: FleetRepository) -> None:
    good, missing = groups_of("good"), groups_of("missing")
    for region in REGIONS:
        make_group(region, good[region], 2)
    fleets = {
        "good": fleet_spec(good),
        "bad-config": fleet_spec(good, strategy="greenest"),
        "missing": fleet_spec(missing),
    }
    carbon = Carbon({r: (lambda t: 100.0) for r in REGIONS})
    metrics: list = []
    summary = optimizer(settings_for(fleets), repo, carbon, metrics=metrics).run(T0)
    assert summary["failed"] == 2
    assert "unknown strategy 'greenest'" in summary["errors"]["bad-config"]
    assert summary["errors"]["bad-config"].startswith("CARBON_AWARE_FLEETS[bad-config]")
    assert "not found" in summary["errors"]["missing"]
    assert list(summary["fleets"]) == ["good"]
    assert len(repo.decisions("good")) == 1
    failures = sorted(d["Fleet"] for n, _, d in metrics if n == "FleetFailures")
    assert failures == ["bad-config", "missing"]


def test_signals_reach_the_decision_and_budget_exhaustion_is_emitted(
    repo: FleetRepository,
) -> None:
    groups = groups_of("cost")
    for region in REGIONS:
        make_group(region, groups[region], 0)
    market = Market(prices_by_region={"eu-west-1": 0.01, "eu-west-2": None}, exhausted=True)
    carbon = Carbon({r: (lambda t: 200.0) for r in REGIONS})
    metrics: list = []
    spec = fleet_spec(groups, strategy="cost_first", desired_total=4)
    optimizer(settings_for({"cost": spec}), repo, carbon, market, metrics=metrics).run(T0)
    assert capacity(groups)["eu-west-1"] == (4, 4)  # cheapest wins under cost_first
    decision = repo.decisions("cost")[0]
    assert decision["inputs"]["eu-west-2"]["spot_price"] == 0.05  # unknown: dearest known
    assert "unknown" in decision["inputs"]["eu-west-2"]["provenance"]["spot_price"]
    assert decision["placement_score_budget_exhausted"] is True
    assert ("PlacementScoreBudgetExhausted", 1, {"Fleet": "cost"}) in metrics
    assert ("scores", REGIONS, tuple(spec["instance_types"]), 4) in market.calls


def test_renewable_only_runs_only_where_the_share_is_known_and_high(
    repo: FleetRepository,
) -> None:
    groups = groups_of("green")
    for region, desired in zip(REGIONS, (3, 0, 0), strict=True):
        make_group(region, groups[region], desired)
    carbon = Carbon({r: (lambda t: 150.0) for r in REGIONS})
    renew = Renewables({"eu-central-1": 0.3, "eu-west-1": 0.8})
    spec = fleet_spec(groups, strategy="renewable_only", desired_total=3, min_total=0)
    run = optimizer(settings_for({"green": spec}), repo, carbon, renewables=renew)
    run.run(T0)
    run.run(T0 + 300)
    assert capacity(groups) == {"eu-central-1": (0, 0), "eu-west-1": (3, 3), "eu-west-2": (0, 0)}
    excluded = repo.decisions("green")[0]["excluded"]
    assert excluded == {
        "eu-central-1": "renewable share 30% below the threshold 50%",
        "eu-west-2": "renewable share unknown",
    }


@pytest.mark.parametrize(("move_cost", "moves"), [(45, False), (0, True)])
def test_a_two_hour_dip_is_not_chased_unless_moves_cost_little(
    repo: FleetRepository, move_cost: int, moves: bool
) -> None:
    groups = groups_of("dip")
    for region, desired in zip(REGIONS, (4, 0, 0), strict=True):
        make_group(region, groups[region], desired)
    spec = fleet_spec(
        groups,
        desired_total=4,
        min_total=4,
        strategy="follow_the_sun",
        lookahead_hours=6,
        move_cost_minutes=move_cost,
    )
    # eu-west-1 is far cleaner for the coming two hours, then dirtier: better on average over the
    # six-hour look-ahead, but two hours save 400 g/kWh-hours against 225 to move there and 262.5
    # to come back (45 minutes each)
    carbon = Carbon(
        {
            "eu-central-1": lambda t: 300,
            "eu-west-1": lambda t: 100 if t < T0 + 2 * HOUR else 350,
            "eu-west-2": lambda t: 400,
        }
    )
    run = optimizer(settings_for({"dip": spec}), repo, carbon)
    assert run.run(T0)["failed"] == 0
    decision = repo.decisions("dip")[0]
    assert (decision["allocation"]["eu-west-1"] == 4) is moves
    assert decision["inputs"]["eu-west-1"]["horizon_hours"] == 6
    if not moves:  # the move cost keeps the fleet and says why
        assert decision["allocation"] == {"eu-central-1": 4, "eu-west-1": 0, "eu-west-2": 0}
        assert "kept: moving eu-central-1 to eu-west-1 would save" in decision["reason"]
