"""Migration policy replay (issue #13): a year of real hourly carbon data, no look-ahead.

Per region set, ``--per-region`` long-running 1 kW workloads start in each region of the set
(overlaps of 15, 30 and 45 minutes, checkpoints of 2, 5 and 10 GB in turn), all allowed in every
region of the set. Each hour the policy (:mod:`carbon_aware.engine.migration`) decides on the
fleet's history forecast issued from the hours before (no look-ahead) and the previous hour's
renewable share; emissions are accounted on the observed series
(:mod:`carbon_aware.engine.migration_replay`). Three variants: the default policy; without
confirmation and dwell (``confirmations=1``, no dwell); and bare (trigger and ``net > 0`` only: no
margin, confirmation, dwell, daily or fleet cap). Reported: migrations per workload per day,
grams saved net of overhead against never migrating, and the share of migrations whose realised
net (to the workload's next move) was positive. Writes ``build/bench_migrations.json``. Skipped,
saying so, when the shared development data are absent.

Data (lifecycle, derived from Electricity Maps data) as loaded for the fleet bench
(:func:`carbon_aware.cli.fleet_data.load_fleet_data`): the 2023 sets use the 16-zone file
(2021-2022 as forecaster history, renewable shares known); the full EU and US sets need zones of
the 123-zone file (2022 only, first week as history, no renewable share).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from carbon_aware.cli.fleet_data import load_fleet_data
from carbon_aware.engine.fleet_sim import history_forecast
from carbon_aware.engine.migration import MigrationPolicy, Subject
from carbon_aware.engine.migration_replay import replay

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data"
#: (name, regions, year)
REGION_SETS = (
    ("EU", ("eu-west-2", "eu-central-1"), 2023),
    ("US", ("us-east-1", "us-west-1"), 2023),
    ("EU", ("eu-west-1", "eu-west-2", "eu-central-1", "eu-north-1"), 2022),
    ("US", ("us-east-1", "us-west-1", "us-west-2"), 2022),
)
#: (overlap minutes, checkpoint GB), cycled over each region's workloads.
SHAPES = ((15.0, 2.0), (30.0, 5.0), (45.0, 10.0))
POWER_KW = 1.0
DEFAULT = MigrationPolicy()
VARIANTS = {
    "default": DEFAULT,
    "no_confirm_dwell": dataclasses.replace(DEFAULT, confirmations=1, min_dwell_minutes=0.0),
    "bare": dataclasses.replace(
        DEFAULT,
        confirmations=1,
        min_dwell_minutes=0.0,
        margin_g=0.0,
        margin_ratio=0.0,
        max_per_workload_per_day=24,
        max_fleet_fraction=1.0,
    ),
}


def workloads(regions: Sequence[str], per_region: int) -> list[tuple[Subject, str]]:
    """``per_region`` workloads homed in each region, allowed everywhere in the set."""
    out = []
    for home in regions:
        for i in range(per_region):
            overlap, checkpoint = SHAPES[i % len(SHAPES)]
            subject = Subject(f"{home}-{i}", POWER_KW, checkpoint, overlap, tuple(regions))
            out.append((subject, home))
    return out


def run_set(
    data_dir: Path, name: str, regions: Sequence[str], year: int, per_region: int, days: int | None
) -> dict[str, Any]:
    """Every variant on one region set."""
    data = load_fleet_data(data_dir, regions, year)
    inputs = data.inputs
    hours = inputs.hours if days is None else min(inputs.hours, days * 24)
    horizon = int(DEFAULT.horizon_hours)
    began = time.perf_counter()
    forecast = history_forecast(inputs)
    issued = [forecast(h, horizon) for h in range(hours)]
    out: dict[str, Any] = {
        "set": name,
        "year": year,
        "zones": dict(data.zones),
        "carbon_source": data.carbon_source,
        "hours": hours,
        "renewable_share": inputs.renewable_share is not None,
        "forecast_seconds": round(time.perf_counter() - began, 1),
        "variants": {},
    }
    share = None if inputs.renewable_share is None else inputs.renewable_share[:hours]
    for variant, policy in VARIANTS.items():
        began = time.perf_counter()
        result = replay(
            policy,
            workloads(regions, per_region),
            regions,
            inputs.start,
            inputs.carbon[:hours],
            issued.__getitem__,
            share,
        )
        figures = {**result.summary(), "seconds": round(time.perf_counter() - began, 1)}
        out["variants"][variant] = figures
    return out


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """One row per set and variant."""
    names = [",".join(f"{r}={z}" for r, z in result["zones"].items()) for result in results]
    width = max(len("regions"), *map(len, names))
    head = (
        f"{'set':6s} {'year':4s} {'regions':{width}s} {'variant':16s} {'migr/wl/day':>11s} "
        f"{'saved kg':>9s} {'saved %':>7s} {'overhead kg':>11s} {'paid off':>8s}"
    )
    lines = [head, "-" * len(head)]
    for result, regions in zip(results, names, strict=True):
        for variant, f in result["variants"].items():
            paid = "-" if f["paid_share"] is None else f"{100 * f['paid_share']:.1f}%"
            lines.append(
                f"{result['set']:6s} {result['year']:<4d} {regions:{width}s} {variant:16s} "
                f"{f['per_workload_day']:>11.3f} {f['saved_kg']:>9.1f} {f['saved_pct']:>7.2f} "
                f"{f['overhead_kg']:>11.2f} {paid:>8s}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every set, write the JSON, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "bench_migrations.json")
    parser.add_argument("--per-region", type=int, default=3, help="workloads homed per region")
    parser.add_argument("--days", type=int, default=None, help="only the period's first days")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"bench_migrations: skipped, shared data not found at {args.data_dir}")
        return 0
    results = []
    for name, regions, year in REGION_SETS:
        began = time.perf_counter()
        results.append(run_set(args.data_dir, name, regions, year, args.per_region, args.days))
        print(f"{name} {year}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
    settings = {
        "power_kw": POWER_KW,
        "per_region": args.per_region,
        "shapes_overlap_min_checkpoint_gb": SHAPES,
        "evaluation": "hourly",
        "forecast": "fleet history forecaster, issued from past hours only",
        "policies": {k: dataclasses.asdict(v) for k, v in VARIANTS.items()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps({"settings": settings, "sets": results}, indent=2) + "\n", encoding="utf-8"
    )
    print(format_table(results))
    print(f"written: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
