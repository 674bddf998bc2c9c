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
# The AWS namespaces of each function's own alarms (modules/function): errors, dead letters.
AWS_NAMESPACES = ("AWS/Lambda", "AWS/SQS")
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
# The root module's alarms and each function module's own.
ALARM_ADDRESS = re.compile(r"(^|\.)aws_cloudwatch_(metric|composite)_alarm\.")
INSIGHTS = re.compile(r'^SELECT (SUM|MAX|AVG)\((\w+)\) FROM SCHEMA\("([^"]+)", (\w+)\)$')


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, dict[str, Any]]]:
    """Each run of tests/alarms.tftest.hcl: its resources' values by address."""
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
    states = {
        m["@testrun"]: m["test_state"]
        for m in map(json.loads, done.stdout.splitlines())
        if m.get("type") == "test_state"
    }
    return {run: _state_resources(state["root_module"]) for run, state in states.items()}


def alarms_of(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rendered alarms by name (without the ``ca-alarms-`` prefix)."""
    return {
        values["alarm_name"].removeprefix("ca-alarms-"): values
        for address, values in resources.items()
        if ALARM_ADDRESS.search(address)
    }


@pytest.fixture(scope="module")
def alarms(rendered: dict) -> dict[str, dict[str, Any]]:
    """The alarms of the default targets."""
    return alarms_of(rendered["rendered_alarms"])


def _series(alarm: dict[str, Any], recorded: Recorded) -> tuple[int, Callable[[list], Any]]:
    """The alarm's period and a function of the datapoints in one period (None: missing)."""
    if alarm.get("metric_name"):
        assert alarm["namespace"] in (NAMESPACE, *AWS_NAMESPACES)
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


def _sums(alarm: dict[str, Any], recorded: Recorded, end: float) -> dict[str, float]:
    """The sums of an SLO alarm's ``good`` and ``total`` metrics over the period ending at
    ``end``."""
    queries = {q["id"]: q for q in alarm["metric_query"]}
    sums = {}
    for name in ("good", "total"):
        (metric,) = queries[name]["metric"]
        assert metric["stat"] == "Sum" and metric["namespace"] == NAMESPACE
        start = end - metric["period"]
        points = recorded.get(metric["metric_name"], [])
        sums[name] = sum(v for t, v, _ in points if start <= t < end)
    return sums


def burn(alarm: dict[str, Any], recorded: Recorded, now: float) -> float:
    """The burn-rate expression ``IF(total > 0, (1 - good / total) / budget, 0)`` on the sums
    of its two metrics over their period."""
    sums = _sums(alarm, recorded, now)
    expression = {q["id"]: q for q in alarm["metric_query"]}["burn"]["expression"]
    match = re.fullmatch(r"IF\(total > 0, \(1 - good / total\) / ([0-9.e-]+), 0\)", expression)
    assert match, expression
    return (1 - sums["good"] / sums["total"]) / float(match[1]) if sums["total"] > 0 else 0.0


def fires(
    alarm: dict[str, Any], recorded: Recorded, now: float, alarms: dict | None = None
) -> bool:
    """Whether the alarm is in ALARM at ``now`` on the recorded values."""
    if "alarm_rule" in alarm:  # composite: ALARM("a") AND ALARM("b")
        names = re.findall(r'ALARM\("ca-alarms-([^"]+)"\)', alarm["alarm_rule"])
        assert alarm["alarm_rule"].count(" AND ") == len(names) - 1 == 1
        return all(fires(alarms[n], recorded, now) for n in names)
    queries = {q.get("id"): q for q in alarm.get("metric_query") or []}
    if "burn" in queries:
        compare = COMPARISONS[alarm["comparison_operator"]]
        return compare(burn(alarm, recorded, now), alarm["threshold"])
    if "attainment" in queries:
        return all(
            attainment_breaches(alarm, recorded, now - k * queries["good"]["metric"][0]["period"])
            for k in range(alarm["evaluation_periods"])
        )
    metric = _recorded_name(alarm) or INSIGHTS.match(alarm["metric_query"][0]["expression"])[2]
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


def attainment_breaches(alarm: dict[str, Any], recorded: Recorded, end: float) -> bool:
    """``IF(total > 0, good / total, 1)`` over the period ending at ``end`` compared with the
    threshold (no outcomes: attainment 1, never breaching)."""
    expression = {q["id"]: q for q in alarm["metric_query"]}["attainment"]["expression"]
    assert expression == "IF(total > 0, good / total, 1)", expression
    sums = _sums(alarm, recorded, end)
    attained = sums["good"] / sums["total"] if sums["total"] > 0 else 1.0
    return COMPARISONS[alarm["comparison_operator"]](attained, alarm["threshold"])


def _recorded_name(alarm: dict[str, Any]) -> str | None:
    """Recorded values are keyed by metric name, prefixed with the namespace outside ours."""
    name = alarm.get("metric_name")
    if not name or alarm["namespace"] == NAMESPACE:
        return name
    return f"{alarm['namespace']}/{name}"


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


def outcomes(good: str, total: str, minutes: int, hours: float, ok: float, n: float) -> dict:
    """Every ``minutes`` over the last ``hours``: ``n`` outcomes of which ``ok`` good."""
    return {good: every(minutes, hours, ok), total: every(minutes, hours, n)}


SLO_CASES = {
    # composite: (fires: a bad last hour with the last 5 minutes bad too;
    #             does not: a bad hour that recovered in the last 5 minutes)
    "dispatch-availability-burn-fast": (
        outcomes("DispatchWindowMet", "DispatchWindowTotal", 5, 1, 97, 100),
        {
            "DispatchWindowMet": [*every(5, 1, 97)[1:], (NOW - 1, 100, {})],
            "DispatchWindowTotal": every(5, 1, 100),
        },
    ),
    "dispatch-availability-burn-slow": (
        outcomes("DispatchWindowMet", "DispatchWindowTotal", 5, 6, 99, 100),
        outcomes("DispatchWindowMet", "DispatchWindowTotal", 5, 6, 999.5, 1000),
    ),
    "migration-success-burn-slow": (
        outcomes("MigrationsSucceeded", "MigrationsAttempted", 10, 6, 1, 5),
        outcomes("MigrationsSucceeded", "MigrationsAttempted", 10, 6, 99, 100),
    ),
    "migration-success-burn-fast": (
        outcomes("MigrationsSucceeded", "MigrationsAttempted", 5, 1, 1, 5),
        outcomes("MigrationsSucceeded", "MigrationsAttempted", 5, 1, 99, 100),
    ),
}


def test_a_burn_rate_out_of_reach_has_no_alarm(alarms: dict) -> None:
    # At the default 60 % carbon-efficiency target the burn rate is at most 2.5x: neither pair.
    assert [n for n in alarms if n.startswith("carbon-efficiency")] == [
        "carbon-efficiency-attainment"
    ]
    assert {n for n in alarms if n.endswith(("-fast", "-slow"))} == {
        "dispatch-availability-burn-fast",
        "dispatch-availability-burn-slow",
        "migration-success-burn-fast",
        "migration-success-burn-slow",
    }


def fires_on_breaching_values_only(alarms: dict, name: str, cases: dict) -> None:
    """``alarms[name]`` fires on the breaching values of ``cases[name]``, not on the healthy."""
    breaching, healthy = cases[name]
    assert fires(alarms[name], breaching, NOW, alarms), f"{name} did not fire"
    assert not fires(alarms[name], healthy, NOW, alarms), f"{name} fired on healthy values"


@pytest.mark.parametrize("name", sorted(CASES) + sorted(SLO_CASES))
def test_the_alarm_fires_on_breaching_values_only(alarms: dict, name: str) -> None:
    fires_on_breaching_values_only(alarms, name, {**CASES, **SLO_CASES})


def test_no_data_fires_only_the_outage_alarm(alarms: dict) -> None:
    firing = {name for name in CASES if fires(alarms[name], {}, NOW)}
    assert firing == {"planning-on-estimates"}  # a silent monitor is an outage


def test_every_service_alarm_has_a_firing_test(alarms: dict) -> None:
    regional = {
        f"{kind}-{r}"
        for kind in ("high-carbon", "low-renewable")
        for r in ("eu-west-1", "us-west-2")
    }
    service = {
        n
        for n in alarms
        if not n.endswith(
            ("-errors", "-dead-letters", "-long", "-short", "-fast", "-slow", "-attainment")
        )
    }
    untested = service - set(CASES) - regional  # one case per kind: same definition per Region
    assert not untested, f"alarms without a firing test: {sorted(untested)}"


# The carbon-efficiency SLO at a 95 % target (both pairs exist from 93.1 %): the sweep emits each
# settled workload's realised saving (clipped to its oracle saving) and its oracle saving.
CARBON_EFFICIENCY_CASES = {
    # (fires: 20 % of the possible saving realised; does not: 97 %)
    "carbon-efficiency-burn-fast": (
        outcomes("RealisedSavedGrams", "OracleSavedGrams", 5, 1, 20, 100),
        outcomes("RealisedSavedGrams", "OracleSavedGrams", 5, 1, 97, 100),
    ),
    # (fires: 60 %, a burn of 8x; does not: 96 %, 0.8x)
    "carbon-efficiency-burn-slow": (
        outcomes("RealisedSavedGrams", "OracleSavedGrams", 10, 6, 60, 100),
        outcomes("RealisedSavedGrams", "OracleSavedGrams", 10, 6, 96, 100),
    ),
}


@pytest.mark.parametrize("name", sorted(CARBON_EFFICIENCY_CASES))
def test_a_carbon_efficiency_below_target_burns_the_budget(rendered: dict, name: str) -> None:
    alarms = alarms_of(rendered["carbon_efficiency_alarms"])
    fires_on_breaching_values_only(alarms, name, CARBON_EFFICIENCY_CASES)
    assert not fires(alarms[name], {}, NOW, alarms)  # nothing settled: no burn


def test_carbon_efficiency_below_its_default_target_for_a_day_alarms(alarms: dict) -> None:
    # No burn pair at the default 60 %: the attainment alarm watches the day in 6-hour periods.
    alarm = alarms["carbon-efficiency-attainment"]
    assert alarm["threshold"] == 0.6 and alarm["alarm_actions"]
    day_at_half = outcomes("RealisedSavedGrams", "OracleSavedGrams", 30, 24, 50, 100)
    recovered = {
        name: [p for p in points if p[0] < NOW - 6 * HOUR]
        + every(30, 6, 70 if name == "RealisedSavedGrams" else 100)
        for name, points in day_at_half.items()
    }
    bad_evening = {
        name: [p for p in points if p[0] >= NOW - 6 * HOUR]
        + [(t, 100.0, d) for t, _, d in every(30, 24, 0) if t < NOW - 6 * HOUR]
        for name, points in day_at_half.items()
    }
    assert fires(alarm, day_at_half, NOW)
    assert not fires(alarm, recovered, NOW)  # the last 6 hours met the target
    assert not fires(alarm, bad_evening, NOW)  # a bad 6 hours alone is not a bad day
    assert not fires(
        alarm, outcomes("RealisedSavedGrams", "OracleSavedGrams", 30, 24, 65, 100), NOW
    )
    assert not fires(alarm, {}, NOW)  # nothing settled
    assert "dispatch-availability-attainment" not in alarms  # its burn pairs watch it


def _function_alarms(alarms: dict) -> dict[str, dict[str, Any]]:
    return {n: a for n, a in alarms.items() if n.endswith(("-errors", "-dead-letters"))}


def test_each_function_alarm_fires_on_its_own_errors_or_dead_letters_only(alarms: dict) -> None:
    functions = _function_alarms(alarms)
    assert len([n for n in functions if n.endswith("-errors")]) >= 7
    assert len([n for n in functions if n.endswith("-dead-letters")]) >= 6
    for name, alarm in functions.items():
        metric, mine = _recorded_name(alarm), alarm["dimensions"]
        other = {key: f"{value}-other" for key, value in mine.items()}
        # One error (or one failed event waiting) in the last five minutes.
        breaching = {metric: [(NOW - 60, 1, mine)]}
        # None now; another function's (queue's) and an older period's do not count.
        healthy = {metric: [(NOW - 60, 0, mine), (NOW - 60, 4, other), (NOW - 400, 2, mine)]}
        assert fires(alarm, breaching, NOW), f"{name} did not fire"
        assert not fires(alarm, healthy, NOW), f"{name} fired on healthy values"
        assert not fires(alarm, {}, NOW), f"{name} fired without data"


def test_each_dead_letter_alarm_watches_the_queue_its_function_fails_into(rendered: dict) -> None:
    resources = rendered["rendered_alarms"]
    queues = {v["arn"]: v["name"] for a, v in resources.items() if a.startswith("aws_sqs_queue.")}
    functions = {
        v["function_name"]: v
        for a, v in resources.items()
        if a.startswith("module.function[") and a.endswith("aws_lambda_function.this[0]")
    }
    on_failure = {
        v["function_name"]: d["destination_arn"]
        for a, v in resources.items()
        if a.startswith("aws_lambda_event_source_mapping.")
        for c in v.get("destination_config") or []
        for d in c.get("on_failure") or []
    }
    alarms = alarms_of(resources)
    watched = {}
    for name, function in functions.items():
        targets = [c["target_arn"] for c in function.get("dead_letter_config") or []]
        targets += [on_failure[k] for k in (name, function["arn"]) if k in on_failure]
        short = name.removeprefix("ca-alarms-")
        if targets:
            (queue,) = {queues[t] for t in targets}
            watched[short] = alarms[f"{short}-dead-letters"]["dimensions"] == {"QueueName": queue}
        else:
            assert f"{short}-dead-letters" not in alarms
    assert watched and all(watched.values()), watched
