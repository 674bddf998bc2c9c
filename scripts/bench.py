"""``make bench``: placement speed and memory, and forecast quality; writes build/bench.json.

Throughput: a batch of 10,000 workloads over 25 regions x 72 h at 5-minute resolution (combined
strategy), single-decision p50/p99 latency and peak memory, plus the same decision written in plain
Python (standard library only) on a sample, which is why the engine uses numpy.
Backtest speed: ``scripts/bench_backtest.py`` (ours against a minimal vectorised loop), and a
backtest on issued (noisy-oracle) forecasts with the fraction of the oracle it reaches.
Quality: ``scripts/forecast_quality.py`` on the shared 16-zone data, year 2023 (skipped with a
reason when ../shared is absent): per zone, the history forecaster against the 7-day median and
yesterday baselines for 1 h and 6 h jobs, and whether each issue #15 target holds.
"""

from __future__ import annotations

import argparse
import bisect
import json
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

from carbon_aware.engine import Signal, SignalSet, Workload, get_strategy, place_all

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z
STEP = 300.0
HOURS = 72
REGIONS = 25


def synthetic_signals(seed: int = 1) -> SignalSet:
    """25 regions of daily cycles with noise, 5-minute steps over 72 h."""
    rng = np.random.default_rng(seed)
    times = T0 + STEP * np.arange(int(HOURS * 3600 / STEP))
    hours = (times - T0) / 3600.0
    signals = []
    for i in range(REGIONS):
        level, swing, phase = rng.uniform(50, 700), rng.uniform(0.05, 0.4), rng.uniform(0, 24)
        shape = 1 + swing * np.sin(2 * np.pi * (hours - phase) / 24)
        noise = rng.normal(0, 0.03, times.size).cumsum() * 0.2
        values = np.clip(level * (shape + noise), 5, None)
        signals.append(Signal.from_points(f"region-{i:02d}", times, values.round(2)))
    return SignalSet.of(signals)


def synthetic_workloads(count: int, regions: list[str], seed: int = 2) -> list[Workload]:
    """Workloads submitted in the first day, 15 min to 8 h long, up to 24 h of slack."""
    rng = np.random.default_rng(seed)
    jobs = []
    for i in range(count):
        submitted = T0 + float(rng.uniform(0, 24 * 3600))
        duration = float(rng.choice([0.25, 0.5, 1, 2, 4, 8])) * 3600
        slack = float(rng.uniform(0, 24)) * 3600
        home = regions[int(rng.integers(len(regions)))]
        jobs.append(
            Workload(
                f"w{i}",
                submitted,
                duration,
                submitted + duration + slack,
                home,
                tuple(regions),
                float(rng.uniform(50, 500)),
            )
        )
    return jobs


def plain_python_place(signals: SignalSet, workload: Workload) -> tuple[float, float, str]:
    """The same exact search with lists and bisect only (reference for the numpy decision)."""
    best = None
    for region in signals.regions:
        sig = signals[region]
        times, values = sig.times.tolist(), sig.values.tolist()
        cumulative = [0.0]
        for k, v in enumerate(values):
            nxt = times[k + 1] if k + 1 < len(times) else sig.end
            cumulative.append(cumulative[-1] + v * (nxt - times[k]))

        def at(
            x: float, times: list = times, values: list = values, cum: list = cumulative
        ) -> float:
            k = max(0, min(bisect.bisect_right(times, x) - 1, len(times) - 1))
            return cum[k] + values[k] * (x - times[k])

        lo, hi, d = workload.start_after, workload.latest_start, workload.duration
        starts = {lo, hi, *(t for t in times if lo <= t <= hi)}
        starts |= {t - d for t in times if lo <= t - d <= hi}
        for s in sorted(starts):
            if s >= sig.start and s + d <= sig.end:
                key = (at(s + d) - at(s), s, region)
                best = key if best is None or key < best else best
    return best


def throughput(count: int) -> dict:
    signals = synthetic_signals()
    jobs = synthetic_workloads(count, signals.regions)
    strategy = get_strategy("combined")
    assert signals.matrix.grid.size  # built once per signal refresh, not per decision
    started = time.perf_counter()
    results = place_all(jobs, signals, strategy)
    batch_s = time.perf_counter() - started
    tracemalloc.start()
    place_all(jobs[:1000], signals, strategy)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert all(r.placed for r in results)
    latencies = []
    for job in jobs[:3000]:
        t = time.perf_counter()
        strategy.place(job, signals)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    sample = jobs[:100]
    t = time.perf_counter()
    plain = [plain_python_place(signals, job) for job in sample]
    plain_s = (time.perf_counter() - t) / len(sample)
    mismatches = sum(
        abs(p[0] / 3600 * j.power_watts / 1000 - r.emissions_g) > 1e-6 * max(1.0, r.emissions_g)
        for p, j, r in zip(plain, sample, results, strict=False)
    )
    return {
        "workloads": count,
        "regions": REGIONS,
        "horizon_hours": HOURS,
        "resolution_minutes": STEP / 60,
        "strategy": "combined",
        "batch_seconds": round(batch_s, 3),
        "decisions_per_second": round(count / batch_s, 1),
        "latency_ms_p50": round(statistics.median(latencies), 3),
        "latency_ms_p99": round(latencies[int(0.99 * len(latencies)) - 1], 3),
        "peak_traced_memory_mb": round(peak / 2**20, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "plain_python_ms_per_decision": round(plain_s * 1000, 3),
        "plain_python_mismatches": mismatches,
    }


def quality(csv_path: Path) -> dict:
    if not csv_path.exists():
        return {"skipped": f"shared data not found at {csv_path}; quality not measured"}
    sys.path.insert(0, str(ROOT / "scripts"))
    from forecast_quality import quality as forecast_quality

    started = time.perf_counter()
    figures = forecast_quality(csv_path, year=2023)
    figures["runtime_seconds"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench.json")
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared/data/carbon/hourly_2021_2023_16zones_lifecycle.csv",
    )
    args = parser.parse_args()
    report = {
        "machine": {"python": platform.python_version(), "cpu": platform.machine()},
        "throughput": throughput(args.workloads),
    }
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_backtest import backtest_speed

    report["backtest_speed"] = backtest_speed()
    if not args.skip_quality:
        report["quality"] = quality(args.data)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_table(report)
    print(f"wrote {args.output}")
    return 0


def print_table(report: dict) -> None:
    t = report["throughput"]
    print("Throughput (combined, 25 regions x 72 h at 5 min, one core)")
    print(f"  decisions/s             {t['decisions_per_second']:>10}   (target >= 10,000)")
    print(
        f"  latency p50 / p99 ms    {t['latency_ms_p50']:>10} / {t['latency_ms_p99']}  (p99 <= 5)"
    )
    print(
        f"  peak traced memory MB   {t['peak_traced_memory_mb']:>10}   (max RSS {t['max_rss_mb']})"
    )
    print(f"  plain Python ms/decision{t['plain_python_ms_per_decision']:>10}   (numpy avoided)")
    b = report.get("backtest_speed", {})
    if "skipped" in b:
        print(f"Backtest speed: skipped: {b['skipped']}")
    elif b:
        print("Backtest speed (10,700 1 h jobs, 16 zones, 2023, time_shift, perfect forecast)")
        print(f"  ours / reference wall s {b['ours_wall_s']:>10} / {b['reference_wall_s']}  (min)")
        print(f"  ours / reference CPU s  {b['ours_cpu_s']:>10} / {b['reference_cpu_s']}  (min)")
        print(f"  ratio wall / CPU        {b['wall_ratio']:>10} / {b['cpu_ratio']}  (target <= 1)")
        i = b["issued_forecasts"]
        print(
            f"Backtest on issued forecasts (every {i['issue_every_hours']} h for "
            f"{i['horizon_hours']} h, noisy oracle, sigma {i['sigma_at_24h']} at 24 h)"
        )
        print(f"  fraction of oracle      {i['fraction_of_oracle']:>10}   ({i['wall_s']} s wall)")
    q = report.get("quality")
    if not q:
        return
    if "skipped" in q:
        print(f"Quality: skipped: {q['skipped']}")
        return
    print("Quality (time_shift, 24 h slack, 2023; fraction of oracle savings)")
    sys.path.insert(0, str(ROOT / "scripts"))
    from forecast_quality import print_zone_table

    print_zone_table(q)
    for key, value in q.get("aggregate", {}).items():
        print(f"  {key:<40}{value}")


if __name__ == "__main__":
    sys.exit(main())
