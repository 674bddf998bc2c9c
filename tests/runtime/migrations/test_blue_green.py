"""blue_green on moto, step by step: launch before any traffic moves, N consecutive healthy checks,
the traffic steps in order (resumed at the persisted step after a crash), the source drained
to its minimum only after the deregistration delay, rollback restoring the source's weights and
capacity, the grams, and start requests rejected naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from tests.runtime.migrations.migration_env import (
    SERVICE,
    SOURCE,
    TARGET,
    Crash,
    Env,
    create_env,
)

from carbon_aware.runtime.migrations.repository import Migration
from carbon_aware.runtime.migrations.states import MigrationState
from carbon_aware.runtime.migrations.strategies import SpecError
from carbon_aware.runtime.migrations.strategies.blue_green import ROUTE53_REGION

S = MigrationState
T0 = 1_800_000_000.0
POLL = 30.0
MOVE = {"kind": "blue_green", "service": SERVICE, "source": SOURCE, "target": TARGET}
BASIS = {"source_g_per_kwh": 400, "target_g_per_kwh": 100, "power_watts": 250, "hours": 10}


@pytest.fixture
def env(moto_aws: None) -> Env:
    return create_env([T0], {}, {})


def start(env: Env, **fields: Any) -> str:
    return env.orchestrator.start({**MOVE, **fields}, env.now())["id"]


def step(env: Env, migration_id: str) -> Migration:
    """One poll: step, then let POLL seconds pass."""
    try:
        m = env.orchestrator.step(migration_id, env.now())
    except Crash:
        m = env.repo.get(migration_id)
    env.clock[0] += POLL
    assert m is not None
    return m


Seen = tuple[Migration, dict[str, int], dict[str, int]]


def until(env: Env, migration_id: str, state: S, limit: int = 40) -> list[Seen]:
    """Step until ``state`` (or a final one); after each step the migration, the weights and
    the desired capacities."""
    seen = []
    for _ in range(limit):
        m = step(env, migration_id)
        seen.append((m, env.weights(), desired(env)))
        if m.state == state or m.state.final:
            return seen
    raise AssertionError(f"never reached {state}: {seen[-1]}")


def desired(env: Env) -> dict[str, int]:
    return {r: d for r, (d, _) in env.capacity(env.service_groups).items()}


def test_launch_checks_steps_delay_then_drain_to_the_minimum(env: Env) -> None:
    mid = start(
        env,
        healthy_checks=2,
        traffic_steps=[10, 50, 100],
        step_wait_seconds=60,
        deregistration_delay_seconds=300,
        basis=BASIS,
    )
    observed = until(env, mid, S.COMPLETED, 60)
    assert observed[-1][0].state == S.COMPLETED
    assert observed[-1][1:] == ({SOURCE: 0, TARGET: 100}, {SOURCE: 1, TARGET: 4})
    # The target runs the source's capacity before it gets any traffic.
    assert all(d[TARGET] == 4 for _, w, d in observed if w[TARGET])
    # The weights go through the steps in order.
    shares = [w[TARGET] for _, w, _ in observed]
    assert sorted(set(shares)) == [0, 10, 50, 100] and shares == sorted(shares)
    # Each step is held for step_wait_seconds (60 s: two polls) before the next.
    assert shares.count(10) >= 2 and shares.count(50) >= 2
    # The source drains only once all traffic left it and the delay passed.
    drained = [i for i, (_, _, d) in enumerate(observed) if d[SOURCE] < 4]
    full = shares.index(100)
    assert drained and (drained[0] - full) * POLL >= 300
    m = env.repo.get(mid)
    assert m.grams["units"] == 4
    assert m.grams["overlap_seconds"] == m.data["released_at"] - m.data["launched_at"] > 0
    kw = 0.25 * 4
    assert m.grams["gross_g"] == pytest.approx(kw * 10 * 300)
    assert m.grams["overhead_g"] == pytest.approx(kw * m.grams["overlap_seconds"] / 3600 * 100)
    assert m.grams["net_g"] == pytest.approx(m.grams["gross_g"] - m.grams["overhead_g"])


def test_the_target_needs_n_consecutive_healthy_checks(env: Env) -> None:
    mid = start(env, healthy_checks=3, traffic_steps=[100])
    until(env, mid, S.PREPARING)
    verdicts = [True, True, False, True, True]  # a failure resets the count
    for healthy in verdicts:
        (env.faults.unhealthy.discard if healthy else env.faults.unhealthy.add)(TARGET)
        m = step(env, mid)
        assert m.state == S.PREPARING, m.history
        assert env.weights() == {SOURCE: 100, TARGET: 0}
    m = step(env, mid)  # the third healthy check in a row
    assert m.state == S.MIGRATING and m.data["healthy_streak"] == 3


def test_a_failing_route53_health_check_counts_as_unhealthy(env: Env) -> None:
    mid = start(env, healthy_checks=1, traffic_steps=[100])
    until(env, mid, S.PREPARING)
    env.faults.failing_checks.add(TARGET)  # the instances stay healthy
    m = step(env, mid)
    assert m.state == S.PREPARING and m.data["healthy_streak"] == 0
    instances = env.group(TARGET, env.service_groups[TARGET])["Instances"]
    assert len(instances) == 4 and all(i["HealthStatus"] == "Healthy" for i in instances)
    env.faults.failing_checks.clear()
    assert until(env, mid, S.MIGRATING)[-1][0].state == S.MIGRATING


def test_a_target_failing_mid_shift_gets_no_more_traffic_and_rolls_back(env: Env) -> None:
    mid = start(env, healthy_checks=1, traffic_steps=[10, 50, 100], step_wait_seconds=0)
    until(env, mid, S.MIGRATING)
    assert step(env, mid).data["step"] == 1 and env.weights()[TARGET] == 10
    env.faults.unhealthy.add(TARGET)
    m = step(env, mid)
    assert m.state == S.ROLLING_BACK and env.weights()[TARGET] == 10, m.history
    until(env, mid, S.ROLLED_BACK)
    assert env.weights() == {SOURCE: 100, TARGET: 0} and desired(env) == {SOURCE: 4, TARGET: 0}


def test_a_crash_mid_shift_resumes_at_the_persisted_step(env: Env) -> None:
    mid = start(env, healthy_checks=1, traffic_steps=[10, 50, 100], step_wait_seconds=0)
    until(env, mid, S.MIGRATING)
    assert step(env, mid).data["step"] == 1 and env.weights()[TARGET] == 10
    env.faults.crash_after = "migrate"  # dies after writing 50 %, before recording it
    m = step(env, mid)
    assert m.data["step"] == 1 and env.weights()[TARGET] == 50
    m = step(env, mid)  # re-writes the step it had not recorded, never goes back to 10 %
    assert m.data["step"] == 2 and env.weights()[TARGET] == 50
    m = step(env, mid)
    assert m.data["step"] == 3 and env.weights()[TARGET] == 100


def test_rollback_shifts_back_even_a_step_a_crash_left_unrecorded(env: Env) -> None:
    mid = start(env, healthy_checks=1, traffic_steps=[50, 100], deregistration_delay_seconds=60)
    until(env, mid, S.MIGRATING)
    env.faults.crash_after = "migrate"  # 50 % written, not recorded
    m = step(env, mid)
    assert "step" not in m.data and env.weights() == {SOURCE: 50, TARGET: 50}
    env.orchestrator.cancel(mid, env.now())
    observed = until(env, mid, S.ROLLED_BACK)
    assert observed[-1][0].state == S.ROLLED_BACK
    assert observed[-1][1:] == ({SOURCE: 100, TARGET: 0}, {SOURCE: 4, TARGET: 0})
    # Traffic leaves the target first; it keeps its capacity for the deregistration delay.
    back = [d for m, w, d in observed if m.state == S.ROLLING_BACK and w[TARGET] == 0]
    assert len(back) >= 2 and all(d[TARGET] == 4 for d in back), observed
    assert env.repo.get(mid).grams["net_g"] is None  # no basis given


def test_rollback_waits_for_the_source_before_moving_traffic_back(env: Env) -> None:
    mid = start(env, healthy_checks=1, traffic_steps=[100], deregistration_delay_seconds=0)
    until(env, mid, S.COMPLETING)
    env.faults.crash_after = "complete"  # the source is lowered, released_at is not recorded
    step(env, mid)
    assert desired(env)[SOURCE] == 1
    env.faults.unhealthy.add(TARGET)  # the re-run finds the target failing: roll back
    m = step(env, mid)
    assert m.state == S.ROLLING_BACK
    env.faults.unhealthy = {SOURCE, TARGET}  # the source's new instances are not healthy yet
    m = step(env, mid)
    assert desired(env)[SOURCE] == 4 and env.weights()[TARGET] == 100, "traffic moved too early"
    env.faults.unhealthy = {TARGET}
    until(env, mid, S.ROLLED_BACK)
    assert env.weights() == {SOURCE: 100, TARGET: 0} and desired(env) == {SOURCE: 4, TARGET: 0}


def test_the_source_never_goes_below_its_minimum(env: Env) -> None:
    env.raw("autoscaling", SOURCE).update_auto_scaling_group(
        AutoScalingGroupName=env.service_groups[SOURCE], MinSize=3
    )
    mid = start(env, healthy_checks=1, traffic_steps=[100], deregistration_delay_seconds=0)
    assert until(env, mid, S.COMPLETED)[-1][0].state == S.COMPLETED
    assert desired(env) == {SOURCE: 3, TARGET: 4}


def test_validation_rejects_a_missing_record_naming_it(env: Env) -> None:
    route53 = env.raw("route53", ROUTE53_REGION)
    (record,) = [
        r
        for r in route53.list_resource_record_sets(HostedZoneId=env.zone_id)["ResourceRecordSets"]
        if r.get("SetIdentifier") == TARGET
    ]
    route53.change_resource_record_sets(
        HostedZoneId=env.zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]},
    )
    m = until(env, start(env), S.FAILED)[-1][0]
    assert m.state == S.FAILED and f"set identifier {TARGET}" in m.reason, m.reason


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"service": "nope"}, "service"),
        ({"source": TARGET}, "target"),
        ({"source": "mars-1"}, "source"),
        ({"healthy_checks": 0}, "healthy_checks"),
        ({"traffic_steps": [10, 50]}, "traffic_steps"),
        ({"traffic_steps": [50, 10, 100]}, "traffic_steps"),
        ({"traffic_steps": []}, "traffic_steps"),
        ({"step_wait_seconds": -1}, "step_wait_seconds"),
        ({"deregistration_delay_seconds": "5m"}, "deregistration_delay_seconds"),
        ({"step_wait_seconds": 3600}, "step_wait_seconds"),  # longer than migrating may last
        ({"healthy_checks": 40}, "healthy_checks"),  # longer than preparing may last
        ({"traffic_steps": list(range(1, 101)), "step_wait_seconds": 0}, "traffic_steps"),
        ({"count": 2}, "count"),
    ],
)
def test_a_bad_start_is_rejected_naming_the_field(env: Env, fields: dict, name: str) -> None:
    with pytest.raises(SpecError, match=f"^{name}: "):
        env.orchestrator.start({**MOVE, **fields}, env.now())
    assert env.repo.recent(5) == []
