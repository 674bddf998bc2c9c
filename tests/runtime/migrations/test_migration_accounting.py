"""A segment a migration moved is accounted in both Regions: the completion function, fed the
real ECS task events (../shared/data/aws_events), counts the source's piece (from its start until
it was released or paused, in the source Region) and the target's, each against its own stretch
of the home-Region baseline; the work the resumed checkpoint kept counts as done. The source's
own stop event, during a live pause or after a switch, changes nothing."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import pytest
from tests.runtime.events import ecs_stopped
from tests.runtime.migrations.migration_env import Env, drive

from carbon_aware.cli.demo_migrations import (
    POWER_WATTS,
    PREFIX,
    SOURCE,
    TARGET,
    put_checkpoint,
    start_interruptible_run,
)
from carbon_aware.cli.export import scan_table
from carbon_aware.cli.ledger import entry_of
from carbon_aware.cli.verify import verify
from carbon_aware.engine.accounting import Series, Span
from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime import segments as seg
from carbon_aware.runtime.cancel import Canceller
from carbon_aware.runtime.completion import Completer, parse_event
from carbon_aware.runtime.migrations.states import MigrationState
from carbon_aware.runtime.states import State

S = MigrationState
T0 = 1_800_000_000.0
G_PER_KWH = {SOURCE: 300.0, TARGET: 30.0}


class Flat:
    """Each Region's intensity constant, so every gram is computed by hand below."""

    def comparable(self, spans: Sequence[Span]) -> list[Series]:
        return [
            Series.from_points(s.region, [s.start], [G_PER_KWH[s.region]], end=s.end + 1.0)
            for s in spans
        ]


def grams(region: str, seconds: float) -> float:
    return POWER_WATTS / 1000.0 * seconds / 3600.0 * G_PER_KWH[region]


def started_workload(env: Env, workload_id: str) -> str:
    """A segment running in SOURCE since T0; the clock moves to T0 + 1800 s, with checkpoint 4
    written at T0 + 1200 s."""
    task = start_interruptible_run(
        env.workloads, env.raw("ecs", SOURCE), env.targets[SOURCE], workload_id, T0
    )
    env.clock[0] = T0 + 1800.0
    put_checkpoint(env.raw("s3", SOURCE), env.buckets[SOURCE], workload_id, 4, T0 + 1200.0)
    return task


def stopped(
    workload_id: str, region: str, handle: str, start: float, end: float, exit_code: int
) -> dict[str, Any]:
    """The real ECS task event of ``handle`` in ``region`` moved to STOPPED."""
    event = ecs_stopped(workload_id, start, end, exit_code)
    event["region"], event["resources"] = region, [handle]
    event["detail"].update(taskArn=handle, startedBy=f"{PREFIX}-{workload_id}")
    for container in event["detail"]["containers"]:
        container["taskArn"] = handle
    return event


def deliver(env: Env, event: dict[str, Any], now: float) -> Any:
    finished = parse_event(event, PREFIX)
    assert finished is not None
    return Completer(env.workloads, Flat()).complete(finished, now)


def test_checkpoint_restore_accounts_the_source_piece_and_the_target_piece(env: Env) -> None:
    source_task = started_workload(env, "train-cr")
    started = env.orchestrator.start(
        {"kind": "checkpoint_restore", "workload_id": "train-cr", "target": TARGET}, env.now()
    )
    m = drive(env, started["id"])
    assert m.state == S.COMPLETED, m.history
    switched = env.now()
    (piece,) = env.workloads.get("train-cr").segments["runs"][0][seg.MOVED]
    assert piece["region"] == SOURCE and piece["handle"] == source_task
    assert piece["started_at"] == T0 and T0 + 1800.0 < piece["ended_at"] <= switched
    assert piece["work_seconds"] == 1200.0  # what checkpoint 4 kept; the rest is redone

    # The released source's own stop event belongs to a run the segment left: nothing changes.
    before = env.workloads.get("train-cr")
    released = stopped("train-cr", SOURCE, source_task, T0, switched, 143)
    assert deliver(env, released, switched + 5.0) == before

    target_start, end = m.data["started_at"], switched + 3600.0
    target_task = m.data["target_run"]["handle"]
    done = deliver(env, stopped("train-cr", TARGET, target_task, target_start, end, 0), end)
    assert done.status == State.SUCCEEDED
    run = done.segments["runs"][0]
    source_s = piece["ended_at"] - T0
    target_s = end - target_start
    (moved,) = run[seg.MOVED]
    assert moved["result"]["emissions_g"] == pytest.approx(grams(SOURCE, source_s))
    assert moved["result"]["baseline_g"] == pytest.approx(grams(SOURCE, source_s))
    assert moved["result"]["baseline_start"] == T0
    assert run["result"]["emissions_g"] == pytest.approx(grams(TARGET, target_s))
    # The target's stretch of the baseline follows the work the source kept.
    assert run["result"]["baseline_start"] == T0 + 1200.0
    assert done.result["emissions_g"] == pytest.approx(
        grams(SOURCE, source_s) + grams(TARGET, target_s)
    )
    assert done.result["baseline_g"] == pytest.approx(grams(SOURCE, source_s + target_s))
    assert done.result["regions"] == sorted([SOURCE, TARGET])
    assert done.result["started_at"] == T0 and done.result["ended_at"] == end
    assert done.segments["done_seconds"] == 1200.0  # checkpointed work: the source piece's

    # The report's --verify recomputes both pieces from the exported record; without the source
    # piece the recorded grams no longer add up.
    (item,) = [i for i in scan_table("workloads-migrations", env.raw("dynamodb", SOURCE))]
    assert verify([entry_of(item)], {"train-cr": item}, lambda *_: Flat().comparable).ok
    doctored = copy.deepcopy(item)
    del doctored["segments"]["runs"][0][seg.MOVED]
    found = verify([entry_of(doctored)], {"train-cr": doctored}, lambda *_: Flat().comparable)
    assert not found.ok and "emissions_g" in found.mismatches[0]


def test_a_moved_workload_cancelled_mid_segment_counts_both_pieces(env: Env) -> None:
    started_workload(env, "train-cancel")
    started = env.orchestrator.start(
        {"kind": "checkpoint_restore", "workload_id": "train-cancel", "target": TARGET}, env.now()
    )
    assert drive(env, started["id"]).state == S.COMPLETED
    record = env.workloads.get("train-cancel")
    switched = record.dispatch["started_at"]
    assert switched == record.segments["runs"][0]["started_at"]
    cancel_at = switched + 1800.0
    cancelled = Canceller(env.workloads, Completer(env.workloads, Flat()), env.client).cancel(
        record, cancel_at
    )
    assert cancelled.status == State.CANCELLED and cancelled.result["target_stopped"]
    run = cancelled.segments["runs"][0]
    (piece,) = run[seg.MOVED]
    source_s = piece["ended_at"] - T0
    assert cancelled.result["emissions_g"] == pytest.approx(
        grams(SOURCE, source_s) + grams(TARGET, 1800.0)
    )
    assert cancelled.result["regions"] == sorted([SOURCE, TARGET])
    assert run["result"]["baseline_start"] == T0 + 1200.0
    assert env.running_tasks(TARGET, "train-cancel") == []


def test_live_accounts_up_to_the_pause_and_ignores_the_paused_sources_stop_event(
    env: Env,
) -> None:
    source_task = started_workload(env, "train-live")
    ecs = env.raw("ecs", SOURCE)
    ecs.meta.events.register(  # the agent's final checkpoint on SIGTERM
        "before-call.ecs.StopTask",
        lambda **_: put_checkpoint(
            env.raw("s3", SOURCE), env.buckets[SOURCE], "train-live", 6, env.now()
        ),
    )
    started = env.orchestrator.start(
        {"kind": "live", "workload_id": "train-live", "target": TARGET}, env.now()
    )
    delivered: list[tuple[Any, Any]] = []

    def during_pause(m: Any) -> None:
        record = env.workloads.get("train-live")
        paused = (record.dispatch or {}).get(seg.PAUSED_BY) == m.migration_id
        if paused and "paused_at" in m.data and not delivered:
            # The source exits 75 (checkpointed) on the pause: not the segment's end.
            event = stopped("train-live", SOURCE, source_task, T0, env.now(), 75)
            delivered.append((record, deliver(env, event, env.now())))

    m = drive(env, started["id"], during_pause)
    assert m.state == S.COMPLETED, m.history
    ((before, after),) = delivered
    assert after == before and after.status == State.RUNNING
    paused_at = m.data["paused_at"]
    (piece,) = env.workloads.get("train-live").segments["runs"][0][seg.MOVED]
    assert piece["started_at"] == T0 and paused_at <= piece["ended_at"] <= m.updated_at
    assert piece["work_seconds"] == pytest.approx(paused_at - T0)  # the final checkpoint kept all

    end = env.now() + 1800.0
    target_task = m.data["target_run"]["handle"]
    done = deliver(
        env, stopped("train-live", TARGET, target_task, m.data["started_at"], end, 0), end
    )
    assert done.status == State.SUCCEEDED
    source_s, target_s = piece["ended_at"] - T0, end - m.data["started_at"]
    assert done.result["emissions_g"] == pytest.approx(
        grams(SOURCE, source_s) + grams(TARGET, target_s)
    )
    assert done.segments["runs"][0]["result"]["baseline_start"] == pytest.approx(paused_at)
    assert iso(done.result["started_at"]) == iso(T0)
