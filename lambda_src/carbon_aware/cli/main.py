"""``carbon-aware``: plan, backtest and inspect carbon-aware placements from the command line, and
submit workloads to a deployment."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from carbon_aware import __version__
from carbon_aware.cli.fleet import add_parser as add_fleet_parser
from carbon_aware.cli.inputs import DEFAULT_MAX_GAP_MINUTES, InputError, read_jobs, read_signals
from carbon_aware.cli.migrations import add_parser as add_migrations_parser
from carbon_aware.cli.report_cmd import add_parser as add_report_parser
from carbon_aware.cli.signals import add_parser as add_signals_parser
from carbon_aware.cli.workloads import add_parser as add_workloads_parser
from carbon_aware.engine import STRATEGIES, SignalError, StrategyError, WorkloadError, get_strategy
from carbon_aware.engine.backtest import run_backtest

EXIT_BAD_INPUT = 2
FORECASTS = ("perfect", "history", "naive_yesterday", "naive_median7")
STRATEGY_OPTIONS = {
    "carbon_weight": "weight of carbon against cost, 0..1 (blended strategies)",
    "carbon_price_usd_per_tonne": "put carbon and cost on one dollar scale (blended strategies)",
    "max_carbon": "reject runs whose mean intensity exceeds this gCO2e/kWh (blended)",
    "max_cost": "reject regions dearer than this USD/hour (blended)",
    "migration_penalty_g": "grams charged per move between regions (follow_the_sun)",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (InputError, WorkloadError, SignalError, StrategyError) as exc:
        print(f"carbon-aware: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="carbon-aware",
        description="Place flexible compute where and when the grid is cleanest.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = sub.add_parser("plan", help="place one workload (or a JSON array of them)")
    plan.add_argument("--workload", required=True, type=Path, help="workload JSON file")
    _signal_args(plan)
    _strategy_args(plan, default="combined")
    plan.set_defaults(handler=_plan)

    backtest = sub.add_parser("backtest", help="replay jobs on a signal history")
    _signal_args(backtest)
    backtest.add_argument("--jobs", required=True, type=Path, help="jobs JSON array")
    _strategy_args(backtest, default="combined")
    backtest.add_argument(
        "--forecast",
        choices=FORECASTS,
        default="perfect",
        help="what each decision sees: the actual series (perfect) or a forecast made only "
        "from points strictly before submitted_at (default: perfect)",
    )
    backtest.add_argument(
        "--forecast-file",
        action="append",
        type=Path,
        metavar="FILE",
        help="decide on issued forecasts instead: each decision sees, per region, the latest "
        "forecast issued at or before submitted_at (regions with none yet are not candidates; a "
        "job with none is infeasible). FILE is a long CSV issued_at,datetime,region,value (what "
        "`signals backfill --forecasts` writes), a WattTime /v3/forecast/historical JSON or an "
        "Electricity Maps forecast JSON (object or array); repeatable",
    )
    backtest.add_argument("--output", required=True, type=Path, help="result JSON file")
    backtest.add_argument("--report", type=Path, help="also write an HTML report (PNGs beside)")
    backtest.set_defaults(handler=_backtest)

    regions = sub.add_parser("regions", help="list the region catalog")
    regions.add_argument("--catalog", type=Path, help="CSV that overrides/extends the catalog")
    regions.add_argument("--json", action="store_true", help="print JSON")
    regions.set_defaults(handler=_regions)

    add_signals_parser(sub)
    add_workloads_parser(sub)
    add_fleet_parser(sub)
    add_migrations_parser(sub)
    add_report_parser(sub)

    demo = sub.add_parser(
        "demo",
        help="run the whole runtime on a local AWS emulator over simulated days (no AWS, no keys)",
    )
    demo.add_argument("--output-dir", type=Path, default=Path("build/demo"))
    demo.add_argument("--days", type=int, default=3, help="simulated days (default 3)")
    demo.add_argument("--workloads", type=int, default=40, help="sample workloads (default 40)")
    demo.set_defaults(handler=_demo)
    return parser


def _signal_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--signals",
        required=True,
        type=Path,
        help="CSV, wide (datetime,<region>,...) or long (region,datetime,carbon_intensity)",
    )
    parser.add_argument(
        "--signal-type",
        choices=("average", "marginal"),
        default="average",
        help="what the CSV's values are (default: average)",
    )
    parser.add_argument(
        "--max-gap-minutes",
        type=float,
        default=DEFAULT_MAX_GAP_MINUTES,
        help=f"longer spacing is a gap error (default {DEFAULT_MAX_GAP_MINUTES:g})",
    )


def _strategy_args(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--strategy", choices=list(STRATEGIES), default=default, help=f"(default: {default})"
    )
    for option, text in STRATEGY_OPTIONS.items():
        parser.add_argument(f"--{option.replace('_', '-')}", type=float, help=text)


def _strategy(args: argparse.Namespace) -> Any:
    options = {k: getattr(args, k) for k in STRATEGY_OPTIONS if getattr(args, k) is not None}
    return get_strategy(args.strategy, **options)


def _load_signals(args: argparse.Namespace) -> Any:
    return read_signals(
        args.signals, signal_type=args.signal_type, max_gap_minutes=args.max_gap_minutes
    )


def _plan(args: argparse.Namespace) -> int:
    signals = _load_signals(args)
    jobs = read_jobs(args.workload, known_regions=signals.regions)
    strategy = _strategy(args)
    placements = [strategy.place(job, signals).to_dict() for job in jobs]
    payload = placements[0] if len(placements) == 1 else placements
    print(json.dumps(payload, indent=2))
    return 0


def _backtest(args: argparse.Namespace) -> int:
    # A backtest allocates a few objects per job per stage (parsed jobs, placements, output rows),
    # none of them in reference cycles: the cyclic collector's passes over them would cost a
    # quarter of the run and free nothing. Reference counting still frees everything.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run_backtest(args)
    finally:
        if collecting:
            gc.enable()


def _run_backtest(args: argparse.Namespace) -> int:
    actual = _load_signals(args)
    jobs = read_jobs(args.jobs, known_regions=actual.regions)
    strategy = _strategy(args)
    forecast, name = _forecast_fn(args, actual)
    with _progress(len(jobs)) as tick:
        result = run_backtest(jobs, actual, strategy, forecast, forecast_name=name, progress=tick)
    _write_backtest(args.output, result.to_dict())
    print(json.dumps(result.summary(), indent=2))
    if args.report:
        from carbon_aware.cli.report import write_report

        print(f"report: {write_report(result, actual, args.report)}", file=sys.stderr)
    return 0


def _forecast_fn(args: argparse.Namespace, actual: Any) -> tuple[Any, str]:
    """What each decision sees (None: the actual series) and its name in the output."""
    if args.forecast_file:
        if args.forecast != "perfect":
            raise InputError("--forecast and --forecast-file: give one or the other")
        from carbon_aware.cli.forecast_file import read_forecast_files
        from carbon_aware.engine.issued import IssuedForecasts

        issued = IssuedForecasts(read_forecast_files(args.forecast_file, args.signal_type))
        unknown = [r for r in issued.regions if r not in actual]
        if unknown:
            raise InputError(
                f"--forecast-file: regions not in the signals: {', '.join(unknown)} "
                f"(the signals have: {', '.join(actual.regions)})"
            )
        return issued.forecast_fn(), "issued:" + ",".join(p.name for p in args.forecast_file)
    if args.forecast == "perfect":
        return None, "perfect"
    from carbon_aware.engine.forecast import get_forecaster, history_forecast_fn

    return history_forecast_fn(actual, get_forecaster(args.forecast)), args.forecast


def _regions(args: argparse.Namespace) -> int:
    from carbon_aware.signals.catalog import load_catalog

    try:
        catalog = load_catalog(args.catalog)
    except OSError as exc:
        raise InputError(f"{args.catalog}: cannot read: {exc.strerror}") from None
    rows = [catalog.get(region).to_dict() for region in catalog.regions()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c] or "")) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        cells = (str(row[c] if row[c] is not None else "") for c in columns)
        print("  ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)).rstrip())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from carbon_aware.cli.localstack import run_local_demo

    if args.days < 1 or args.workloads < 1:
        raise InputError("--days and --workloads must be at least 1")
    from carbon_aware.cli.demo_migrations import run_migration_demo
    from carbon_aware.cli.localstack import START
    from carbon_aware.engine.timeutil import to_seconds

    # First, so that the monthly carbon report of the demo's month reads the migrations too.
    migrations = run_migration_demo(args.output_dir / "export", to_seconds(START) + 43200.0)
    report = run_local_demo(args.output_dir, days=args.days, workloads=args.workloads)
    print(f"report: {report}")
    print("migrations (drain_and_shift, blue_green, checkpoint_restore, live, a rollback):")
    for line in migrations:
        print(line)
    return 0


def _write_json(path: Path, payload: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _write_backtest(path: Path, payload: dict[str, Any]) -> None:
    """The backtest JSON with one job per line (indenting every job's fields costs json's
    pure-Python encoder; one line per job keeps its C encoder and stays readable).

    The jobs are encoded in one call and cut where a job object starts: ``, {"id": `` cannot
    occur inside an encoded string (its quotes would be escaped) nor before a segment.
    """
    jobs = payload.pop("jobs")
    head = json.dumps(payload, indent=2)[: -len("\n}")]
    lines = "    " + json.dumps(jobs)[1:-1].replace('}, {"id": ', '},\n    {"id": ')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'{head},\n  "jobs": [\n{lines}\n  ]\n}}\n', encoding="utf-8")


class _progress:
    """A tqdm bar on stderr when it is a terminal; otherwise nothing."""

    def __init__(self, total: int) -> None:
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="job", file=sys.stderr)

    def __enter__(self) -> Callable[[int], None] | None:
        return self.bar.update if self.bar is not None else None

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


if __name__ == "__main__":
    sys.exit(main())
