"""The migration state machine around its strategies: one migration per subject however many
start at once, racing steppers, the transition table, dry runs, cancels, timeouts found by the
sweep, spec errors naming the field, and a sweep that survives a bad migration."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from moto.core.botocore_stubber import BotocoreStubber
from tests.fleet.fleet_env import Carbon, Market, Renewables
from tests.runtime.conftest import _serialised
from tests.runtime.migrations.migration_env import FLEET, SERVICE, SOURCE, TARGET, Env, create_env

from carbon_aware.runtime.fleet.optimizer import FleetOptimizer
from carbon_aware.runtime.fleet.settings import FleetSettings, parse_fleet
from carbon_aware.runtime.migrations.orchestrator import AlreadyMigrating, CannotCancel
from carbon_aware.runtime.migrations.repository import fleet_subject
from carbon_aware.runtime.migrations.states import (
    ALLOWED,
    FINAL,
    InvalidTransition,
    MigrationState,
    check_transition,
)
from carbon_aware.runtime.migrations.strategies import SpecError
from carbon_aware.runtime.migrations.strategies.checkpoint_restore import CheckpointRestore

S = MigrationState
T0 = 1_800_000_000.0
SHIFT = {"kind": "drain_and_shift", "fleet": FLEET, "source": SOURCE, "target": TARGET, "count": 1}


@pytest.fixture
def env(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    # DynamoDB applies each request atomically; moto in-process needs a lock to do the same.
    monkeypatch.setattr(
        BotocoreStubber, "process_request", _serialised(BotocoreStubber.process_request)
    )
    yield create_env([T0], {}, {s: 90.0 for s in S})


def finish(env: Env, migration_id: str) -> Any:
    for _ in range(30):
        m = env.orchestrator.step(migration_id, env.now())
        if m.state.final:
            return m
        env.clock[0] += 30.0
    raise AssertionError("never ended")


def race(n: int, work: Any) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(work())
        except BaseException as exc:  # collected for the assertions
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_concurrent_starts_yield_exactly_one_migration_per_round(env: Env) -> None:
    rounds, threads = 8, 6
    for _ in range(rounds):
        started, errors = race(threads, lambda: env.orchestrator.start(SHIFT, env.now()))
        assert len(started) == 1, f"{len(started)} migrations of one fleet started"
        assert len(errors) == threads - 1
        assert all(isinstance(e, AlreadyMigrating) for e in errors), errors
        assert {e.holder for e in errors} == {started[0]["id"]}
        assert env.repo.holder(f"fleet:{FLEET}") == started[0]["id"]
        live = [m for m in env.repo.recent() if not m.state.final]
        assert [m.migration_id for m in live] == [started[0]["id"]]
        assert finish(env, started[0]["id"]).state == S.COMPLETED
        for region, n in {SOURCE: 4, TARGET: 2}.items():
            env.raw("autoscaling", region).set_desired_capacity(
                AutoScalingGroupName=env.groups[region], DesiredCapacity=n
            )
    print(f"\nraces: {rounds} rounds x {threads} concurrent starts -> 1 migration each")


def test_racing_steppers_take_each_transition_once(env: Env) -> None:
    migration_id = env.orchestrator.start(SHIFT, env.now())["id"]
    for _ in range(12):
        race(4, lambda: env.orchestrator.step(migration_id, env.now()))
        env.clock[0] += 30.0
    m = env.repo.get(migration_id)
    assert m.state == S.COMPLETED
    visited = [h["to"] for h in m.history]
    assert visited == ["pending", "validating", "preparing", "migrating", "completing", "completed"]
    assert env.desired() == {SOURCE: 3, TARGET: 3}


def test_the_transition_table_allows_only_the_lifecycle() -> None:
    for state in FINAL:
        assert ALLOWED[state] == frozenset()
    check_transition(S.MIGRATING, S.ROLLING_BACK)
    for bad in [(S.PENDING, S.COMPLETED), (S.ROLLING_BACK, S.COMPLETED), (S.COMPLETED, S.PENDING)]:
        with pytest.raises(InvalidTransition):
            check_transition(*bad)
    # Launch before drain: nothing reaches completing without migrating.
    assert [s for s, nexts in ALLOWED.items() if S.COMPLETING in nexts] == [S.MIGRATING]


def test_dry_run_validates_against_aws_and_writes_nothing(env: Env) -> None:
    plan = env.orchestrator.start({**SHIFT, "count": 2}, env.now(), dry_run=True)
    assert plan["ok"] and plan["plan"]["goal"] == {SOURCE: 2, TARGET: 4}
    assert env.repo.recent() == [] and env.repo.holder(f"fleet:{FLEET}") is None
    assert env.desired() == {SOURCE: 4, TARGET: 2}
    too_many = env.orchestrator.start({**SHIFT, "count": 3}, env.now(), dry_run=True)
    assert not too_many["ok"] and "floor 2" in too_many["reason"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "teleport"}, "kind"),
        ({"fleet": "nope"}, "fleet"),
        ({"target": "mars-1"}, "target"),
        ({"target": SOURCE}, "target"),
        ({"count": 0}, "count"),
        ({"colour": "red"}, "colour"),
        ({"basis": {"hours": 1}}, "basis.source_g_per_kwh"),
        (
            {
                "basis": {
                    "source_g_per_kwh": 1,
                    "target_g_per_kwh": 1,
                    "power_watts": 1,
                    "hours": -1,
                }
            },
            "basis.hours",
        ),
    ],
)
def test_a_bad_field_is_rejected_naming_it(env: Env, change: dict, field: str) -> None:
    with pytest.raises(SpecError, match=f"^{field}"):
        env.orchestrator.start({**SHIFT, **change}, env.now())
    assert env.repo.recent() == []


def test_cancel_before_and_after_the_point_of_no_return(env: Env) -> None:
    first = env.orchestrator.start(SHIFT, env.now())["id"]
    assert env.orchestrator.cancel(first, env.now()).state == S.CANCELLED
    assert env.repo.holder(f"fleet:{FLEET}") is None
    second = env.orchestrator.start(SHIFT, env.now())["id"]
    while env.repo.get(second).state != S.COMPLETING:
        env.orchestrator.step(second, env.now())
    with pytest.raises(CannotCancel):
        env.orchestrator.cancel(second, env.now())
    assert finish(env, second).state == S.COMPLETED


def test_the_sweep_rolls_back_a_timed_out_state_and_survives_a_bad_migration(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Any, m: Any, now: float) -> Any:
        raise RuntimeError("unreadable workload")

    monkeypatch.setattr(CheckpointRestore, "validate", broken)
    env.faults.unhealthy.add(TARGET)
    good = env.orchestrator.start(SHIFT, env.now())["id"]
    bad = env.orchestrator.start(
        {"kind": "checkpoint_restore", "workload_id": "ghost", "target": TARGET}, env.now()
    )["id"]
    summaries = []
    for _ in range(12):
        summaries.append(env.orchestrator.sweep(env.now()))
        env.clock[0] += 30.0
    m = env.repo.get(good)
    assert m.state == S.ROLLED_BACK and "migrating timed out" in m.history[-2]["reason"]
    assert env.desired() == {SOURCE: 4, TARGET: 2}
    assert any(bad in s["errors"] for s in summaries), "the bad migration was not counted"
    assert env.repo.get(bad).state == S.FAILED  # validating timed out, nothing touched


def test_the_optimizer_leaves_a_migrating_fleet_alone_and_resumes_from_its_result(
    env: Env,
) -> None:
    settings = FleetSettings(
        fleets={FLEET: parse_fleet(FLEET, env.fleet_spec)},
        errors={},
        fleet_table="fleets",
        signals_table="",
        placement_score_daily_budget=0,
    )
    # The target is far cleaner: left alone, the optimizer would move capacity there at once.
    carbon = Carbon({SOURCE: lambda t: 500.0, TARGET: lambda t: 20.0})
    optimizer = FleetOptimizer(
        settings,
        autoscaling=lambda region: env.raw("autoscaling", region),
        repository=env.fleet_repo,
        carbon=carbon,
        prices=Market(),
        scores=Market(),
        renewables=Renewables(),
        hold=lambda fleet: env.repo.holder(fleet_subject(fleet)),
    )
    migration_id = env.orchestrator.start(SHIFT, env.now())["id"]
    held = optimizer.run(env.now())
    assert held["fleets"][FLEET] == {"fleet": FLEET, "held_by_migration": migration_id}
    assert env.desired() == {SOURCE: 4, TARGET: 2}
    assert finish(env, migration_id).state == S.COMPLETED
    assert env.fleet_repo.state(FLEET).allocation == {SOURCE: 3, TARGET: 3}
    ran = optimizer.run(env.now())
    assert "held_by_migration" not in ran["fleets"][FLEET]
    assert ran["fleets"][FLEET]["current"] == {SOURCE: 3, TARGET: 3}


def test_metrics_feed_the_storm_alarm_and_the_success_slo(env: Env) -> None:
    emitted: list[tuple[str, float, dict]] = []
    env.orchestrator.emit = lambda name, value, dims: emitted.append((name, value, dims))
    assert finish(env, env.orchestrator.start(SHIFT, env.now())["id"]).state == S.COMPLETED
    env.faults.unhealthy.add(TARGET)
    for region, n in {SOURCE: 4, TARGET: 2}.items():
        env.raw("autoscaling", region).set_desired_capacity(
            AutoScalingGroupName=env.groups[region], DesiredCapacity=n
        )
    assert finish(env, env.orchestrator.start(SHIFT, env.now())["id"]).state == S.ROLLED_BACK
    assert [e for e in emitted if e[0] == "Migrations"] == [
        ("Migrations", 1, {"Region": TARGET})
    ] * 2
    assert [(n, v) for n, v, _ in emitted if n.startswith("MigrationsA")] == [
        ("MigrationsAttempted", 1)
    ] * 2
    assert [v for n, v, _ in emitted if n == "MigrationsSucceeded"] == [1, 0]


def test_a_migration_records_its_net_grams_and_a_rollback_its_overhead(env: Env) -> None:
    basis = {"source_g_per_kwh": 400.0, "target_g_per_kwh": 50.0, "power_watts": 200.0}
    request = {**SHIFT, "count": 1, "basis": {**basis, "hours": 5.0}}
    kw = 0.2

    done = finish(env, env.orchestrator.start(request, env.now())["id"])
    assert done.state == S.COMPLETED
    overlap = done.data["released_at"] - done.data["launched_at"]
    assert overlap > 0
    overhead = kw * overlap / 3600.0 * 50.0
    assert done.grams["gross_g"] == pytest.approx(kw * 5.0 * 350.0)
    assert done.grams["overhead_g"] == pytest.approx(overhead)
    assert done.grams["net_g"] == pytest.approx(kw * 5.0 * 350.0 - overhead)

    # Undone: the target never became healthy. Nothing was saved; its launch still cost grams.
    env.faults.unhealthy.add(TARGET)
    for region, n in {SOURCE: 4, TARGET: 2}.items():
        env.raw("autoscaling", region).set_desired_capacity(
            AutoScalingGroupName=env.groups[region], DesiredCapacity=n
        )
    undone = finish(env, env.orchestrator.start(request, env.now())["id"])
    assert undone.state == S.ROLLED_BACK
    ran = undone.updated_at - undone.data["launched_at"]
    assert ran > 0
    assert undone.grams["gross_g"] == 0.0
    assert undone.grams["overhead_g"] == pytest.approx(kw * ran / 3600.0 * 50.0)
    assert undone.grams["net_g"] == pytest.approx(-undone.grams["overhead_g"])


def test_blue_green_concurrent_starts_and_racing_steppers(env: Env) -> None:
    move = {
        "kind": "blue_green",
        "service": SERVICE,
        "source": SOURCE,
        "target": TARGET,
        "healthy_checks": 1,  # the checks must fit in the 90 s timeouts
        "traffic_steps": [100],
        "step_wait_seconds": 0,
        "deregistration_delay_seconds": 0,
    }
    started, errors = race(6, lambda: env.orchestrator.start(move, env.now()))
    assert len(started) == 1 and all(isinstance(e, AlreadyMigrating) for e in errors), errors
    migration_id = started[0]["id"]
    for _ in range(14):
        race(4, lambda: env.orchestrator.step(migration_id, env.now()))
        env.clock[0] += 30.0
    m = env.repo.get(migration_id)
    assert [h["to"] for h in m.history] == [
        "pending",
        "validating",
        "preparing",
        "migrating",
        "completing",
        "completed",
    ]
    assert env.weights() == {SOURCE: 0, TARGET: 100}
    assert env.repo.holder(f"service:{SERVICE}") is None
