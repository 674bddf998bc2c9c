"""Fleet decisions carry grams and dollars: the interval since the previous run, at the
instances InService then, their power from DescribeInstanceTypes, the intensity and the price."""

from __future__ import annotations

import json

import boto3
import pytest
from tests.fleet.fleet_env import (
    REGIONS,
    TYPES,
    Carbon,
    Market,
    Renewables,
    fleet_spec,
    make_group,
)
from tests.fleet.test_fleet_optimizer import groups_of, settings_for

from carbon_aware.cli.demo_fleet import InstanceTypeFill
from carbon_aware.engine.energy import estimate_power_watts
from carbon_aware.engine.fleet_footprint import FootprintError, footprint, recompute
from carbon_aware.runtime.fleet.instances import InstancePower
from carbon_aware.runtime.fleet.optimizer import FleetOptimizer
from carbon_aware.runtime.fleet.repository import FleetRepository

T0 = 1_700_000_000.0
INTENSITY = {"eu-central-1": 400.0, "eu-west-1": 300.0, "eu-west-2": 100.0}
PRICES = {"eu-central-1": 0.04, "eu-west-1": 0.05, "eu-west-2": None}


def test_grams_dollars_and_baseline_by_hand() -> None:
    result = footprint(
        T0,
        T0 + 1800,
        "eu-central-1",
        {"eu-central-1": 400.0, "eu-west-2": 100.0},
        {
            "eu-central-1": ({"m5.large": 2}, {"m5.large": 10.0}, {"m5.large": 0.04}),
            "eu-west-2": ({"m5.large": 1, "c5.large": 3}, {"m5.large": 10.0, "c5.large": 5.0}, {}),
        },
    )
    # 2 x 10 W x 0.5 h x 400 g/kWh = 4 g; (10 + 15) W x 0.5 h x 100 g/kWh = 1.25 g
    assert result.emissions_g == pytest.approx(5.25)
    assert result.baseline_g == pytest.approx((20 + 25) * 0.5 * 400 / 1000)
    assert result.cost_usd == pytest.approx(2 * 0.04 * 0.5)
    assert result.unpriced_instance_hours == pytest.approx(2.0)  # eu-west-2: 4 instances x 0.5 h
    record = result.to_dict()
    assert record["saved_g"] == pytest.approx(9.0 - 5.25)
    assert recompute(json.loads(json.dumps(record))) == pytest.approx(
        {"emissions_g": 5.25, "baseline_g": 9.0, "cost_usd": 0.04}
    )


@pytest.mark.parametrize(
    ("intensities", "usages", "names"),
    [
        ({"eu-west-2": 1.0}, {}, "home region eu-central-1"),
        (
            {"eu-central-1": 1.0},
            {"eu-west-2": ({"m5.large": 1}, {"m5.large": 1.0}, {})},
            "eu-west-2",
        ),
        ({"eu-central-1": 1.0}, {"eu-central-1": ({"m5.large": 1}, {}, {})}, "['m5.large']"),
        ({"eu-central-1": -1.0}, {"eu-central-1": ({"a": 1}, {"a": 1.0}, {})}, "intensity"),
    ],
)
def test_missing_or_bad_inputs_name_what_is_wrong(
    intensities: dict, usages: dict, names: str
) -> None:
    with pytest.raises(FootprintError, match=names.replace("[", r"\[").replace("]", r"\]")):
        footprint(T0, T0 + 60, "eu-central-1", intensities, usages)


def optimizer(
    repo: FleetRepository, metrics: list, power: InstancePower | None, fill_types: bool = True
) -> FleetOptimizer:
    """A fleet of 4/2/0 instances; ``fill_types`` adds the instance types moto leaves out."""
    groups = groups_of("web")
    for region, desired in zip(REGIONS, (4, 2, 0), strict=True):
        make_group(region, groups[region], desired)
    spec = fleet_spec(groups, max_share=dict.fromkeys(REGIONS, 1.0), dwell_minutes=0)
    settings = settings_for({"web": spec})
    clients = {r: boto3.client("autoscaling", region_name=r) for r in REGIONS}
    for client in clients.values() if fill_types else ():
        InstanceTypeFill.attach(client)
    return FleetOptimizer(
        settings,
        autoscaling=clients.__getitem__,
        repository=repo,
        carbon=Carbon({r: (lambda t, v=v: v) for r, v in INTENSITY.items()}),
        prices=Market(dict(PRICES)),
        scores=Market(),
        renewables=Renewables(),
        emit=lambda name, value, dims: metrics.append((name, value, dims)),
        power=power,
    )


def ec2(region: str) -> object:
    return boto3.client("ec2", region_name=region)


def test_each_decision_accounts_the_interval_since_the_previous_run(repo: FleetRepository) -> None:
    metrics: list = []
    run = optimizer(repo, metrics, InstancePower(ec2))
    first = run.run(T0)["fleets"]["web"]
    assert first["footprint"] == {"skipped": "first run: no earlier instances to account"}
    assert "emissions_g" not in first
    second = run.run(T0 + 300)["fleets"]["web"]
    # moto launches the first override type only; the instances are those InService at T0
    launched = TYPES[0]
    watts = estimate_power_watts(vcpus=2, memory_gb=8)  # m6i.large: 2 vCPUs, 8 GiB
    assert second["footprint"]["regions"]["eu-central-1"]["instances"] == {launched: 4}
    assert second["footprint"]["regions"]["eu-west-1"]["instances"] == {launched: 2}
    assert "eu-west-2" not in second["footprint"]["regions"]  # nothing ran there yet
    hours = 300 / 3600
    expected = (4 * 400 + 2 * 300) * watts * hours / 1000
    assert second["emissions_g"] == pytest.approx(expected)
    assert second["baseline_g"] == pytest.approx(6 * 400 * watts * hours / 1000)
    assert second["cost_usd"] == pytest.approx((4 * 0.04 + 2 * 0.05) * hours)
    stored = repo.decisions("web")[0]
    assert recompute(stored["footprint"]) == pytest.approx(
        {k: stored[k] for k in ("emissions_g", "baseline_g", "cost_usd")}, rel=1e-9
    )
    assert stored["footprint"]["intensity_sources"]["eu-west-1"] == "test-forecast"
    by_region = {d["Region"]: v for n, v, d in metrics if n == "FleetEmissionsGrams"}
    assert by_region["eu-central-1"] == pytest.approx(4 * 400 * watts * hours / 1000)
    third = run.run(T0 + 600)["fleets"]["web"]  # the raised clean region now counts too
    assert third["footprint"]["regions"]["eu-west-2"]["instances"][launched] > 0
    assert third["footprint"]["regions"]["eu-west-2"]["spot_usd_per_instance_hour"] == {}
    assert third["footprint"]["unpriced_instance_hours"] > 0


def test_a_long_gap_is_not_guessed_and_a_failing_describe_never_stops_the_decision(
    repo: FleetRepository,
) -> None:
    metrics: list = []
    run = optimizer(repo, metrics, InstancePower(ec2))
    run.run(T0)
    late = run.run(T0 + 2 * 3600 + 60)["fleets"]["web"]
    assert late["footprint"] == {"skipped": "121 min since the last run: not accounted"}

    def broken(region: str) -> object:
        raise RuntimeError("DescribeInstanceTypes denied")

    run.power = InstancePower(broken)
    decided = run.run(T0 + 2 * 3600 + 360)["fleets"]["web"]
    assert decided["footprint"]["skipped"] == "RuntimeError: DescribeInstanceTypes denied"
    assert decided["applied"]  # the decision was applied all the same
    assert not [m for m in metrics if m[0] == "FleetFailures"]


def test_power_comes_from_the_described_vcpus_memory_and_gpus(moto_aws: None) -> None:
    calls: list[str] = []

    def counted(region: str) -> object:
        calls.append(region)
        return ec2(region)

    power = InstancePower(counted)
    watts = power.watts("eu-west-1", ["m5.large", "g5.xlarge"])
    assert watts["m5.large"] == pytest.approx(estimate_power_watts(2, 8))
    gpu = estimate_power_watts(gpus=1, gpu_type="a10g")
    assert watts["g5.xlarge"] == pytest.approx(estimate_power_watts(4, 16) + gpu)
    assert power.watts("eu-west-2", ["m5.large"]) == {"m5.large": watts["m5.large"]}
    assert calls == ["eu-west-1"]  # described once per process


def test_instances_whose_type_the_group_does_not_say_are_not_guessed(
    repo: FleetRepository,
) -> None:
    run = optimizer(repo, [], InstancePower(ec2), fill_types=False)  # moto as it is
    run.run(T0)
    second = run.run(T0 + 300)["fleets"]["web"]
    assert second["footprint"]["skipped"] == (
        "watts per instance of ['unknown'] in eu-central-1 are unknown"
    )
    assert "emissions_g" not in second
