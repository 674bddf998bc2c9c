"""``carbon-aware fleet simulate``: a spot fleet over a year of real carbon, against baselines.

Five runs on the same inputs (:mod:`carbon_aware.cli.fleet_data`): the home region alone, the
best static allocation chosen on the previous year's means, the hourly oracle, and the optimizer
(the deployed ``decide``/``apply_plan``) with no look-ahead (the history forecaster) and with a
perfect forecast. Savings are against home; ``gap_closed`` is the optimizer's share of the
static-to-oracle gap. The issue's targets are checked and reported per run.

For a fleet without share limits a sixth row, ``bound``, gives the most of that gap any fleet can
close within one move per instance-day, with perfect foresight and the run period's launch
overlap (:mod:`carbon_aware.engine.fleet_bound`): when it is under 80 %, the two targets cannot
both hold for that set, whatever the optimizer.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carbon_aware.cli.fleet_data import DEFAULT_INSTANCE_TYPES, FleetDataError, load_fleet_data
from carbon_aware.cli.inputs import InputError
from carbon_aware.engine.fleet import DEFAULT_HYSTERESIS, FleetError
from carbon_aware.engine.fleet_bound import MoveBudgetBound, move_budget_bound
from carbon_aware.engine.fleet_policy import (
    DEFAULT_DWELL_MINUTES,
    DEFAULT_LOOKAHEAD_HOURS,
    DEFAULT_MOVE_COST_MINUTES,
    POLICY_STRATEGIES,
    FleetPolicy,
)

# The simulator (and the forecaster behind it) is imported when a fleet is simulated, not when the
# CLI's parser is built: the other commands (a backtest) do not pay for it.
if TYPE_CHECKING:
    from carbon_aware.engine.fleet_sim import SimResult

DEFAULT_DATA_DIR = Path("../shared/data")
#: Policy defaults of the year-long bench: the deployed defaults (see README "Fleet simulation").
DEFAULT_STRATEGY = "follow_the_sun"
DEFAULT_TOTAL = 30
#: The deployed ``fleet_optimizer_schedule``, rate(5 minutes).
DEFAULT_RUNS_PER_HOUR = 12
#: The issue's targets.
GAP_TARGET = 0.8
GAP_MIN_POINTS = 2.0
MAX_MOVES_PER_INSTANCE_DAY = 1.0
OPTIMIZER_RUNS = ("optimizer_history", "optimizer_perfect")


def add_simulate_parser(fleet_subparsers: Any) -> None:
    """Register ``fleet simulate`` on the ``fleet`` command's subparsers."""
    sim = fleet_subparsers.add_parser(
        "simulate", help="a fleet over a year of real carbon data, against baselines"
    )
    sim.add_argument("--regions", required=True, help="comma-separated AWS regions")
    sim.add_argument("--home", help="home region (default: the first of --regions)")
    sim.add_argument(
        "--max-share", type=float, default=1.0, help="largest share of one region (default 1)"
    )
    sim.add_argument(
        "--min-share", type=float, default=0.0, help="smallest share of each region (default 0)"
    )
    sim.add_argument(
        "--strategy",
        choices=list(POLICY_STRATEGIES),
        default=DEFAULT_STRATEGY,
        help=f"(default: {DEFAULT_STRATEGY})",
    )
    sim.add_argument("--year", type=int, default=2023, help="year simulated (default 2023)")
    sim.add_argument("--total", type=int, default=DEFAULT_TOTAL, help="instances (default 30)")
    sim.add_argument(
        "--hysteresis", type=float, default=DEFAULT_HYSTERESIS, help="(default %(default)s)"
    )
    sim.add_argument(
        "--dwell-minutes", type=int, default=DEFAULT_DWELL_MINUTES, help="(default %(default)s)"
    )
    sim.add_argument(
        "--move-cost-minutes",
        type=float,
        default=DEFAULT_MOVE_COST_MINUTES,
        help="a move costs running the instance this long in its source region "
        "(default %(default)s)",
    )
    sim.add_argument(
        "--lookahead-hours",
        type=int,
        default=DEFAULT_LOOKAHEAD_HOURS,
        help="hours of forecast a move's saving is weighed over (default %(default)s)",
    )
    sim.add_argument("--max-step", type=int, help="largest launches per run (default: none)")
    sim.add_argument(
        "--runs-per-hour",
        type=int,
        default=DEFAULT_RUNS_PER_HOUR,
        help=f"optimizer runs per hour (default {DEFAULT_RUNS_PER_HOUR})",
    )
    sim.add_argument(
        "--instance-types",
        default=",".join(DEFAULT_INSTANCE_TYPES),
        help="comma-separated; the cheapest per region prices the fleet, the first sizes it",
    )
    sim.add_argument(
        "--zone",
        action="append",
        default=[],
        metavar="REGION=ZONE",
        help="Electricity Maps zone of a region (repeatable; default: the data's region map)",
    )
    sim.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="development data directory"
    )
    sim.add_argument("--json", action="store_true", help="print JSON instead of a table")
    sim.set_defaults(handler=_simulate)


def _split(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"{option} must name at least one item")
    return items


def _zones(pairs: Sequence[str]) -> dict[str, str]:
    zones = {}
    for pair in pairs:
        region, sep, zone = pair.partition("=")
        if not sep or not region or not zone:
            raise InputError(f"--zone must be REGION=ZONE, got {pair!r}")
        zones[region.strip()] = zone.strip()
    return zones


def _simulate(args: argparse.Namespace) -> int:
    from carbon_aware.engine.fleet_sim import FleetSimError

    regions = _split(args.regions, "--regions")
    unknown = sorted(set(_zones(args.zone)) - set(regions))
    if unknown:
        raise InputError(f"--zone names regions not in --regions: {unknown}")
    try:
        result = simulate_set(
            args.data_dir,
            regions,
            home=args.home or regions[0],
            year=args.year,
            total=args.total,
            max_share=args.max_share,
            min_share=args.min_share,
            strategy=args.strategy,
            hysteresis=args.hysteresis,
            dwell_minutes=args.dwell_minutes,
            max_step=args.max_step,
            move_cost_minutes=args.move_cost_minutes,
            lookahead_hours=args.lookahead_hours,
            runs_per_hour=args.runs_per_hour,
            instance_types=_split(args.instance_types, "--instance-types"),
            zones=_zones(args.zone),
        )
    except (FleetDataError, FleetError, FleetSimError) as exc:
        raise InputError(str(exc)) from None
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table([result]))
    return 0


def simulate_set(
    data_dir: Path,
    regions: Sequence[str],
    *,
    home: str,
    year: int,
    total: int = DEFAULT_TOTAL,
    max_share: float = 1.0,
    min_share: float = 0.0,
    strategy: str = DEFAULT_STRATEGY,
    hysteresis: float = DEFAULT_HYSTERESIS,
    dwell_minutes: int = DEFAULT_DWELL_MINUTES,
    max_step: int | None = None,
    move_cost_minutes: float = DEFAULT_MOVE_COST_MINUTES,
    lookahead_hours: int = DEFAULT_LOOKAHEAD_HOURS,
    runs_per_hour: int = DEFAULT_RUNS_PER_HOUR,
    instance_types: Sequence[str] = DEFAULT_INSTANCE_TYPES,
    zones: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The five runs for one region set, their savings and the targets (JSON-ready)."""
    from carbon_aware.engine import fleet_sim as sim

    if home not in regions:
        raise InputError(f"--home {home!r} must be one of --regions {list(regions)}")
    data = load_fleet_data(
        data_dir, regions, year, instance_types=instance_types, zone_overrides=zones
    )
    inputs = data.inputs
    policy = FleetPolicy(
        name="simulated",
        regions=tuple(regions),
        strategy=strategy,
        min_total=total,
        max_total=total,
        min_share=dict.fromkeys(regions, min_share),
        max_share=dict.fromkeys(regions, max_share),
        hysteresis=hysteresis,
        dwell_minutes=dwell_minutes,
        max_step=max_step,
        move_cost_minutes=move_cost_minutes,
        lookahead_hours=lookahead_hours,
    )
    static = sim.static_allocation(policy, data.static_carbon, total)
    bound = None
    if min_share <= 0 and max_share >= 1:  # instances are independent: the bound applies
        bound = move_budget_bound(
            inputs.carbon,
            moves_per_instance_day=MAX_MOVES_PER_INSTANCE_DAY,
            overlap_hours=1.0 / runs_per_hour,
        )
    runs = [
        sim.run_allocation("home", inputs, sim.home_allocation(inputs, home, total), policy=policy),
        sim.run_allocation("static", inputs, [static] * inputs.hours, policy=policy),
        sim.run_allocation(
            "oracle", inputs, sim.oracle_allocation(policy, inputs.carbon, total), policy=policy
        ),
        sim.run_optimizer(
            "optimizer_history",
            inputs,
            policy,
            total,
            sim.history_forecast(inputs),
            runs_per_hour=runs_per_hour,
        ),
        sim.run_optimizer(
            "optimizer_perfect",
            inputs,
            policy,
            total,
            sim.perfect_forecast(inputs),
            runs_per_hour=runs_per_hour,
        ),
    ]
    return {
        "regions": list(regions),
        "home": home,
        "zones": dict(data.zones),
        "year": year,
        "hours": inputs.hours,
        "carbon_source": data.carbon_source,
        "static_chosen_on": data.static_basis,
        "static_allocation": dict(zip(regions, static.tolist(), strict=True)),
        "prices": {r: dict(v) for r, v in data.prices.items()},
        "placement_score": dict(zip(regions, inputs.placement_score, strict=True)),
        "kwh_per_instance_hour": inputs.kwh_per_instance_hour,
        "policy": {
            "strategy": strategy,
            "total": total,
            "max_share": max_share,
            "min_share": min_share,
            "hysteresis": hysteresis,
            "dwell_minutes": dwell_minutes,
            "max_step": max_step,
            "move_cost_minutes": move_cost_minutes,
            "lookahead_hours": lookahead_hours,
            "runs_per_hour": runs_per_hour,
        },
        "runs": summarise(runs, bound, scale=total * inputs.kwh_per_instance_hour),
    }


def summarise(
    runs: Sequence[SimResult], bound: MoveBudgetBound | None = None, *, scale: float = 1.0
) -> dict[str, dict[str, Any]]:
    """Each run's totals, saving against home, share of the static-to-oracle gap and targets.

    ``bound`` (per instance, carbon-hours) times ``scale`` (instances x kWh per instance-hour)
    adds the ``bound`` row; each optimizer row then says whether 80 % of the gap was reachable.
    """
    by_name = {run.name: run for run in runs}
    home, static, oracle = by_name["home"], by_name["static"], by_name["oracle"]
    gap = (static.grams - oracle.grams) / home.grams * 100.0
    reachable = None
    if bound is not None and gap:
        reachable = (static.grams - bound.floor * scale) / (static.grams - oracle.grams)
    out = {}
    for run in runs:
        row = run.to_dict()
        row["saving_pct"] = round((home.grams - run.grams) / home.grams * 100.0, 2)
        if run.name in OPTIMIZER_RUNS:
            closed = (static.grams - run.grams) / (static.grams - oracle.grams) if gap else None
            row["gap_closed"] = None if closed is None else round(closed, 3)
            row["targets"] = {
                "not_above_static": run.grams <= static.grams,
                "gap_80pct": None if gap < GAP_MIN_POINTS else closed >= GAP_TARGET,
                "moves_per_instance_day_le_1": run.moves_per_instance_day
                <= MAX_MOVES_PER_INSTANCE_DAY,
                "minimums_held": run.periods_below_min == 0,
            }
            if reachable is not None:
                row["gap_80pct_reachable"] = reachable >= GAP_TARGET
        out[run.name] = row
    if bound is not None:
        floor = bound.floor * scale
        out["bound"] = {
            "name": "bound",
            "grams": round(floor, 3),
            "plan_grams": round(bound.plan * scale, 3),
            "saving_pct": round((home.grams - floor) / home.grams * 100.0, 2),
            "gap_closed": None if reachable is None else round(reachable, 3),
            "moves_per_instance_day": MAX_MOVES_PER_INSTANCE_DAY,
            "plan_moves_per_instance_day": round(bound.plan_moves_per_instance_day, 5),
            "overlap_minutes": round(bound.overlap_hours * 60, 3),
        }
    return out


def format_table(results: Sequence[Mapping[str, Any]]) -> str:
    """A plain-text table: one row per run per region set, the bound last and explained below."""
    header = ("set", "run", "t CO2e", "saving %", "gap", "USD", "moves/inst-day", "min held")
    lines = []
    notes: list[str] = []
    for result in results:
        label = "/".join(result["regions"])
        runs = result["runs"]
        for name, row in runs.items():  # the bound, when there is one, is last
            gap = row.get("gap_closed")
            lines.append(
                (
                    label,
                    name,
                    f"{row['grams'] / 1e6:.3f}",
                    f"{row['saving_pct']:.1f}",
                    "" if gap is None else f"{gap:.0%}",
                    f"{row['dollars']:.0f}" if "dollars" in row else "",
                    f"{row['moves_per_instance_day']:.3f}",
                    f"{row['min_in_service']}/{result['policy']['total']}"
                    if "min_in_service" in row
                    else "",
                )
            )
            label = ""
        if "bound" in runs:
            notes.append(
                f"{'/'.join(result['regions'])} bound: the fewest grams with perfect foresight "
                f"and at most {runs['bound']['moves_per_instance_day']:g} move per instance-day, "
                f"each move running both regions {runs['bound']['overlap_minutes']:g} min"
            )
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines, strict=True)]
    text = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *lines)
    ]
    return "\n".join([*text, *notes])
