"""Capacity marked unavailable after a spot interruption: the optimizer reads the marks from the
signals table and moves capacity away from the region that lost it; marks expire."""

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


def run_once(marks: CapacityMarks | None, now: float) -> dict:
    groups = groups_of("web")
    for region in REGIONS:
        make_group(region, groups[region], 0)  # nothing yet: the run decides where 6 go
    # eu-west-2 a little cleaner than the others: unmarked, it gets most of the fleet.
    carbon = Carbon({r: (lambda t, r=r: 180.0 if r == "eu-west-2" else 200.0) for r in REGIONS})
    optimizer = FleetOptimizer(
        settings_for({"web": fleet_spec(groups, desired_total=6, dwell_minutes=0)}),
        autoscaling=lambda region: boto3.client("autoscaling", region_name=region),
        repository=fleets_table(),
        carbon=carbon,
        prices=Market(),
        scores=Market(),
        renewables=Renewables(),
        marks=marks,
    )
    summary = optimizer.run(now)
    assert summary["failed"] == 0, summary
    return summary["fleets"]["web"]


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
