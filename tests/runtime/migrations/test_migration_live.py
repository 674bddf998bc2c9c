"""live (pre-copy) migrations on moto: rounds copy new checkpoints while the source runs, the
pause stops the source (the agent's final checkpoint), only the final delta is copied, and the
segment resumes in the target from it; a rollback after the pause resumes the source in its own
region; the strategy is opt-in and refuses workloads that do not qualify."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.runtime.migrations.migration_env import (
    Env,
    drive,
    running_workload,
)

from carbon_aware.cli.demo_migrations import SOURCE, TARGET, put_checkpoint
from carbon_aware.runtime import segments as seg
from carbon_aware.runtime.migrations.states import MigrationState
from carbon_aware.runtime.migrations.strategies import SpecError
from carbon_aware.runtime.migrations.strategies.live import PAUSE_REASON, LivePreCopy

S = MigrationState
T0 = 1_800_000_000.0
WORKLOAD = "job-live"


def agent_checkpoints_on_stop(env: Env, sequence: int) -> list[str]:
    """The checkpoint agent in the source task: SIGTERM (StopTask) writes checkpoint
    ``sequence`` before the task exits; the stop reasons seen."""
    reasons: list[str] = []

    def on_stop(params: dict[str, Any], **_: Any) -> None:
        reasons.append(json.loads(params["body"])["reason"])  # the serialised request
        if len(reasons) == 1:  # a stopped task gets no second SIGTERM
            put_checkpoint(
                env.raw("s3", SOURCE), env.buckets[SOURCE], WORKLOAD, sequence, env.now()
            )

    env.raw("ecs", SOURCE).meta.events.register("before-call.ecs.StopTask", on_stop)
    return reasons


def target_manifest_sequence(env: Env) -> int | None:
    objects = env.prefix_objects(TARGET, WORKLOAD)
    manifest = objects.get(f"checkpoints/{WORKLOAD}/latest.json")
    return json.loads(manifest)["sequence"] if manifest else None


def test_pre_copy_rounds_then_a_pause_then_the_final_delta_resumes_in_the_target(env: Env) -> None:
    source_task = running_workload(env, WORKLOAD, 4, stale_target=False)
    reasons = agent_checkpoints_on_stop(env, 6)
    request = {"kind": "live", "workload_id": WORKLOAD, "target": TARGET, "rounds": 3}
    started = env.orchestrator.start(request, env.now())
    states: list[tuple[str, bool]] = []

    def each(m: Any) -> None:
        rounds = m.data.get("rounds", [])
        if len(rounds) == 1 and m.state == S.PREPARING:  # the source works on meanwhile
            put_checkpoint(env.raw("s3", SOURCE), env.buckets[SOURCE], WORKLOAD, 5, env.now())
        record = env.workloads.get(WORKLOAD)
        paused = (record.dispatch or {}).get(seg.PAUSED_BY) == m.migration_id
        states.append((str(m.state), paused))
        if paused:  # nothing runs in the target while the source is paused but not stopped
            assert "resume_from" in m.data or env.running_tasks(TARGET, WORKLOAD) == []

    m = drive(env, started["id"], each)
    assert m.state == S.COMPLETED, m.history
    assert [r["sequence"] for r in m.data["rounds"]] == [4, 5]
    assert m.data["sequence"] == 6 and m.data["final_delta_bytes"] > 0
    assert reasons[0] == PAUSE_REASON  # completing's release of the stopped source follows
    assert target_manifest_sequence(env) == 6
    record = env.workloads.get(WORKLOAD)
    assert record.dispatch["region"] == TARGET and seg.PAUSED_BY not in record.dispatch
    assert record.dispatch["handle"] == m.data["target_run"]["handle"]
    assert env.running_tasks(SOURCE, WORKLOAD) == [] and source_task not in env.running_tasks(
        SOURCE, WORKLOAD
    )
    assert ("migrating", True) in states  # the source's end was the migration's to handle
    assert m.data["pause_seconds"] >= 0


def test_a_target_that_dies_after_the_pause_rolls_back_and_the_source_resumes_at_home(
    env: Env,
) -> None:
    source_task = running_workload(env, WORKLOAD, 4, stale_target=False)
    agent_checkpoints_on_stop(env, 5)
    before = env.prefix_objects(TARGET, WORKLOAD)
    started = env.orchestrator.start(
        {"kind": "live", "workload_id": WORKLOAD, "target": TARGET}, env.now()
    )

    def target_dies(m: Any) -> None:
        if m.state == S.MIGRATING and "target_run" in m.data:
            env.raw("ecs", TARGET).stop_task(
                cluster=env.targets[TARGET]["cluster"],
                task=m.data["target_run"]["handle"],
                reason="health check failed",
            )

    m = drive(env, started["id"], target_dies)
    assert m.state == S.ROLLED_BACK, m.history
    record = env.workloads.get(WORKLOAD)
    assert record.status == "RUNNING" and record.dispatch["region"] == SOURCE
    assert seg.PAUSED_BY not in record.dispatch
    (resumed,) = env.running_tasks(SOURCE, WORKLOAD)
    assert resumed == record.dispatch["handle"] != source_task
    assert record.segments["runs"][0]["resume_from"].endswith(
        f"{env.buckets[SOURCE]}/checkpoints/{WORKLOAD}/latest.json"
    )
    assert env.running_tasks(TARGET, WORKLOAD) == []
    assert env.prefix_objects(TARGET, WORKLOAD) == before


def test_a_workload_whose_final_checkpoint_may_outlast_the_pause_is_refused_untouched(
    env: Env,
) -> None:
    source_task = running_workload(env, WORKLOAD, 4, stale_target=False)
    started = env.orchestrator.start(  # the env's checkpoint budget is 90 s
        {"kind": "live", "workload_id": WORKLOAD, "target": TARGET, "max_pause_seconds": 60},
        env.now(),
    )
    m = drive(env, started["id"])
    assert m.state == S.FAILED
    assert "not qualified" in m.history[-1]["reason"]
    record = env.workloads.get(WORKLOAD)
    assert record.dispatch["handle"] == source_task and seg.PAUSED_BY not in record.dispatch
    assert env.running_tasks(SOURCE, WORKLOAD) == [source_task]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"max_pause_seconds": 0}, "max_pause_seconds"),
        ({"rounds": 11}, "rounds"),
        ({"colour": "red"}, "colour: unknown field for live"),
    ],
)
def test_live_is_opt_in_and_its_fields_are_checked(
    env: Env, request_: dict[str, Any], field: str
) -> None:
    live = LivePreCopy(env.workloads, env.orchestrator.strategies["live"].settings, env.client)
    with pytest.raises(SpecError, match=r"^kind: live migrations are off"):
        live.check({"workload_id": WORKLOAD, "target": TARGET})
    enabled = env.orchestrator.strategies["live"]
    with pytest.raises(SpecError, match=f"^{field}"):
        enabled.check({"workload_id": WORKLOAD, "target": TARGET, **request_})
