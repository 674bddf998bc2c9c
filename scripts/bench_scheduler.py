"""Scheduler at scale on the local emulator: plan, then re-plan, N pending workloads in one sweep.

Starts moto in server mode on 127.0.0.1 (as ``make demo`` does), fills the carbon cache with one
monitor run, stores N PENDING workloads, then times the scheduler's sweep that places them all
(read the due index, place with the engine, conditional write, create the one-time schedule) and a
second sweep that re-plans every SCHEDULED workload against the cache.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from carbon_aware.cli.localstack import HOME, REGIONS, START, VirtualClock, local_aws
from carbon_aware.engine.timeutil import iso, to_seconds

ROOT = Path(__file__).resolve().parent.parent


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


def run(count: int) -> dict:
    from carbon_aware.runtime import wiring
    from carbon_aware.runtime.handlers import monitor
    from carbon_aware.runtime.states import State
    from carbon_aware.runtime.sweeper import Sweeper

    now = to_seconds(START)
    with local_aws(VirtualClock(now)) as stack:
        monitor.handler({}, _Context())
        repo = wiring.repository()
        started = time.perf_counter()
        for spec in specs(stack.targets, count, now):
            repo.create(spec["id"], spec, now)
        stored = time.perf_counter() - started
        sweeper = Sweeper(repo, wiring.planner(), wiring.dispatcher())
        started = time.perf_counter()
        planned = sweeper.sweep(now + 1, replan=False)
        plan_seconds = time.perf_counter() - started
        started = time.perf_counter()
        replanned = sweeper.sweep(now + 2)
        replan_seconds = time.perf_counter() - started
        scheduled = sum(1 for _ in repo.due(State.SCHEDULED))
    return {
        "workloads": count,
        "regions": len(REGIONS),
        "store_seconds": round(stored, 1),
        "plan_sweep_seconds": round(plan_seconds, 1),
        "plan_per_second": round(count / plan_seconds, 1),
        "planned": dict(planned),
        "replan_sweep_seconds": round(replan_seconds, 1),
        "replan_per_second": round(count / replan_seconds, 1),
        "replanned": dict(replanned),
        "scheduled_after": scheduled,
        "emulator": "moto server on 127.0.0.1 (HTTP, one process)",
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
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench_scheduler.json")
    args = parser.parse_args()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        figures = run(args.workloads)  # the handlers' JSON logs and EMF metrics go nowhere
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
