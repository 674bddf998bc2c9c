"""The embedded demo: sample jobs backtested on the built-in regional profiles (no keys, no AWS)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from carbon_aware.engine import SignalSet, get_strategy
from carbon_aware.engine.backtest import BacktestResult, run_backtest
from carbon_aware.engine.timeutil import iso, to_seconds
from carbon_aware.engine.workload import Workload

DEMO_REGIONS = (
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "eu-north-1",
    "ap-southeast-2",
)
DEMO_START = datetime(2025, 6, 2, tzinfo=UTC)
DEMO_STRATEGIES = {
    "time_shift": {},
    "location_shift": {},
    "combined": {},
    "carbon_time": {},
    "follow_the_sun": {"migration_penalty_g": 20.0},
}
SEED = 20251123


def demo_signals(days: int) -> SignalSet:
    """Hourly profile signals for the demo regions over ``days`` days."""
    from carbon_aware.signals.profiles import profile_signal

    start = to_seconds(DEMO_START)
    return SignalSet.of(profile_signal(r, start, start + days * 86400.0) for r in DEMO_REGIONS)


def demo_jobs(count: int, days: int) -> list[dict]:
    """Deterministic sample jobs in the jobs-JSON shape."""
    rng = np.random.default_rng(SEED)
    start = to_seconds(DEMO_START)
    jobs = []
    for i in range(count):
        submitted = start + float(rng.uniform(0, max(1, days - 2) * 86400.0))
        duration = float(rng.choice([30, 60, 120, 240, 360]))
        slack = float(rng.choice([4, 8, 12, 24])) * 60
        home = str(rng.choice(DEMO_REGIONS))
        others = [r for r in DEMO_REGIONS if r != home]
        regions = [home, *rng.choice(others, size=2, replace=False).tolist()]
        interruptible = bool(rng.random() < 0.25)
        jobs.append(
            {
                "id": f"job-{i:04d}",
                "submitted_at": iso(submitted),
                "duration_minutes": duration,
                "deadline": iso(submitted + (duration + slack) * 60.0),
                "regions": regions,
                "home_region": home,
                "interruptible": interruptible,
                "min_segment_minutes": 30,
                "vcpus": int(rng.choice([2, 4, 8, 16, 32])),
                "memory_gb": int(rng.choice([4, 8, 16, 64])),
            }
        )
    return jobs


def write_signals_csv(signals: SignalSet, path: Path) -> None:
    """Write the signals in the wide CSV shape the CLI reads."""
    regions = signals.regions
    times = signals[regions[0]].times
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["datetime", *regions])
        for i, t in enumerate(times):
            writer.writerow([iso(t), *(f"{signals[r].values[i]:.1f}" for r in regions)])


def run_demo(output_dir: Path, *, days: int = 7, jobs: int = 300) -> Path:
    """Run every demo strategy, print a summary table and write the report; returns its path."""
    from carbon_aware.cli.report import write_report

    output_dir.mkdir(parents=True, exist_ok=True)
    signals = demo_signals(days)
    job_dicts = demo_jobs(jobs, days)
    write_signals_csv(signals, output_dir / "signals.csv")
    (output_dir / "jobs.json").write_text(json.dumps(job_dicts, indent=2) + "\n", encoding="utf-8")
    workloads = [Workload.from_mapping(j) for j in job_dicts]
    results: dict[str, BacktestResult] = {}
    for name, options in DEMO_STRATEGIES.items():
        results[name] = run_backtest(workloads, signals, get_strategy(name, **options))
        path = output_dir / f"{name}.json"
        path.write_text(json.dumps(results[name].to_dict(), indent=2) + "\n", encoding="utf-8")
    print(f"{len(workloads)} jobs over {days} days in {', '.join(DEMO_REGIONS)}")
    print("signals: built-in regional profiles (derived from Electricity Maps data), estimated")
    print(
        f"{'strategy':<16}{'placed':>8}{'baseline kg':>13}{'placed kg':>11}{'saved':>8}{'oracle':>8}"
    )
    for name, result in results.items():
        s = result.summary()
        print(
            f"{name:<16}{s['placed']:>8}{s['baseline_g'] / 1000:>13.2f}"
            f"{s['placed_g'] / 1000:>11.2f}{s['savings_pct']:>7.1f}%{s['oracle_savings_pct']:>7.1f}%"
        )
    return write_report(results["combined"], signals, output_dir / "report.html")
