"""``carbon-aware report``: the carbon report of a period from the record export (or the table)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from carbon_aware.cli.inputs import InputError

EXIT_UNVERIFIED = 5
DEFAULT_TABLE = "carbon-aware-workloads"
DEFAULT_FLEET_TABLE = "carbon-aware-fleets"
DEFAULT_MIGRATION_TABLE = "carbon-aware-migrations"
Items = list[dict[str, Any]]


def add_parser(sub: Any) -> None:
    """Register ``report``."""
    report = sub.add_parser(
        "report",
        help="carbon report of a period: HTML, CSV and PNG (location-, market-based, valuation)",
        description="Grams and savings of finished workloads per workload, team, tag, region, "
        "strategy and provider, in separate location-based, marginal and market-based views "
        "(never summed together). Exit codes: 0 ok, 2 bad input, "
        f"{EXIT_UNVERIFIED} --verify found grams that do not recompute within 0.1 %.",
    )
    report.add_argument("--from", dest="start", required=True, type=_day, help="first day (UTC)")
    report.add_argument("--to", dest="end", required=True, type=_day, help="last day (UTC)")
    report.add_argument(
        "--source",
        choices=("export", "table"),
        default="export",
        help="the record export (default) or a Scan of the live tables",
    )
    report.add_argument(
        "--export", help="export location: s3://bucket/prefix or a local folder (--source export)"
    )
    report.add_argument(
        "--table", default=DEFAULT_TABLE, help=f"workloads table name (default {DEFAULT_TABLE})"
    )
    report.add_argument(
        "--fleet-table",
        default=DEFAULT_FLEET_TABLE,
        help=f"fleets table name, read when present (default {DEFAULT_FLEET_TABLE})",
    )
    report.add_argument(
        "--migration-table",
        default=DEFAULT_MIGRATION_TABLE,
        help=f"migrations table name, read when present (default {DEFAULT_MIGRATION_TABLE})",
    )
    report.add_argument("--out", required=True, type=Path, help="output folder")
    report.add_argument(
        "--coverage",
        type=Path,
        help="JSON of renewable coverage per region (and optionally per YYYY-MM): enables the "
        "market-based view",
    )
    report.add_argument("--team-tag", default="team", help="the tag naming a team (default team)")
    report.add_argument(
        "--price-per-tonne", type=float, help="USD per tCO2e for the carbon-credit valuation"
    )
    report.add_argument(
        "--ccft", type=Path, help="AWS customer carbon footprint export CSV to reconcile with"
    )
    report.add_argument(
        "--verify",
        action="store_true",
        help="recompute every gram from the record and the stored intensities (within 0.1 %%)",
    )
    report.add_argument(
        "--signals-table",
        help="signals table holding the stored intensities for --verify (default: the built-in "
        "profiles, for deployments without one)",
    )
    report.set_defaults(handler=run)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def run(args: argparse.Namespace) -> int:
    """Build, write and (with --verify) check the report; prints where it is."""
    from carbon_aware.cli.carbon_report import write_carbon_report
    from carbon_aware.cli.ledger import build_ledger
    from carbon_aware.cli.report_inputs import read_ccft, read_coverage

    if args.end < args.start:
        raise InputError("--to must not be before --from")
    if args.price_per_tonne is not None and not args.price_per_tonne >= 0:
        raise InputError("--price-per-tonne must be a non-negative number")
    if args.signals_table and not args.verify:
        raise InputError("--signals-table is read by --verify only: add --verify")
    items, fleet_items, migration_items, skipped = _records(args)
    ledger = build_ledger(
        items,
        args.start,
        args.end,
        coverage=read_coverage(args.coverage) if args.coverage else None,
        team_tag=args.team_tag,
        price_per_tonne=args.price_per_tonne,
        ccft=read_ccft(args.ccft) if args.ccft else None,
        fleet_items=fleet_items,
        migration_items=migration_items,
    )
    if skipped:
        ledger.flagged.append(f"{skipped} unreadable export lines")
    verification = fleets = None
    if args.verify:
        from carbon_aware.cli.verify import profile_source, table_source, verify, verify_fleets

        source = table_source(args.signals_table) if args.signals_table else profile_source()
        by_id = {str(i.get("workload_id")): i for i in items}
        verification = verify(ledger.entries, by_id, source)
        fleets = verify_fleets(fleet_items, ledger.period, source)
    page = write_carbon_report(ledger, args.out, verification)
    print(f"report: {page}")
    if verification is None or fleets is None:
        return 0
    for kind, checked in (("workloads", verification), ("fleet decisions", fleets)):
        print(
            f"verified: {checked.matched}/{checked.checked} {kind} recompute within 0.1 % "
            f"(largest error {checked.largest_error:.2e})"
        )
        for mismatch in checked.mismatches:
            print(f"carbon-aware: mismatch: {mismatch}", file=sys.stderr)
    return 0 if verification.ok and fleets.ok else EXIT_UNVERIFIED


def _records(args: argparse.Namespace) -> tuple[Items, Items, Items, int]:
    """Workload, fleet and migration items, and the count of unreadable export lines."""
    from carbon_aware.cli import export

    if args.source == "table":
        if args.export:
            raise InputError("--export is read with --source export only")
        fleets, migrations = _optional_scan(args.fleet_table), _optional_scan(args.migration_table)
        return export.scan_table(args.table), fleets, migrations, 0
    if not args.export:
        raise InputError("--source export needs --export s3://bucket/prefix or a folder")
    items, bad = export.read_export(args.export, args.table, args.start, _workload_key)
    fleets, bad_fleets = _optional_export(
        args, args.fleet_table, lambda i: f"{i['fleet']}#{i['sk']}"
    )
    migrations, bad_migrations = _optional_export(args, args.migration_table, lambda i: i["pk"])
    return items, fleets, migrations, bad + bad_fleets + bad_migrations


def _workload_key(item: dict[str, Any]) -> str:
    return str(item["workload_id"])


def _optional_export(
    args: argparse.Namespace, table: str, key: Callable[[dict[str, Any]], str]
) -> tuple[Items, int]:
    """A table's exported items, none when the export holds no such table (not deployed)."""
    from carbon_aware.cli import export

    try:
        return export.read_export(args.export, table, args.start, key)
    except InputError:
        return [], 0


def _optional_scan(table: str) -> Items:
    from botocore.exceptions import ClientError

    from carbon_aware.cli.export import scan_table

    try:
        return scan_table(table)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise
