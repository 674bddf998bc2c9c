"""Capacity marked unavailable after a spot interruption: the optimizer reads the marks from the
signals table and moves capacity away from the region that lost it; marks expire. Replacements
held for instances at risk (rebalance ``prepare``) are kept on top of the plan, within MaxSize,
until released or expired."""

from __future__ import annotations

import boto3
import pytest
from tests.fleet.fleet_env import (
    REGIONS,
    TYPES,
    Carbon,
    Market,
    Renewables,
    fleet_spec,
    fleets_table,
    make_group,
)
from tests.fleet.test_fleet_optimizer import T0, groups_of, settings_for

from carbon_aware.runtime.fleet.optimizer import FleetOptimizer, penalised_score
from carbon_aware.signals.cache import create_table
from carbon_aware.signals.prices.store import PriceStore
from carbon_aware.signals.prices.unavailable import CapacityMarks, Mark

HOUR = 3600.0


@pytest.fixture
def marks(moto_aws: None) -> CapacityMarks:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    create_table(client, "signals")
    return CapacityMarks(PriceStore(client, "signals"))


def web_fleet(marks: CapacityMarks | None) -> FleetOptimizer:
    """Fleet "web" (6 instances) over empty groups, and its optimizer."""
    groups = groups_of("web")
    for region in REGIONS:
        make_group(region, groups[region], 0)  # nothing yet: the run decides where 6 go
    # eu-west-2 a little cleaner than the others: unmarked, it gets most of the fleet.
    carbon = Carbon({r: (lambda t, r=r: 180.0 if r == "eu-west-2" else 200.0) for r in REGIONS})
    return FleetOptimizer(
        settings_for({"web": fleet_spec(groups, desired_total=6, dwell_minutes=0)}),
        autoscaling=lambda region: boto3.client("autoscaling", region_name=region),
        repository=fleets_table(),
        carbon=carbon,
        prices=Market(),
        scores=Market(),
        renewables=Renewables(),
        marks=marks,
    )


def decide(optimizer: FleetOptimizer, now: float) -> dict:
    """One run of fleet "web"; its stored decision."""
    summary = optimizer.run(now)
    assert summary["failed"] == 0, summary
    return summary["fleets"]["web"]


def run_once(marks: CapacityMarks | None, now: float) -> dict:
    return decide(web_fleet(marks), now)


def group(region: str) -> dict:
    name = groups_of("web")[region]
    client = boto3.client("autoscaling", region_name=region)
    return client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def raise_by_one(region: str) -> None:
    """What the interruptions function does besides recording a preparation."""
    boto3.client("autoscaling", region_name=region).set_desired_capacity(
        AutoScalingGroupName=groups_of("web")[region],
        DesiredCapacity=group(region)["DesiredCapacity"] + 1,
    )


def test_a_marked_region_gets_less_capacity(marks: CapacityMarks) -> None:
    for instance_type in TYPES:
        marks.mark("eu-west-2", instance_type, "eu-west-2a", now=T0, ttl=HOUR, reason="test")
    decision = run_once(marks, T0 + 60)
    assert decision["inputs"]["eu-west-2"]["placement_score"] == 1
    assert "interrupted" in decision["inputs"]["eu-west-2"]["provenance"]["placement_score"]
    assert decision["inputs"]["eu-west-1"]["placement_score"] == 9
    others = decision["allocation"]["eu-west-1"] + decision["allocation"]["eu-central-1"]
    assert decision["allocation"]["eu-west-2"] < others


def test_without_marks_the_cleaner_region_gets_most(marks: CapacityMarks) -> None:
    decision = run_once(marks, T0)
    assert decision["inputs"]["eu-west-2"]["placement_score"] == 9
    others = decision["allocation"]["eu-west-1"] + decision["allocation"]["eu-central-1"]
    assert decision["allocation"]["eu-west-2"] > others


def test_an_expired_mark_is_ignored(marks: CapacityMarks) -> None:
    marks.mark("eu-west-2", TYPES[0], "eu-west-2a", now=T0, ttl=HOUR, reason="test")
    assert marks.marked("eu-west-2", T0 + HOUR - 1) != []
    assert marks.marked("eu-west-2", T0 + HOUR + 1) == []
    assert run_once(marks, T0 + 2 * HOUR)["inputs"]["eu-west-2"]["placement_score"] == 9


def test_penalty_follows_the_share_of_types_marked() -> None:
    def mark(t: str) -> Mark:
        return Mark(t, "z", 0.0, "")

    assert penalised_score(9, TYPES, []) == 9
    assert penalised_score(9, TYPES, [mark(TYPES[0])]) == 6
    assert penalised_score(9, TYPES, [mark(TYPES[0]), mark(TYPES[0])]) == 6  # two zones, one type
    assert penalised_score(9, TYPES, [mark(t) for t in TYPES]) == 1
    assert penalised_score(9, (), [mark("x")]) == 1
    assert penalised_score(9, TYPES, [mark("other.large")]) == 9


def test_run_only_the_named_fleets(marks: CapacityMarks) -> None:
    groups = groups_of("web")
    for region in REGIONS:
        make_group(region, groups[region], 2)
    optimizer = FleetOptimizer(
        settings_for({"web": fleet_spec(groups)}),
        autoscaling=lambda region: boto3.client("autoscaling", region_name=region),
        repository=fleets_table(),
        carbon=Carbon(dict.fromkeys(REGIONS, lambda t: 200.0)),
        prices=Market(),
        scores=Market(),
        renewables=Renewables(),
    )
    assert optimizer.run(T0, only=[])["fleets"] == {}
    assert list(optimizer.run(T0, only=["web"])["fleets"]) == ["web"]
    assert optimizer.run(T0, only=["gone"])["errors"] == {"gone": "no such fleet"}


AT_RISK = "eu-west-2"  # where the plan puts most of the fleet


def planned(marks: CapacityMarks) -> tuple[FleetOptimizer, dict]:
    """The optimizer, and its first decision (groups raised to the plan)."""
    optimizer = web_fleet(marks)
    first = decide(optimizer, T0)
    assert first["applied"] == first["allocation"] and first["allocation"][AT_RISK] >= 2
    assert first["prepared"] == dict.fromkeys(REGIONS, 0)
    return optimizer, first


def prepare(marks: CapacityMarks, instance_id: str, now: float, ttl: float = HOUR) -> None:
    marks.prepare(AT_RISK, instance_id, groups_of("web")[AT_RISK], "web", now=now, ttl=ttl)


def test_a_prepared_replacement_survives_the_next_run_until_released(
    marks: CapacityMarks,
) -> None:
    optimizer, first = planned(marks)
    plan = first["allocation"]
    prepare(marks, "i-at-risk", T0 + 60)
    raise_by_one(AT_RISK)
    held = decide(optimizer, T0 + 300)
    assert held["allocation"] == plan
    assert held["applied"] == {**plan, AT_RISK: plan[AT_RISK] + 1}
    assert held["prepared"] == {**dict.fromkeys(REGIONS, 0), AT_RISK: 1}
    assert group(AT_RISK)["DesiredCapacity"] == plan[AT_RISK] + 1
    assert marks.release(AT_RISK, "i-at-risk") is True
    assert marks.release(AT_RISK, "i-at-risk") is False  # a late second release: nothing held
    after = decide(optimizer, T0 + 600)
    assert after["applied"] == plan and after["prepared"][AT_RISK] == 0
    assert group(AT_RISK)["DesiredCapacity"] == plan[AT_RISK]


def test_the_optimizer_raises_a_group_whose_preparation_it_finds(marks: CapacityMarks) -> None:
    optimizer, first = planned(marks)
    prepare(marks, "i-at-risk", T0 + 60)  # the interruptions function's raise failed
    assert decide(optimizer, T0 + 300)["applied"][AT_RISK] == first["allocation"][AT_RISK] + 1


def test_an_expired_preparation_is_not_kept(marks: CapacityMarks) -> None:
    optimizer, first = planned(marks)
    prepare(marks, "i-at-risk", T0 + 60, ttl=HOUR)
    assert [p.instance_id for p in marks.prepared(AT_RISK, T0 + HOUR)] == ["i-at-risk"]
    assert marks.prepared(AT_RISK, T0 + 60 + HOUR) == []
    raise_by_one(AT_RISK)
    expired = decide(optimizer, T0 + 2 * HOUR)  # the item is still there: DynamoDB is late
    assert expired["applied"] == first["allocation"] and expired["prepared"][AT_RISK] == 0


def test_preparations_never_raise_a_group_above_its_max_size(marks: CapacityMarks) -> None:
    optimizer, first = planned(marks)
    plan = first["allocation"][AT_RISK]
    for instance_id in ("i-one", "i-two"):
        prepare(marks, instance_id, T0 + 60)
    boto3.client("autoscaling", region_name=AT_RISK).update_auto_scaling_group(
        AutoScalingGroupName=groups_of("web")[AT_RISK], MaxSize=plan + 1
    )
    held = decide(optimizer, T0 + 300)
    assert (held["prepared"][AT_RISK], held["applied"][AT_RISK]) == (2, plan + 1)
    assert group(AT_RISK)["DesiredCapacity"] == plan + 1


def test_preparations_of_other_groups_are_not_counted(marks: CapacityMarks) -> None:
    optimizer, first = planned(marks)
    marks.prepare(AT_RISK, "i-elsewhere", "another-group", "other", now=T0, ttl=HOUR)
    held = decide(optimizer, T0 + 300)
    assert held["applied"] == first["allocation"] and held["prepared"][AT_RISK] == 0
