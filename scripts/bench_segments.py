"""``make bench``: interruptible jobs split into segments against the same jobs run whole.

On a year (2023) of real hourly carbon intensity (the shared 16-zone lifecycle data), jobs of
``--hours`` hours with ``--slack`` hours of slack arrive every ``--every`` hours in each home
zone. Each is decided once at submission on the history forecaster's forecast (no look-ahead)
and accounted on the actual series; its oracle is the same strategy on the actual series. Two pairs:

- time only (home zone): ``time_shift`` run whole vs in segments of at least ``--min-segment``;
- across zones: ``combined`` run whole vs ``follow_the_sun`` in segments, each move paying
  ``--penalty`` grams (by default a 1 GB checkpoint at 0.02 USD/GB and 100 USD per tonne).

Reported per setting: grams saved against starting at submission in the home zone, segments
and moves per job, and the fraction of the oracle's saving reached (build/bench_segments.json).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from carbon_aware.engine import SignalSet, Workload, get_strategy
from carbon_aware.engine.backtest import BacktestResult, run_backtest
from carbon_aware.engine.forecast import get_forecaster, history_forecast_fn
from forecast_quality import DEFAULT_CSV, read_wide_csv, year_bounds

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600.0
# Solar-heavy grids in time zones hours apart: where following the sun can pay.
ZONES = ("US-CAL-CISO", "AU-NSW", "DE", "GB")
POWER_WATTS = 1000.0
# A 1 GB checkpoint moved at 0.02 USD/GB, priced at 100 USD per tonne CO2e: 200 g per move.
DEFAULT_PENALTY_G = 1.0 * 0.02 / 100.0 * 1e6


def jobs(
    actual: SignalSet,
    year: int,
    hours: float,
    slack: float,
    every: float,
    min_segment: float,
    days: int | None,
) -> list[Workload]:
    """Interruptible jobs arriving every ``every`` hours in each zone, deadlines in the data."""
    start, stop = year_bounds(year)
    if days is not None:
        stop = min(stop, start + days * 24 * HOUR)
    window = (hours + slack) * HOUR
    out = []
    for i, zone in enumerate(ZONES):
        first = max(start, actual[zone].start) + i * HOUR * every / len(ZONES)
        last = min(stop, min(actual[z].end for z in ZONES) - window)
        for t in np.arange(first, last, every * HOUR).tolist():
            out.append(
                Workload(
                    f"{zone}-{int(t)}",
                    t,
                    hours * HOUR,
                    t + window,
                    zone,
                    ZONES,
                    POWER_WATTS,
                    interruptible=True,
                    min_segment=min_segment * 60.0,
                )
            )
    return out


def figures(result: BacktestResult) -> dict[str, Any]:
    """Saved grams and percent, segments and moves per job, fraction of the oracle reached."""
    placed = [o for o in result.outcomes if o.emissions_g is not None]
    baseline = sum(o.baseline_g for o in placed)
    emitted = sum(o.emissions_g for o in placed)
    oracle = sum(o.oracle_g for o in placed)
    segments = [len(o.placement.segments) for o in placed]
    moves = [
        sum(a.region != b.region for a, b in itertools.pairwise(o.placement.segments))
        for o in placed
    ]
    return {
        "jobs": len(result.outcomes),
        "placed": len(placed),
        "baseline_g": round(baseline, 1),
        "saved_g": round(baseline - emitted, 1),
        "saved_pct": round(100 * (baseline - emitted) / baseline, 2) if baseline else None,
        "oracle_saved_pct": round(100 * (baseline - oracle) / baseline, 2) if baseline else None,
        "oracle_fraction": round((baseline - emitted) / (baseline - oracle), 3)
        if baseline > oracle
        else None,
        "segments_per_job": round(float(np.mean(segments)), 2) if segments else None,
        "moves_per_job": round(float(np.mean(moves)), 2) if moves else None,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    actual = read_wide_csv(args.csv, ZONES)
    segmented = jobs(
        actual, args.year, args.hours, args.slack, args.every, args.min_segment, args.days
    )
    whole = [dataclasses.replace(j, interruptible=False) for j in segmented]
    home = [dataclasses.replace(j, regions=(j.home_region,)) for j in segmented]
    home_whole = [dataclasses.replace(j, interruptible=False) for j in home]
    forecast = history_forecast_fn(actual, get_forecaster("history"))
    time_shift = get_strategy("time_shift")
    settings = {
        "time_shift_whole": (home_whole, time_shift),
        "time_shift_segments": (home, time_shift),
        "combined_whole": (whole, get_strategy("combined")),
        "follow_the_sun_segments": (
            segmented,
            get_strategy("follow_the_sun", migration_penalty_g=args.penalty),
        ),
    }
    out: dict[str, Any] = {
        "data": f"{Path(args.csv).name}, {args.year}, zones {', '.join(ZONES)}",
        "jobs": {
            "hours": args.hours,
            "slack_hours": args.slack,
            "every_hours": args.every,
            "min_segment_minutes": args.min_segment,
            "migration_penalty_g": round(args.penalty, 1),
            "forecast": "history (no look-ahead)",
        },
    }
    for name, (batch, strategy) in settings.items():
        began = time.perf_counter()
        result = run_backtest(batch, actual, strategy, forecast, forecast_name="history")
        out[name] = {**figures(result), "seconds": round(time.perf_counter() - began, 1)}
        print(f"{name:26s} {json.dumps(out[name])}", flush=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--days", type=int, default=None, help="only the year's first days")
    parser.add_argument("--hours", type=float, default=8.0, help="job length")
    parser.add_argument("--slack", type=float, default=24.0, help="hours of slack")
    parser.add_argument("--every", type=float, default=29.0, help="hours between arrivals")
    parser.add_argument("--min-segment", type=float, default=60.0, help="minutes")
    parser.add_argument("--penalty", type=float, default=DEFAULT_PENALTY_G, help="grams per move")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench_segments.json")
    args = parser.parse_args(argv)
    if not Path(args.csv).exists():
        print(f"bench_segments: skipped, carbon data not found at {args.csv}")
        return 0
    figures_ = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures_, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
