"""Races (exactly-once dispatch under contention) and faults (retries, DLQ, recovery, expiry)."""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.direct_table import DirectTable

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.dispatcher import MAX_ATTEMPTS, Dispatcher
from carbon_aware.runtime.planner import Planner
from carbon_aware.runtime.repository import Conflict, WorkloadRepository
from carbon_aware.runtime.states import State
from carbon_aware.runtime.sweeper import Sweeper
from carbon_aware.signals.cache import create_table

# Each trial forces the racers through a barrier onto the same conditional write; 500 keep
# `make test` short, RACE_TRIALS=2000 (or more) for a longer run.
RACE_TRIALS = int(os.environ.get("RACE_TRIALS", "500"))
RACERS = 4


class FakeEcs:
    """Counts RunTask calls per workload; can fail on demand."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.calls: Counter = Counter()
        self.error = error
        self.lock = threading.Lock()

    def run_task(self, **kwargs: Any) -> dict:
        with self.lock:
            self.calls[kwargs["startedBy"].removeprefix("carbon-aware-")] += 1
        if self.error is not None:
            raise self.error
        return {"tasks": [{"taskArn": f"arn:aws:ecs:{HOME}:1:task/jobs/{kwargs['startedBy']}"}]}


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "RunTask",
    )


def spec(aws: AwsEnv, workload_id: str, deadline_hours: float = 20) -> dict:
    now = time.time()
    return {
        "id": workload_id,
        "submitted_at": iso(now),
        "duration_minutes": 60,
        "deadline": iso(now + deadline_hours * 3600),
        "home_region": HOME,
        "power_watts": 100,
        "target": aws.targets[HOME]["ecs"],
    }


class BarrierRepository(WorkloadRepository):
    """Every racer reads the workload before any of them writes: the worst interleaving."""

    def __init__(self, table: Any, parties: int) -> None:
        super().__init__(table)
        self.barrier = threading.Barrier(parties)

    def get(self, workload_id: str) -> Any:
        record = super().get(workload_id)
        self.barrier.wait(timeout=10)
        return record


def dispatcher_with(ecs: FakeEcs, repo: WorkloadRepository, dead: list) -> Dispatcher:
    return Dispatcher(
        repo, wiring.settings(), lambda service, region: ecs, dead.append, lambda: 0.5
    )


def race(workers: list) -> list:
    results: list = [None] * len(workers)

    def run(i: int) -> None:
        try:
            results[i] = workers[i]()
        except Conflict as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_planners_and_executors_dispatch_each_workload_exactly_once(
    aws: AwsEnv,
) -> None:
    table = DirectTable("workloads", HOME)
    plain = WorkloadRepository(table)
    ecs, dead = FakeEcs(), []
    planners = [
        Planner(
            BarrierRepository(table, 2), wiring.signal_source(), NoSchedules(), wiring.settings()
        )
        for _ in range(2)
    ]
    dispatcher = dispatcher_with(ecs, BarrierRepository(table, RACERS), dead)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the GIL over often, so racers really interleave
    try:
        for trial in range(RACE_TRIALS):
            wid = f"race-{trial}"
            plain.create(wid, spec(aws, wid), time.time())
            record = plain.get(wid)
            # Two planners race on the PENDING workload: one decision, one schedule.
            outcomes = race([functools.partial(p.plan, record, time.time()) for p in planners])
            assert sum(not isinstance(o, Conflict) for o in outcomes) == 1
            scheduled = plain.get(wid)
            # Executors (from the schedule) and sweepers race to dispatch it.
            claim = functools.partial(dispatcher.dispatch, wid, scheduled.version, time.time())
            race([claim] * RACERS)
            assert ecs.calls[wid] == 1, wid
            assert plain.get(wid).status == State.RUNNING
    finally:
        sys.setswitchinterval(switch)
    assert sum(ecs.calls.values()) == RACE_TRIALS
    assert sum(p.schedules.created for p in planners) == RACE_TRIALS
    assert not dead


class NoSchedules:
    """Counts the schedules a planner would create."""

    def __init__(self) -> None:
        self.created = 0

    def create(self, workload_id: str, version: int, start: float) -> str:
        self.created += 1
        return f"{workload_id}-{version}"


def schedule_now(aws: AwsEnv, wid: str, **kwargs: Any) -> Any:
    repo = wiring.repository()
    record = repo.create(wid, spec(aws, wid, **kwargs), time.time())
    return wiring.planner().plan(record, time.time())


def test_transient_failures_retry_with_backoff_then_dead_letter(aws: AwsEnv) -> None:
    record = schedule_now(aws, "flaky")
    ecs, dead = FakeEcs(client_error("ThrottlingException")), []
    dispatcher = dispatcher_with(ecs, wiring.repository(), dead)
    sweeper = Sweeper(wiring.repository(), wiring.planner(), dispatcher)
    now = time.time()
    dispatcher.dispatch("flaky", record.version, now)
    delays = []
    for _ in range(MAX_ATTEMPTS):
        current = wiring.repository().get("flaky")
        if current.status == State.FAILED:
            break
        assert current.status == State.SCHEDULED and current.due_at > now
        delays.append(current.due_at - now)
        now = current.due_at + 200
        sweeper.sweep(now, replan=False)
    assert ecs.calls["flaky"] == MAX_ATTEMPTS
    assert delays == sorted(delays) and delays[-1] > 2 * delays[0]
    final = wiring.repository().get("flaky")
    assert final.status == State.FAILED and "gave up" in final.history[-1]["reason"]
    assert [d["workload_id"] for d in dead] == ["flaky"]


@pytest.mark.parametrize(
    ("error", "reason"),
    [(client_error("AccessDeniedException"), "target failed"), (None, "not in the allow-list")],
)
def test_permanent_failures_go_straight_to_the_dead_letter_queue(
    aws: AwsEnv, error: Exception | None, reason: str
) -> None:
    settings = wiring.settings()
    if error is None:
        settings = dataclasses.replace(settings, target_allowlist=("arn:aws:ecs:*:*:nothing",))
    record = schedule_now(aws, "doomed")
    ecs = FakeEcs(error)
    dead_letters = wiring.dispatcher().dead_letters
    dispatcher = Dispatcher(wiring.repository(), settings, lambda s, r: ecs, dead_letters)
    dispatcher.dispatch("doomed", record.version, time.time())
    final = wiring.repository().get("doomed")
    assert final.status == State.FAILED and reason in final.history[-1]["reason"]
    sent = aws.dead_letters()
    assert [m["workload_id"] for m in sent] == ["doomed"] and reason in sent[0]["reason"]


class Crash(BaseException):
    """The Lambda runtime killing the executor mid-flight."""


def test_sweeper_recovers_an_executor_that_died_between_claim_and_start(aws: AwsEnv) -> None:
    record = schedule_now(aws, "orphan")
    dying = dispatcher_with(FakeEcs(Crash()), wiring.repository(), [])
    now = time.time()
    with pytest.raises(Crash):
        dying.dispatch("orphan", record.version, now)
    assert wiring.repository().get("orphan").status == State.DISPATCHING
    healthy_ecs = FakeEcs()
    sweeper = Sweeper(
        wiring.repository(), wiring.planner(), dispatcher_with(healthy_ecs, wiring.repository(), [])
    )
    sweeper.sweep(now + 60, replan=False)
    assert wiring.repository().get("orphan").status == State.DISPATCHING  # not timed out yet
    counts = sweeper.sweep(now + wiring.settings().dispatch_timeout + 1, replan=False)
    assert counts["recovered"] == 1
    final = wiring.repository().get("orphan")
    assert final.status == State.RUNNING and healthy_ecs.calls["orphan"] == 1
    assert "recovered" in " ".join(h["reason"] for h in final.history)


def test_missed_deadlines_expire_with_a_reason(aws: AwsEnv) -> None:
    repo = wiring.repository()
    tight = repo.create("tight", spec(aws, "tight", deadline_hours=1.01), time.time())
    expired = wiring.planner().plan(tight, time.time() + 3600)
    assert expired.status == State.EXPIRED
    assert "deadline" in expired.history[-1]["reason"]
    late = schedule_now(aws, "late", deadline_hours=3)
    result = dispatcher_with(FakeEcs(), repo, []).dispatch(
        "late", late.version, time.time() + 3 * 3600
    )
    assert result.status == State.EXPIRED and "start window" in result.history[-1]["reason"]


def test_lost_schedule_is_dispatched_by_the_sweeper(aws: AwsEnv) -> None:
    record = schedule_now(aws, "lost")
    boto3.client("scheduler", region_name=HOME).delete_schedule(
        Name=record.decision["schedule"], GroupName="carbon-aware"
    )
    ecs = FakeEcs()
    sweeper = Sweeper(
        wiring.repository(), wiring.planner(), dispatcher_with(ecs, wiring.repository(), [])
    )
    sweeper.sweep(record.due_at + 600, replan=False)
    assert wiring.repository().get("lost").status == State.RUNNING and ecs.calls["lost"] == 1


def test_with_every_provider_down_placement_continues_on_estimates(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The monitor could reach no provider: the cache table exists but holds nothing live.
    create_table(boto3.client("dynamodb", region_name=HOME), "signals")
    monkeypatch.setenv(config.SIGNALS_TABLE, "signals")
    wiring.reset()
    record = schedule_now(aws, "estimated")
    assert record.status == State.SCHEDULED
    provenance = record.decision["signals"]
    assert provenance and all(p["estimated"] for p in provenance.values())
    assert all("profile" in p["source"] for p in provenance.values())
