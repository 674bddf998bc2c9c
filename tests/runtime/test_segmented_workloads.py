"""Interruptible workloads in moto: segment schedules, stop at a segment's end, resume elsewhere
from the checkpoint (copied and re-encrypted), per-segment accounting, interruption re-planning.

Planning reads a signal where the home Region is clean for the first hour and the other Region
for the second, so follow_the_sun moves the workload once; accounting reads the profiles.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, ecs_stopped, submission, submit

from carbon_aware.engine import Signal, SignalSet
from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.handlers import completion, executor, scheduler
from carbon_aware.runtime.interruptions.replace import replan_interrupted
from carbon_aware.runtime.states import State

HOUR = 3600.0


class MovingSun(wiring.ProfileSignalSource):
    """Home clean for the hour from ``t0``, the other Region for the hour after; dirty else."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0

    def signal_set(self, regions: Any, start: float, end: float) -> SignalSet:
        times = [self.t0 - HOUR, self.t0 + HOUR, self.t0 + 2 * HOUR]
        values = {HOME: [50.0, 500.0, 500.0], OTHER: [500.0, 50.0, 500.0]}
        return SignalSet.of(
            Signal.from_points(r, times, values[r], end=self.t0 + 48 * HOUR) for r in regions
        )


@dataclass
class Clock:
    t: float

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Stack:
    env: AwsEnv
    clock: Clock
    buckets: dict[str, str]
    keys: dict[str, str]


@pytest.fixture
def stack(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    buckets, keys = {}, {}
    for region in (HOME, OTHER):
        s3 = boto3.client("s3", region_name=region)
        buckets[region] = f"checkpoints-{region}"
        s3.create_bucket(
            Bucket=buckets[region], CreateBucketConfiguration={"LocationConstraint": region}
        )
        keys[region] = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv(config.CHECKPOINT_BUCKETS, json.dumps(buckets))
    monkeypatch.setenv(config.CHECKPOINT_KMS_KEYS, json.dumps(keys))
    monkeypatch.setenv(config.CHECKPOINT_BUDGET, "90")
    clock = Clock(time.time())
    source = MovingSun(clock.t)
    monkeypatch.setattr(wiring, "signal_source", functools.cache(lambda: source))
    wiring.reset(clock)
    yield Stack(aws, clock, buckets, keys)
    wiring.reset()


def interruptible(stack: Stack, **extra: object) -> dict:
    target = dict(stack.env.targets[HOME]["ecs"])
    for key in ("arn", "cluster"):
        target[key] = target[key].replace(HOME, "{region}")
    target["overrides"] = {"containerOverrides": [{"name": "job"}]}
    body = submission(
        target,
        duration_minutes=120,
        interruptible=True,
        min_segment_minutes=60,
        strategy="follow_the_sun",
        **extra,
    )
    return body


def record(workload_id: str) -> Any:
    return wiring.repository().get(workload_id)


def schedules(workload_id: str) -> dict[str, dict]:
    client = boto3.client("scheduler", region_name=HOME)
    names = [
        s["Name"]
        for s in client.list_schedules(GroupName="carbon-aware")["Schedules"]
        if s["Name"].startswith(f"wl-{workload_id}")
    ]
    return {
        n: json.loads(client.get_schedule(Name=n, GroupName="carbon-aware")["Target"]["Input"])
        for n in names
    }


def planned(stack: Stack, **extra: object) -> str:
    status, body = submit(interruptible(stack, **extra))
    assert status == 201, body
    assert scheduler.handler({"workload_id": body["id"]}, Context())["status"] == "SCHEDULED"
    return body["id"]


def fire(payload: dict) -> dict:
    return executor.handler(payload, Context())


def task_env(region: str, handle: str) -> dict[str, str]:
    task = boto3.client("ecs", region_name=region).describe_tasks(cluster="jobs", tasks=[handle])
    (container,) = task["tasks"][0]["overrides"]["containerOverrides"]
    assert container["name"] == "job"
    return {e["name"]: e["value"] for e in container["environment"]}


def checkpoint(stack: Stack, region: str, workload_id: str, sequence: int) -> str:
    """What the agent writes: an immutable checkpoint object, then the manifest."""
    s3 = boto3.client("s3", region_name=region)
    body = f"state after step {sequence}".encode()
    key = f"checkpoints/{workload_id}/{sequence:08d}.ckpt"
    s3.put_object(Bucket=stack.buckets[region], Key=key, Body=body)
    manifest = {
        "sequence": sequence,
        "key": key,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "written_at": "2030-01-01T00:00:00Z",
        "progress": {"step": sequence},
    }
    s3.put_object(
        Bucket=stack.buckets[region],
        Key=f"checkpoints/{workload_id}/latest.json",
        Body=json.dumps(manifest).encode(),
    )
    return key


def stopped(workload_id: str, run: dict, end: float, exit_code: int, stop_code: str) -> dict:
    event = ecs_stopped(workload_id, run["started_at"], end, exit_code, stop_code)
    event["detail"]["taskArn"] = run["handle"]
    return event


def test_segments_move_region_once_and_resume_from_the_checkpoint(stack: Stack) -> None:
    workload_id = planned(stack)
    rec = record(workload_id)
    runs = rec.segments["runs"]
    assert [r["region"] for r in runs] == [HOME, OTHER]
    assert rec.decision["migration"]["moves"] == 1
    assert rec.decision["migration"]["transfer_usd"] == pytest.approx(0.02)
    plan = rec.segments["plan"]
    # One start per segment, one end per segment but the last (which runs to completion).
    found = schedules(workload_id)
    assert sorted((p["segment"], p["action"]) for p in found.values()) == [
        (0, "end"),
        (0, "start"),
        (1, "start"),
    ]
    assert all(p["plan"] == plan for p in found.values())
    end_at = boto3.client("scheduler", region_name=HOME).get_schedule(
        Name=next(n for n, p in found.items() if p["action"] == "end"), GroupName="carbon-aware"
    )["ScheduleExpression"]
    assert end_at.startswith("at(")

    assert (
        fire({"workload_id": workload_id, "plan": plan, "segment": 0, "action": "start"})["status"]
        == "RUNNING"
    )
    run0 = record(workload_id).segments["runs"][0]
    env0 = task_env(HOME, run0["handle"])
    assert env0 == {
        "CARBON_AWARE_WORKLOAD_ID": workload_id,
        "CARBON_AWARE_SEGMENT": "0",
        "CARBON_AWARE_CHECKPOINT_URI": f"s3://checkpoints-{HOME}/checkpoints/{workload_id}/",
        "CARBON_AWARE_RESUME_FROM": "",
        "CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS": "90",
    }

    # The segment's end: the dispatcher stops the task (SIGTERM; the workload checkpoints).
    stack.clock.t = runs[0]["end_epoch"] - 90
    fire({"workload_id": workload_id, "plan": plan, "segment": 0, "action": "end"})
    task = boto3.client("ecs", region_name=HOME).describe_tasks(
        cluster="jobs", tasks=[run0["handle"]]
    )["tasks"][0]
    assert task["desiredStatus"] == "STOPPED"
    assert "checkpoint" in task["stoppedReason"]
    key = checkpoint(stack, HOME, workload_id, 7)

    stack.clock.t = runs[0]["end_epoch"]
    event = stopped(workload_id, run0, stack.clock.t, 75, "UserInitiated")
    assert completion.handler(event, Context())["status"] == "SCHEDULED"
    after = record(workload_id)
    assert after.status == State.SCHEDULED
    assert after.segments["current"] == 1
    assert after.segments["runs"][0]["state"] == "checkpointed"
    # EventBridge delivers at least once: the same event again changes nothing.
    completion.handler(event, Context())
    assert record(workload_id).version == after.version

    stack.clock.t = runs[1]["start_epoch"]
    assert (
        fire({"workload_id": workload_id, "plan": plan, "segment": 1, "action": "start"})["status"]
        == "RUNNING"
    )
    run1 = record(workload_id).segments["runs"][1]
    env1 = task_env(OTHER, run1["handle"])
    resume = f"s3://checkpoints-{OTHER}/checkpoints/{workload_id}/latest.json"
    assert env1["CARBON_AWARE_SEGMENT"] == "1"
    assert env1["CARBON_AWARE_RESUME_FROM"] == resume
    assert env1["CARBON_AWARE_CHECKPOINT_URI"].startswith(f"s3://checkpoints-{OTHER}/")
    # The checkpoint and its manifest were copied, re-encrypted under the other Region's key.
    s3 = boto3.client("s3", region_name=OTHER)
    for copied in (key, f"checkpoints/{workload_id}/latest.json"):
        head = s3.head_object(Bucket=stack.buckets[OTHER], Key=copied)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == stack.keys[OTHER]
    body = s3.get_object(Bucket=stack.buckets[OTHER], Key=key)["Body"].read()
    assert body == b"state after step 7"

    # The first segment's stop event delivered again while the second runs: not its run.
    before = record(workload_id).version
    completion.handler(event, Context())
    assert record(workload_id).version == before

    end = run1["started_at"] + HOUR
    done = completion.handler(
        stopped(workload_id, run1, end, 0, "EssentialContainerExited"), Context()
    )
    assert done["status"] == "SUCCEEDED"
    final = record(workload_id)
    parts = [r["result"] for r in final.segments["runs"]]
    assert [r["state"] for r in final.segments["runs"]] == ["checkpointed", "done"]
    assert all(p["emissions_g"] > 0 for p in parts)
    assert final.result["segments"] == 2
    assert final.result["emissions_g"] == pytest.approx(sum(p["emissions_g"] for p in parts))
    assert final.result["saved_g"] == pytest.approx(sum(p["saved_g"] for p in parts))
    assert final.result["signal_type"] == parts[0]["signal_type"]
    assert final.result["provider"] == parts[0]["provider"]
    # A late event of the first segment's run changes nothing.
    completion.handler(event, Context())
    assert record(workload_id).version == final.version


def test_interrupted_segment_is_replanned_from_its_last_checkpoint(stack: Stack) -> None:
    workload_id = planned(stack)
    rec = record(workload_id)
    plan = rec.segments["plan"]
    fire({"workload_id": workload_id, "plan": plan, "segment": 0, "action": "start"})
    run0 = record(workload_id).segments["runs"][0]
    checkpoint(stack, HOME, workload_id, 3)

    stack.clock.t = run0["started_at"] + 1800
    spot = stopped(workload_id, run0, stack.clock.t, 75, "SpotInterruption")
    # The interruptions function leaves a segmented workload to the completion of its segment.
    running = record(workload_id)
    kept = replan_interrupted(
        wiring.planner(), running, region=HOME, now=stack.clock.t, max_replacements=3
    )
    assert kept.version == running.version == record(workload_id).version
    completion.handler(spot, Context())
    waiting = record(workload_id)
    assert waiting.status == State.SCHEDULED
    assert waiting.segments["replan"] and waiting.segments["penalised"] == HOME
    assert waiting.segments["runs"][0]["state"] == "interrupted"
    assert waiting.segments["done_seconds"] == pytest.approx(1800)
    # A stale start schedule of the old plan does nothing while it waits.
    fire({"workload_id": workload_id, "plan": plan, "segment": 1, "action": "start"})
    assert record(workload_id).version == waiting.version

    stack.clock.t += 180  # the sweep re-plans what waits past its due time
    scheduler.handler({}, Context())
    resumed = record(workload_id)
    assert resumed.status in (State.SCHEDULED, State.RUNNING)
    segmented = resumed.segments
    assert segmented["plan"] > plan and not segmented["replan"]
    new_runs = segmented["runs"][1:]
    assert new_runs and all(r["region"] == OTHER for r in new_runs)  # away from the interrupter
    remaining = sum(r["end_epoch"] - r["start_epoch"] for r in new_runs)
    assert remaining == pytest.approx(2 * HOUR - 1800, abs=60)
    new_plan = segmented["plan"]
    if resumed.status == State.SCHEDULED:
        fire({"workload_id": workload_id, "plan": new_plan, "segment": 1, "action": "start"})
    run1 = record(workload_id).segments["runs"][1]
    assert run1["resume_from"] == f"s3://checkpoints-{OTHER}/checkpoints/{workload_id}/latest.json"
    assert task_env(OTHER, run1["handle"])["CARBON_AWARE_RESUME_FROM"] == run1["resume_from"]


def test_a_failed_segment_fails_the_workload_with_its_grams(stack: Stack) -> None:
    workload_id = planned(stack)
    plan = record(workload_id).segments["plan"]
    fire({"workload_id": workload_id, "plan": plan, "segment": 0, "action": "start"})
    run0 = record(workload_id).segments["runs"][0]
    event = stopped(workload_id, run0, run0["started_at"] + 600, 1, "EssentialContainerExited")
    completion.handler(event, Context())
    failed = record(workload_id)
    assert failed.status == State.FAILED
    assert failed.segments["runs"][0]["state"] == "failed"
    assert failed.result["emissions_g"] == pytest.approx(
        failed.segments["runs"][0]["result"]["emissions_g"]
    )


def test_interruptible_needs_checkpoint_storage_in_every_region(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.CHECKPOINT_BUCKETS, json.dumps({HOME: "checkpoints-home"}))
    wiring.reset(stack.clock)
    status, body = submit(interruptible(stack))
    assert status == 400
    assert body["errors"][0]["field"] == "interruptible"
    assert OTHER in body["errors"][0]["message"]


def test_interruptible_ecs_target_must_name_its_containers(stack: Stack) -> None:
    body = interruptible(stack)
    del body["target"]["overrides"]
    status, answer = submit(body)
    assert status == 400
    assert answer["errors"][0]["field"] == "target.overrides.containerOverrides"
