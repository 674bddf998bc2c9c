"""Forecast quality on real history: time_shift savings and MAE/MAPE by horizon, per zone.

Jobs of 1 h and 6 h arrive every hour of the year with 24 h of slack (deadline = arrival + 24 h +
duration), home region = the zone, strategy time_shift. Each is decided once at arrival on a
forecast that sees only the hours before it, and accounted on the actual series, through the
product's own backtest. ``fraction of oracle`` = forecaster savings / perfect-forecast savings.

Usage: python scripts/forecast_quality.py [--csv PATH] [--year 2023] [--zones DE,GB]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from carbon_aware.engine import Signal, SignalSet, Workload, get_strategy
from carbon_aware.engine.backtest import run_backtest
from carbon_aware.engine.forecast import FORECASTERS, get_forecaster, history_forecast_fn
from carbon_aware.engine.timeutil import parse_iso, to_seconds

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = ROOT.parent / "shared/data/carbon/hourly_2021_2023_16zones_lifecycle.csv"
DURATIONS_HOURS = (1, 6)
SLACK_HOURS = 24
MIN_ORACLE_SAVING_PCT = 5.0
MAE_HORIZONS = (1, 6, 12, 24, 48)


def read_wide(path: Path, zones: list[str] | None) -> SignalSet:
    """Hourly signals per zone from a wide CSV."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    wanted = [z for z in header[1:] if zones is None or z in zones]
    times = np.array([to_seconds(parse_iso(r[0])) for r in rows[1:]])
    signals = []
    for zone in wanted:
        col = header.index(zone)
        signals.append(Signal.from_points(zone, times, [float(r[col]) for r in rows[1:]]))
    return SignalSet.of(signals)


def jobs_for(zone: str, year: int, hours: int) -> list[Workload]:
    """One job an hour through ``year``."""
    start = to_seconds(parse_iso(f"{year}-01-01T00:00:00Z"))
    end = to_seconds(parse_iso(f"{year + 1}-01-01T00:00:00Z")) - (SLACK_HOURS + hours) * 3600
    return [
        Workload(
            f"{zone}-{hours}h-{int(t)}",
            t,
            hours * 3600.0,
            t + (SLACK_HOURS + hours) * 3600.0,
            zone,
            (zone,),
            1000.0,
        )
        for t in np.arange(start, end + 1, 3600.0)
    ]


def quality(csv_path: Path = DEFAULT_CSV, year: int = 2023, zones: list[str] | None = None) -> dict:
    """Per-zone savings and fractions for every forecaster, the aggregate, and MAE/MAPE."""
    actual = read_wide(csv_path, zones)
    strategy = get_strategy("time_shift")
    per_zone: dict[str, dict] = {}
    for zone in actual.regions:
        one = SignalSet.of([actual[zone]])
        entry: dict[str, dict] = {}
        # One forecast per issue hour and forecaster, shared by the 1 h and 6 h jobs.
        shared = {name: history_forecast_fn(one, get_forecaster(name)) for name in FORECASTERS}
        for hours in DURATIONS_HOURS:
            jobs = jobs_for(zone, year, hours)
            row: dict[str, float | None] = {}
            oracle = run_backtest(jobs, one, strategy).summary()
            row["oracle_savings_pct"] = oracle["savings_pct"]
            for name, fn in shared.items():
                summary = run_backtest(jobs, one, strategy, fn, forecast_name=name).summary()
                row[f"{name}_savings_pct"] = summary["savings_pct"]
                row[f"{name}_fraction"] = summary["fraction_of_oracle"]
            entry[f"{hours}h"] = row
        entry["errors"] = errors(one[zone], year)
        per_zone[zone] = entry
    return {"year": year, "zones": per_zone, "aggregate": aggregate(per_zone)}


def aggregate(per_zone: dict[str, dict]) -> dict:
    """Mean and minimum fraction of oracle over zones whose oracle saving is at least 5 %."""
    out: dict[str, float | int | None] = {}
    for hours in DURATIONS_HOURS:
        key = f"{hours}h"
        eligible = [
            z for z in per_zone.values() if z[key]["oracle_savings_pct"] >= MIN_ORACLE_SAVING_PCT
        ]
        out[f"{key}_zones_with_oracle_saving_ge_5pct"] = len(eligible)
        for name in FORECASTERS:
            fractions = [z[key][f"{name}_fraction"] or 0.0 for z in eligible]
            out[f"{key}_{name}_mean_fraction"] = (
                round(float(np.mean(fractions)), 4) if fractions else None
            )
            out[f"{key}_{name}_min_fraction"] = (
                round(float(np.min(fractions)), 4) if fractions else None
            )
    return out


def errors(signal: Signal, year: int, stride_hours: int = 24) -> dict:
    """MAE and MAPE by horizon (1..48 h) of each forecaster, issued every ``stride_hours``."""
    start = to_seconds(parse_iso(f"{year}-01-01T00:00:00Z"))
    end = to_seconds(parse_iso(f"{year + 1}-01-01T00:00:00Z")) - 49 * 3600
    result = {}
    for name in FORECASTERS:
        forecaster = get_forecaster(name)
        abs_err, pct_err = [], []
        for issued in np.arange(start, end, stride_hours * 3600.0):
            past = signal.window(signal.start, issued)
            predicted = forecaster.forecast(past, float(issued), 48 * 3600.0)
            truth = signal.values[np.searchsorted(signal.times, issued + 3600.0 * np.arange(48))]
            guess = predicted.values[:48]
            abs_err.append(np.abs(guess - truth))
            pct_err.append(np.abs(guess - truth) / np.maximum(truth, 1.0))
        mae, mape = np.mean(abs_err, axis=0), np.mean(pct_err, axis=0) * 100
        result[name] = {
            "mae_by_horizon": [round(float(v), 2) for v in mae],
            "mape_pct_by_horizon": [round(float(v), 2) for v in mape],
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--zones", help="comma-separated zone columns (default: all)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    figures = quality(args.csv, args.year, args.zones.split(",") if args.zones else None)
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"{'zone':<14}" + "".join(f"{h}h oracle  hist  yest  med7  " for h in DURATIONS_HOURS))
    for zone, entry in figures["zones"].items():
        cells = ""
        for hours in DURATIONS_HOURS:
            r = entry[f"{hours}h"]
            cells += (
                f"{r['oracle_savings_pct']:>9.1f}%"
                + "".join(f"{(r[f'{n}_fraction'] or 0):>6.2f}" for n in FORECASTERS)
                + "  "
            )
        print(f"{zone:<14}{cells}")
    for key, value in figures["aggregate"].items():
        print(f"{key:<45}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
