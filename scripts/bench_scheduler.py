"""Scheduler at scale on the local emulator: plan N pending workloads in one sweep with 1, 4 and 8
workers, then re-plan them, and measure the emulator's own ceiling for the same calls.

For each worker count a fresh moto server runs on 127.0.0.1 in its own process (so it does not
share our interpreter's GIL), the carbon cache is filled with one monitor run, N PENDING workloads
are stored, and the scheduler's sweep that places them all is timed (read the due-index shards,
place with the engine, conditional write, create the one-time schedule). Every AWS call is counted
at the botocore client, giving the calls per planned workload. The ceiling issues the same
per-workload writes (a conditional UpdateItem and a CreateSchedule) straight from a thread pool of
the same size, without our code: plans per second over that rate is what our code costs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from botocore.client import BaseClient
from botocore.config import Config

from carbon_aware.cli import localstack
from carbon_aware.cli.localstack import HOME, REGIONS, START, VirtualClock, local_aws
from carbon_aware.engine.timeutil import iso, to_seconds

ROOT = Path(__file__).resolve().parent.parent
WORKERS = (1, 4, 8)
CEILING_WORKLOADS = 4000


def specs(stack_targets: dict, count: int, now: float) -> list[dict]:
    rng = np.random.default_rng(11)
    arn = stack_targets[HOME]["eventbridge"].replace(HOME, "{region}")
    out = []
    for i in range(count):
        duration = float(rng.choice([30, 60, 120, 240]))
        home = str(rng.choice(REGIONS))
        out.append(
            {
                "id": f"bench-{i:05d}",
                "submitted_at": iso(now),
                "duration_minutes": duration,
                "deadline": iso(now + duration * 60 + float(rng.choice([6, 12, 24])) * 3600),
                "home_region": home,
                "regions": sorted({home, *rng.choice(REGIONS, size=2, replace=False).tolist()}),
                "power_watts": 200,
                "strategy": "combined",
                "target": {"type": "eventbridge", "arn": arn},
            }
        )
    return out


@contextlib.contextmanager
def moto_process() -> Iterator[str]:
    """A moto server in a child process on a free 127.0.0.1 port (replaces the in-process one)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        # A server holding 10,000 workloads can take longer than a polite stop allows.
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class CallCounter:
    """Counts every AWS call made through botocore clients, by operation."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.lock = threading.Lock()
        self.original = BaseClient._make_api_call

    def __enter__(self) -> CallCounter:
        counter = self

        def counted(client: BaseClient, operation: str, params: dict) -> Any:
            with counter.lock:
                counter.calls[operation] += 1
            return counter.original(client, operation, params)

        BaseClient._make_api_call = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        BaseClient._make_api_call = self.original  # type: ignore[method-assign]


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def in_pool(workers: int, tasks: list[Callable[[], Any]]) -> None:
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()


def ceiling(workers: int, ids: list[str], now: float) -> float:
    """Per-workload writes per second the emulator sustains without our code."""
    from carbon_aware.runtime import wiring
    from carbon_aware.runtime.schedules import at_expression

    settings = wiring.settings()
    dynamodb, scheduler = wiring.client("dynamodb"), wiring.client("scheduler")

    def writes(workload_id: str) -> None:
        dynamodb.update_item(
            TableName=settings.workloads_table,
            Key={"workload_id": {"S": workload_id}},
            UpdateExpression="SET bench_touch = :n",
            ConditionExpression="attribute_exists(workload_id)",
            ExpressionAttributeValues={":n": {"N": "1"}},
        )
        scheduler.create_schedule(
            Name=f"ceiling-{workload_id}",
            GroupName=settings.schedule_group,
            ScheduleExpression=at_expression(now + 86400),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": settings.executor_arn, "RoleArn": settings.scheduler_role_arn},
        )

    _, seconds = timed(lambda: in_pool(workers, [lambda w=w: writes(w) for w in ids]))
    return len(ids) / seconds


def run_one(count: int, workers: int, replan: bool) -> dict:
    from carbon_aware.runtime import wiring
    from carbon_aware.runtime.handlers import monitor
    from carbon_aware.runtime.states import State
    from carbon_aware.runtime.sweeper import Sweeper

    # The emulator answers a Query over thousands of items in seconds, not milliseconds: the
    # clients wait for it instead of timing out at the Lambda's 10 s.
    wiring.BOTO_CONFIG = wiring.BOTO_CONFIG.merge(Config(read_timeout=300))
    now = to_seconds(START)
    with local_aws(VirtualClock(now)) as stack:
        monitor.handler({}, _Context())
        repo = wiring.repository()
        batch = specs(stack.targets, count, now)
        _, stored = timed(
            lambda: in_pool(8, [lambda s=s: repo.create(s["id"], s, now) for s in batch])
        )
        sweeper = Sweeper(repo, wiring.planner(), wiring.dispatcher(), workers)
        with CallCounter() as counter:
            planned, plan_seconds = timed(lambda: sweeper.sweep(now + 1, replan=False))
        placed = planned[f"planned:{State.SCHEDULED}"]
        figures: dict[str, Any] = {
            "workers": workers,
            "store_seconds": round(stored, 1),
            "plan_sweep_seconds": round(plan_seconds, 1),
            "plan_per_second": round(count / plan_seconds, 1),
            "planned": dict(planned),
            "calls_per_planned_workload": {
                op: round(n / max(placed, 1), 3) for op, n in sorted(counter.calls.items())
            },
        }
        if replan:
            replanned, replan_seconds = timed(lambda: sweeper.sweep(now + 2))
            figures["replan_sweep_seconds"] = round(replan_seconds, 1)
            figures["replan_per_second"] = round(count / replan_seconds, 1)
            figures["replanned"] = dict(replanned)
        sample = [s["id"] for s in batch[: min(count, CEILING_WORKLOADS)]]
        figures["emulator_ceiling_per_second"] = round(ceiling(workers, sample, now), 1)
        figures["plan_rate_vs_ceiling"] = round(
            figures["plan_per_second"] / figures["emulator_ceiling_per_second"], 3
        )
        figures["scheduled_after"] = sum(1 for _ in repo.due(State.SCHEDULED))
    return figures


def run(count: int, workers: tuple[int, ...]) -> dict:
    localstack.moto_server = moto_process  # the bench's emulator runs in its own process
    runs = [run_one(count, w, replan=(w == 4)) for w in workers]
    return {
        "workloads": count,
        "regions": len(REGIONS),
        "emulator": "moto server on 127.0.0.1 (HTTP, its own process)",
        "ceiling": "conditional UpdateItem + CreateSchedule per workload, same thread count, "
        f"{min(count, CEILING_WORKLOADS)} workloads",
        "sweeps": runs,
    }


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:{HOME}:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=list(WORKERS))
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench_scheduler.json")
    args = parser.parse_args()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        figures = run(args.workloads, tuple(args.workers))  # handlers' logs and EMF go nowhere
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
