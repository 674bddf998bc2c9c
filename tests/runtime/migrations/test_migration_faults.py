"""Fault injection at every state of every strategy, over seeded randomised trials on moto.

Each trial starts one migration and injects one fault when it reaches a chosen state: the
orchestrator dies right after a phase did its work (the step is re-run from the persisted
migration), an AWS call fails (the checkpoint copy, the capacity writes), the target fails its
health checks (its instances unhealthy, its run dies), a spot interruption lands (an instance of
the fleet, the workload's source run), or a cancel. Faults at rolling_back come on top of a
target that fails, which forces the rollback. After every step capacity must hold; at the end
the migration is completed or rolled back (failed only when validation rejected it, cancelled
only when cancelled before anything was touched) and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator

import boto3
import pytest
from tests.runtime.migrations.migration_env import (
    FLEET,
    SERVICE,
    SOURCE,
    TARGET,
    Crash,
    Env,
    create_env,
    ecs_targets,
    interrupt_source,
    running_workload,
)

from carbon_aware.cli.demo_migrations import put_checkpoint, tasks_keep_running
from carbon_aware.engine.fleet import share_cap
from carbon_aware.runtime import segments as seg
from carbon_aware.runtime.migrations.orchestrator import CannotCancel
from carbon_aware.runtime.migrations.repository import Migration
from carbon_aware.runtime.migrations.states import MigrationState
from carbon_aware.runtime.migrations.strategies.blue_green import ROUTE53_REGION
from carbon_aware.runtime.targets import WORKLOAD_TAG

S = MigrationState
AT = (S.VALIDATING, S.PREPARING, S.MIGRATING, S.COMPLETING, S.ROLLING_BACK)
FAULTS = ("crash", "api_error", "health", "interruption", "cancel")
# Trials per strategy: every (fault, state) pair in turn, details drawn from the seed. Raise
# MIGRATION_TRIALS for a longer run (the default keeps this file near a minute).
TRIALS = int(os.environ.get("MIGRATION_TRIALS", "50"))
COMBOS = [(f, s) for s in AT for f in FAULTS]
T0 = 1_800_000_000.0
TIMEOUTS = {s: 90.0 for s in S}
# blue_green's checks and traffic steps take a poll each: up to 3 checks, then 3 steps.
SERVICE_TIMEOUTS = {s: 150.0 for s in S}
PHASE_OF = {
    S.VALIDATING: "validate",
    S.PREPARING: "prepare",
    S.MIGRATING: "migrate",
    S.COMPLETING: "complete",
    S.ROLLING_BACK: "rollback",
}
ORIGINAL = {SOURCE: 4, TARGET: 2}
SUMMARY: Counter[tuple[str, str, str]] = Counter()


@pytest.fixture
def fleet_env(moto_aws: None) -> Env:
    return create_env([T0], {}, TIMEOUTS)


@pytest.fixture
def env(moto_aws: None) -> Iterator[Env]:
    with tasks_keep_running():
        yield create_env([T0], ecs_targets(), TIMEOUTS)


@pytest.fixture
def service_env(moto_aws: None) -> Env:
    return create_env([T0], {}, SERVICE_TIMEOUTS)


def drive(
    env: Env,
    migration_id: str,
    at: S,
    inject: Callable[[Migration], None],
    after_step: Callable[[Migration], None],
) -> Migration:
    """Step until final, injecting once at ``at``; ``after_step`` checks each observation."""
    injected = False
    outage = random.Random(migration_id).randint(2, 8)  # steps an injected API outage lasts
    for _ in range(100):
        m = env.repo.get(migration_id)
        assert m is not None
        if m.state.final:
            return m
        if not injected and m.state == at:
            inject(m)
            injected = True
        elif injected:
            outage -= 1
            if m.state != at or outage <= 0:
                env.faults.failing.clear()
        try:
            env.orchestrator.step(migration_id, env.now())
        except Crash:
            pass  # the process died: the next step starts from what was persisted
        except Exception:  # recorded on the migration, retried at the next step
            pass
        after_step(env.repo.get(migration_id))
        env.clock[0] += 30.0
    raise AssertionError(f"migration {migration_id} never ended: {env.repo.get(migration_id)}")


def common_fault(env: Env, fault: str, at: S, m: Migration, failing: set[str]) -> None:
    if fault == "crash":
        env.faults.crash_after = PHASE_OF[at]
    elif fault == "api_error":
        env.faults.failing |= failing
    elif fault == "cancel":
        with contextlib.suppress(CannotCancel):  # too late to cancel is an answer too
            env.orchestrator.cancel(m.migration_id, env.now(), "trial")


def group_fault(
    env: Env,
    rng: random.Random,
    groups: dict[str, str],
    fault: str,
    at: S,
    m: Migration,
    failing: set[str],
) -> None:
    """A fault for strategies on Auto Scaling groups: the target's instances fail their health
    checks, a spot interruption takes an instance of either group, or a common fault."""
    if fault == "health":
        env.faults.unhealthy.add(TARGET)
    elif fault == "interruption":
        region = rng.choice((SOURCE, TARGET))
        instances = env.group(region, groups[region])["Instances"]
        if instances:
            boto3.client(
                "autoscaling", region_name=region
            ).terminate_instance_in_auto_scaling_group(
                InstanceId=rng.choice(instances)["InstanceId"], ShouldDecrementDesiredCapacity=False
            )
    else:
        common_fault(env, fault, at, m, failing)


def workload_faults(
    env: Env, fault: str, at: S, workload_id: str
) -> tuple[Callable[[Migration], None], Callable[[Migration], None]]:
    """The injection and the per-step check for a moved workload: a failing health check kills
    its target run (at rolling_back, on top of the fault: it forces the rollback), an
    interruption stops its source run, the rest are the common faults."""
    kill_target = [at == S.ROLLING_BACK]

    def inject(m: Migration) -> None:
        if fault == "health":
            kill_target[0] = True
        elif fault == "interruption":
            interrupt_source(env, workload_id)
        else:
            failing = {"copy_object", "copy_snapshot", "delete_snapshot", "run_task", "stop_task"}
            common_fault(env, fault, at, m, failing)

    def target_dies(m: Migration) -> None:
        if kill_target[0] and m.state in (S.PREPARING, S.MIGRATING):
            for task in env.running_tasks(TARGET, workload_id):
                env.raw("ecs", TARGET).stop_task(
                    cluster=env.targets[TARGET]["cluster"], task=task, reason="health check failed"
                )

    return inject, target_dies


def snapshot_copies(env: Env, workload_id: str) -> list[str]:
    """The workload's snapshot copies in the target (tagged by the carry)."""
    described = env.raw("ec2", TARGET).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": f"tag:{WORKLOAD_TAG}", "Values": [workload_id]}]
    )
    return [s["SnapshotId"] for s in described["Snapshots"]]


def assert_released(env: Env, m: Migration) -> None:
    assert env.repo.holder(m.subject) is None, f"lock of {m.subject} left behind"
    assert m.migration_id not in set(env.repo.due(env.now() + 1e9)), "final migration still due"


def check_ending(m: Migration, fault: str, at: S) -> None:
    allowed = {S.COMPLETED, S.ROLLED_BACK}
    if at == S.VALIDATING and fault in ("cancel", "interruption", "api_error"):
        allowed |= {S.CANCELLED, S.FAILED}
    assert m.state in allowed, f"{fault} at {at}: ended {m.state}: {m.history}"


def test_drain_and_shift_survives_faults_at_every_state(fleet_env: Env) -> None:
    env = fleet_env
    rng = random.Random(13)
    floor = share_cap(0.2, 6)
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        fault, at = COMBOS[trial % len(COMBOS)]
        env.faults.clear()
        if at == S.ROLLING_BACK:
            env.faults.unhealthy.add(TARGET)
        count = rng.choice((1, 2))
        started = env.orchestrator.start(
            {
                "kind": "drain_and_shift",
                "fleet": FLEET,
                "source": SOURCE,
                "target": TARGET,
                "count": count,
            },
            env.now(),
        )

        def inject(m: Migration, fault: str = fault, at: S = at) -> None:
            failing = {"set_desired_capacity", "describe_auto_scaling_groups"}
            group_fault(env, rng, env.groups, fault, at, m, failing)

        def capacity_holds(m: Migration, fault: str = fault, at: S = at) -> None:
            capacity = env.capacity()
            desired = {r: d for r, (d, _) in capacity.items()}
            assert sum(desired.values()) >= sum(ORIGINAL.values()), f"{desired} at {m.state}"
            assert desired[SOURCE] >= floor, f"source below its floor: {desired}"
            # Healthy capacity holds unless the target fails only after it was verified (at
            # completing: the source is drained by then; replacing it is the groups' job).
            if not (fault == "health" and at == S.COMPLETING):
                serving = sum(n for r, (_, n) in capacity.items() if r not in env.faults.unhealthy)
                assert serving >= 4, f"fewer than min_total healthy InService at {m.state}"

        m = drive(env, started["id"], at, inject, capacity_holds)
        check_ending(m, fault, at)
        desired = env.desired()
        if m.state == S.COMPLETED:
            goal = {SOURCE: 4 - count, TARGET: 2 + count}
            assert desired == goal
            assert env.fleet_repo.state(FLEET).allocation == goal
        else:
            assert desired == ORIGINAL, f"{m.state} left {desired}: {m.history}"
        assert_released(env, m)
        outcomes[str(m.state)] += 1
        SUMMARY[("drain_and_shift", f"{fault}@{at}", str(m.state))] += 1
        env.faults.clear()
        for region, n in ORIGINAL.items():
            env.raw("autoscaling", region).set_desired_capacity(
                AutoScalingGroupName=env.groups[region], DesiredCapacity=n
            )
    print(f"\ndrain_and_shift: {TRIALS} trials, outcomes {dict(outcomes)}")
    assert outcomes[str(S.COMPLETED)] and outcomes[str(S.ROLLED_BACK)]


def test_checkpoint_restore_survives_faults_at_every_state(env: Env) -> None:
    rng = random.Random(31)
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        fault, at = COMBOS[trial % len(COMBOS)]
        env.faults.clear()
        workload_id = f"job-{trial}"
        stale, snapshot = rng.random() < 0.5, trial % 2 == 1  # every other one with a snapshot
        source_task = running_workload(env, workload_id, 5 + trial % 3, stale, snapshot)
        before = env.prefix_objects(TARGET, workload_id)
        started = env.orchestrator.start(
            {"kind": "checkpoint_restore", "workload_id": workload_id, "target": TARGET},
            env.now(),
        )
        m = drive(env, started["id"], at, *workload_faults(env, fault, at, workload_id))
        check_ending(m, fault, at)
        record = env.workloads.get(workload_id)
        source_running = source_task in env.running_tasks(SOURCE, workload_id)
        if m.state == S.COMPLETED:
            assert record.dispatch["region"] == TARGET
            assert record.dispatch["handle"] == m.data["target_run"]["handle"]
            assert not source_running, "source run not released"
            assert env.running_tasks(TARGET, workload_id) == [record.dispatch["handle"]]
            assert record.segments["runs"][0]["migrated_from"] == SOURCE
            named = env.manifest(TARGET, workload_id).get("snapshot_id")
            assert snapshot_copies(env, workload_id) == ([named] if snapshot else [])
        else:
            assert env.prefix_objects(TARGET, workload_id) == before, (
                f"{m.state}: target prefix changed"
            )
            assert env.running_tasks(TARGET, workload_id) == [], "target run orphaned"
            assert snapshot_copies(env, workload_id) == [], "snapshot copy orphaned"
            if record.status == "RUNNING":
                assert record.dispatch["handle"] == source_task and source_running
        assert_released(env, m)
        outcomes[str(m.state)] += 1
        SUMMARY[("checkpoint_restore", f"{fault}@{at}", str(m.state))] += 1
    print(f"\ncheckpoint_restore: {TRIALS} trials, outcomes {dict(outcomes)}")
    assert outcomes[str(S.COMPLETED)] and outcomes[str(S.ROLLED_BACK)]


def test_blue_green_survives_faults_at_every_state(service_env: Env) -> None:
    env = service_env
    rng = random.Random(47)
    groups = env.service_groups
    original = {SOURCE: 4, TARGET: 0}
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        fault, at = COMBOS[trial % len(COMBOS)]
        env.faults.clear()
        if at == S.ROLLING_BACK:
            env.faults.unhealthy.add(TARGET)
        started = env.orchestrator.start(
            {
                "kind": "blue_green",
                "service": SERVICE,
                "source": SOURCE,
                "target": TARGET,
                "healthy_checks": rng.choice((1, 2, 3)),
                "traffic_steps": rng.choice(([100], [50, 100], [10, 50, 100])),
                "step_wait_seconds": rng.choice((0, 30)),
                "deregistration_delay_seconds": rng.choice((0, 30, 60)),
            },
            env.now(),
        )

        # No more traffic goes to the target once it failed its checks (none when it always fails).
        ceiling = [0 if at == S.ROLLING_BACK else 100]

        def inject(
            m: Migration, fault: str = fault, at: S = at, ceiling: list[int] = ceiling
        ) -> None:
            if fault == "health":
                ceiling[0] = env.weights()[TARGET]
            failing = {"set_desired_capacity", "change_resource_record_sets"}
            group_fault(env, rng, groups, fault, at, m, failing | {"get_health_check_status"})

        def serving_holds(m: Migration, ceiling: list[int] = ceiling) -> None:
            capacity, weights = env.capacity(groups), env.weights()
            assert weights[TARGET] <= ceiling[0], f"more traffic to a failing target {weights}"
            assert capacity[SOURCE][0] >= 1, f"source below its minimum at {m.state}"
            for region, weight in weights.items():
                if weight:  # whatever takes traffic runs at the source's full capacity
                    assert capacity[region][0] >= 4, f"{region} {capacity} {weights} {m.state}"
            if capacity[SOURCE][0] < 4:  # launch before drain: the source drains last
                assert weights == {SOURCE: 0, TARGET: 100}, f"{weights} at {m.state}"
                assert capacity[TARGET][0] >= 4
            serving = sum(
                n for r, (_, n) in capacity.items() if weights[r] and r not in env.faults.unhealthy
            )
            assert serving >= 4 or weights[TARGET] == 100, f"{capacity} {weights} {m.state}"

        m = drive(env, started["id"], at, inject, serving_holds)
        check_ending(m, fault, at)
        desired = {r: d for r, (d, _) in env.capacity(groups).items()}
        if m.state == S.COMPLETED:
            assert env.weights() == {SOURCE: 0, TARGET: 100}
            assert desired == {SOURCE: 1, TARGET: 4}, m.history
        else:
            assert env.weights() == {SOURCE: 100, TARGET: 0}, f"{m.state}: {m.history}"
            assert desired == original, f"{m.state} left {desired}: {m.history}"
        assert_released(env, m)
        outcomes[str(m.state)] += 1
        SUMMARY[("blue_green", f"{fault}@{at}", str(m.state))] += 1
        env.faults.clear()
        reset_service(env, original)
    print(f"\nblue_green: {TRIALS} trials, outcomes {dict(outcomes)}")
    assert outcomes[str(S.COMPLETED)] and outcomes[str(S.ROLLED_BACK)]


def reset_service(env: Env, desired: dict[str, int]) -> None:
    """The service as it was before the trial: capacities, all traffic on the source."""
    for region, n in desired.items():
        env.raw("autoscaling", region).set_desired_capacity(
            AutoScalingGroupName=env.service_groups[region], DesiredCapacity=n
        )
    route53 = env.raw("route53", ROUTE53_REGION)
    records = route53.list_resource_record_sets(HostedZoneId=env.zone_id)["ResourceRecordSets"]
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {**r, "Weight": 100 if r["SetIdentifier"] == SOURCE else 0},
        }
        for r in records
        if "SetIdentifier" in r
    ]
    route53.change_resource_record_sets(HostedZoneId=env.zone_id, ChangeBatch={"Changes": changes})


def test_live_survives_faults_at_every_state(env: Env) -> None:
    rng = random.Random(37)
    outcomes: Counter[str] = Counter()
    sources: dict[str, str] = {}  # source task -> workload: its agent checkpoints on SIGTERM

    def final_checkpoint(params: dict, **_: object) -> None:
        workload_id = sources.pop(json.loads(params["body"])["task"], None)
        if workload_id is not None:
            put_checkpoint(env.raw("s3", SOURCE), env.buckets[SOURCE], workload_id, 9, env.now())

    env.raw("ecs", SOURCE).meta.events.register("before-call.ecs.StopTask", final_checkpoint)
    for trial in range(TRIALS):
        fault, at = COMBOS[trial % len(COMBOS)]
        env.faults.clear()
        workload_id = f"live-{trial}"
        source_task = running_workload(env, workload_id, 5 + trial % 3, rng.random() < 0.5)
        sources[source_task] = workload_id
        before = env.prefix_objects(TARGET, workload_id)
        started = env.orchestrator.start(
            {"kind": "live", "workload_id": workload_id, "target": TARGET}, env.now()
        )
        m = drive(env, started["id"], at, *workload_faults(env, fault, at, workload_id))
        check_ending(m, fault, at)
        record = env.workloads.get(workload_id)
        assert seg.PAUSED_BY not in (record.dispatch or {}), f"{fault}@{at}: left paused"
        if m.state == S.COMPLETED:
            assert record.dispatch["region"] == TARGET
            assert env.running_tasks(TARGET, workload_id) == [record.dispatch["handle"]]
            assert source_task not in env.running_tasks(SOURCE, workload_id)
        else:
            assert env.prefix_objects(TARGET, workload_id) == before, f"{fault}@{at}: prefix"
            assert env.running_tasks(TARGET, workload_id) == [], "target run orphaned"
            if record.status == "RUNNING":  # the source, or its resumption at home, runs
                assert env.running_tasks(SOURCE, workload_id) == [record.dispatch["handle"]]
        assert_released(env, m)
        outcomes[str(m.state)] += 1
        SUMMARY[("live", f"{fault}@{at}", str(m.state))] += 1
    print(f"\nlive: {TRIALS} trials, outcomes {dict(outcomes)}")
    assert outcomes[str(S.COMPLETED)] and outcomes[str(S.ROLLED_BACK)]
