"""Each service alarm fires: its definition, rendered by Terraform (tests/alarms.tftest.hcl,
mock-applied with `terraform test -json -verbose`), evaluated on recorded metric values the way
CloudWatch does (statistic per period, the last ``evaluation_periods`` periods all breaching,
missing data as the alarm treats it; Metrics Insights ``SELECT SUM(m) FROM SCHEMA(ns, dim)`` summed
over every series of that schema)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from terraform.test_drift import ROOT, _state_resources

TERRAFORM = shutil.which("terraform")
ALARMS_TEST = ROOT / "tests" / "alarms.tftest.hcl"
NAMESPACE = "CarbonAware"
HOUR = 3600
# name -> list of (seconds, value, dimensions)
Recorded = dict[str, list[tuple[float, float, dict[str, str]]]]
STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "Sum": sum,
    "Average": lambda v: sum(v) / len(v),
    "Maximum": max,
    "Minimum": min,
}
COMPARISONS = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}
INSIGHTS = re.compile(r'^SELECT (SUM|MAX|AVG)\((\w+)\) FROM SCHEMA\("([^"]+)", (\w+)\)$')


@pytest.fixture(scope="module")
def alarms() -> dict[str, dict[str, Any]]:
    if TERRAFORM is None:
        pytest.skip("no terraform on PATH: source ../shared/tools/terraform-offline/env.sh")
    env = {**os.environ, "TF_DATA_DIR": str(ROOT / "build" / "terraform" / "alarms")}
    for args in (
        ["init", "-backend=false", "-input=false", "-no-color"],
        ["test", "-json", "-verbose", f"-filter={ALARMS_TEST.relative_to(ROOT)}"],
    ):
        done = subprocess.run(
            [TERRAFORM, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"terraform {args[0]}:\n{done.stdout}{done.stderr}"
    (state,) = [
        m["test_state"]
        for m in map(json.loads, done.stdout.splitlines())
        if m.get("type") == "test_state"
    ]
    resources = _state_resources(state["root_module"])
    return {
        values["alarm_name"].removeprefix("ca-alarms-"): values
        for address, values in resources.items()
        if address.startswith("aws_cloudwatch_metric_alarm.")
    }


def _series(alarm: dict[str, Any], recorded: Recorded) -> tuple[int, Callable[[list], Any]]:
    """The alarm's period and a function of the datapoints in one period (None: missing)."""
    if alarm.get("metric_name"):
        assert alarm["namespace"] == NAMESPACE
        stat, dims = STATISTICS[alarm["statistic"]], alarm.get("dimensions") or {}

        def one(points: list) -> Any:
            values = [v for _, v, d in points if d == dims]
            return stat(values) if values else None

        return alarm["period"], (lambda points: one(points))
    (query,) = alarm["metric_query"]
    function, _, namespace, dimension = INSIGHTS.match(query["expression"]).groups()
    assert namespace == NAMESPACE and function == "SUM"

    def summed(points: list) -> Any:
        values = [v for _, v, d in points if set(d) == {dimension}]
        return sum(values) if values else None

    return query["period"], summed


def fires(alarm: dict[str, Any], recorded: Recorded, now: float) -> bool:
    """Whether the alarm is in ALARM at ``now`` on the recorded values."""
    metric = alarm.get("metric_name") or INSIGHTS.match(alarm["metric_query"][0]["expression"])[2]
    period, value_of = _series(alarm, recorded)
    breaches = []
    for k in range(alarm["evaluation_periods"]):
        end = now - k * period
        points = [p for p in recorded.get(metric, []) if end - period <= p[0] < end]
        value = value_of(points)
        if value is None:
            breaches.append(alarm["treat_missing_data"] == "breaching")
        else:
            compare = COMPARISONS[alarm["comparison_operator"]]
            breaches.append(compare(value, alarm["threshold"]))
    return all(breaches)


NOW = 1_800_000_000.0


def every(minutes: int, hours: float, value: float, **dims: str) -> list:
    """A value recorded every ``minutes`` over the last ``hours``."""
    count = int(hours * 60 / minutes)
    return [(NOW - 1 - i * minutes * 60, value, dims) for i in range(count)]


CASES = {
    # alarm: (recorded values that fire it, recorded values that do not)
    "high-carbon-us-west-2": (
        {"CarbonIntensity": every(15, 1, 320, Region="us-west-2")},
        {
            "CarbonIntensity": every(15, 1, 280, Region="us-west-2")
            + every(15, 1, 500, Region="eu-west-1")
        },
    ),
    "low-renewable-eu-west-1": (
        {"RenewableSharePercent": every(15, 1, 25, Region="eu-west-1")},
        {"RenewableSharePercent": every(15, 1, 45, Region="eu-west-1")},
    ),
    "planning-on-estimates": (
        {"EstimatedRegions": every(15, 2, 1)},
        {"EstimatedRegions": every(15, 1, 1) + every(15, 2, 0)[4:]},
    ),
    "scheduler-lag": (
        {"DueIndexLagSeconds": [(NOW - 60, 11 * 60, {})]},
        {"DueIndexLagSeconds": [(NOW - 60, 9 * 60, {}), (NOW - 400, 3000, {})]},
    ),
    "stuck-workloads": (
        {"StuckWorkloads": [(NOW - 60, 1, {})]},
        {"StuckWorkloads": [(NOW - 60, 0, {})]},
    ),
    "poison-records": (
        {"Sweep_poison_failed": [(NOW - 60, 1, {})]},
        {"Sweep_poison_failed": [(NOW - 60, 0, {})]},
    ),
    "migration-storm": (
        {"Migrations": every(10, 1, 1, Region="eu-west-1") + every(10, 1, 1, Region="us-west-2")},
        {"Migrations": [*every(10, 1, 1, Region="eu-west-1"), (NOW - 2 * HOUR, 50, {})]},
    ),
    "placement-score-budget": (
        {"PlacementScoreBudgetExhausted": [(NOW - 60, 1, {"Fleet": "batch"})]},
        {"PlacementScoreBudgetExhausted": [(NOW - 60, 0, {"Fleet": "batch"})]},
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_alarm_fires_on_breaching_values_only(alarms: dict, name: str) -> None:
    breaching, healthy = CASES[name]
    assert fires(alarms[name], breaching, NOW), f"{name} did not fire"
    assert not fires(alarms[name], healthy, NOW), f"{name} fired on healthy values"


def test_no_data_fires_only_the_outage_alarm(alarms: dict) -> None:
    firing = {name for name in CASES if fires(alarms[name], {}, NOW)}
    assert firing == {"planning-on-estimates"}  # a silent monitor is an outage


def test_every_service_alarm_has_a_firing_test(alarms: dict) -> None:
    regional = {
        f"{kind}-{r}"
        for kind in ("high-carbon", "low-renewable")
        for r in ("eu-west-1", "us-west-2")
    }
    service = {n for n in alarms if not n.endswith(("-errors", "-dead-letters"))}
    untested = service - set(CASES) - regional  # one case per kind: same definition per Region
    assert not untested, f"alarms without a firing test: {sorted(untested)}"
