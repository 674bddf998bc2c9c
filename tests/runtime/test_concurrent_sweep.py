"""The sweep plans with a bounded pool of workers across the due-index shards: every workload is
planned exactly once, at most ``workers`` at a time, and more than one at a time when allowed."""

from __future__ import annotations

import threading
import time

import pytest
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import stored_spec

from carbon_aware.runtime import wiring
from carbon_aware.runtime.planner import Planner
from carbon_aware.runtime.repository import due_shard
from carbon_aware.runtime.states import State
from carbon_aware.runtime.sweeper import Sweeper
from carbon_aware.runtime.tables import DUE_SHARDS

WORKLOADS = 40


class SlowSchedules:
    """Creating a schedule takes a while (as a network call does); records overlap and calls."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = self.peak = 0
        self.created: list[str] = []

    def create(self, workload_id: str, version: int, start: float) -> str:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.02)
        with self.lock:
            self.active -= 1
            self.created.append(workload_id)
        return workload_id

    def delete(self, name: str) -> None:
        return None


@pytest.mark.parametrize("workers", [1, 4])
def test_workers_bound_the_concurrency_and_plan_each_workload_once(
    aws: AwsEnv, workers: int
) -> None:
    repo = wiring.repository()
    now = time.time()
    for i in range(WORKLOADS):
        wid = f"w-{i:02d}"
        spec = stored_spec(aws.targets[HOME]["lambda"], wid)
        repo.create(wid, spec, now)
    assert len({due_shard(f"w-{i:02d}") for i in range(WORKLOADS)}) == DUE_SHARDS
    schedules = SlowSchedules()
    planner = Planner(repo, wiring.signal_source(), schedules, wiring.settings())
    counts = Sweeper(repo, planner, wiring.dispatcher(), workers).sweep(now, replan=False)
    assert counts[f"planned:{State.SCHEDULED}"] == WORKLOADS, counts
    assert sorted(schedules.created) == [f"w-{i:02d}" for i in range(WORKLOADS)]
    assert schedules.peak <= workers
    if workers > 1:
        assert schedules.peak > 1, "the pool never planned two workloads at once"
