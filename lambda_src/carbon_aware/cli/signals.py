"""``carbon-aware signals``: fetch live carbon signals with provenance, and backfill the cache.

For local use keys come from the environment (``ELECTRICITYMAPS_API_KEY``, ``WATTTIME_USERNAME``,
``WATTTIME_PASSWORD``) and base URLs from ``CARBON_AWARE_ELECTRICITYMAPS_URL``,
``CARBON_AWARE_WATTTIME_URL`` and ``CARBON_AWARE_UKCI_URL`` (default: the public endpoints). The
cache is a DynamoDB table (``--table``); boto3 honours ``AWS_ENDPOINT_URL`` for a local emulator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from carbon_aware.cli.inputs import InputError

ELECTRICITYMAPS_API_KEY = "ELECTRICITYMAPS_API_KEY"
WATTTIME_USERNAME = "WATTTIME_USERNAME"
WATTTIME_PASSWORD = "WATTTIME_PASSWORD"
PROVIDER_CHOICES = ("electricitymaps", "watttime", "ukci", "profile")
EXIT_PROVIDER_FAILED = 1
DEFAULT_TTL_DAYS = 90.0


def add_parser(sub: Any) -> None:
    """Register ``signals fetch`` and ``signals backfill``."""
    signals = sub.add_parser("signals", help="live carbon signals and the signals cache")
    commands = signals.add_subparsers(dest="signals_command", required=True, metavar="COMMAND")

    fetch = commands.add_parser("fetch", help="current value and forecast per region")
    fetch.add_argument("--regions", required=True, help="comma-separated AWS regions")
    fetch.add_argument("--provider", choices=PROVIDER_CHOICES, help="ask this provider first")
    fetch.add_argument("--hours", type=float, default=24.0, help="forecast horizon (default 24)")
    fetch.add_argument("--json", action="store_true", help="print JSON")
    _common(fetch)
    fetch.add_argument("--table", help="signals table: lets the history forecaster use it")
    fetch.set_defaults(handler=_fetch)

    backfill = commands.add_parser(
        "backfill",
        help="load history into the signals cache, or fetch historical forecasts into a file",
        description="With --table: observations into the signals cache. With --forecasts FILE "
        "(and --regions, --signal-type marginal): the forecasts WattTime issued over the last "
        "--days (/v3/forecast/historical; needs a plan with historical forecasts), written as "
        "the long CSV issued_at,datetime,region,value that `backtest --forecast-file` reads, one "
        "row per point for each of --regions.",
    )
    backfill.add_argument("--table", help="signals table (DynamoDB); required without --forecasts")
    backfill.add_argument(
        "--forecasts", type=Path, metavar="FILE", help="write historical forecasts to this CSV"
    )
    source = backfill.add_mutually_exclusive_group(required=True)
    source.add_argument("--signals", type=Path, help="signals CSV (wide or long, gCO2e/kWh)")
    source.add_argument("--regions", help="comma-separated AWS regions: fetch provider history")
    backfill.add_argument("--days", type=float, default=7.0, help="days of history (default 7)")
    backfill.add_argument("--provider", choices=PROVIDER_CHOICES[:3], help="ask this one first")
    backfill.add_argument("--create-table", action="store_true", help="create it if missing")
    backfill.add_argument(
        "--observation-ttl-days", type=float, help=f"item lifetime (default {DEFAULT_TTL_DAYS:g})"
    )
    _common(backfill)
    backfill.set_defaults(handler=_backfill)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--signal-type",
        choices=("average", "marginal"),
        default="average",
        help="(default average)",
    )


def local_settings(environ: Mapping[str, str], signal_type: str, provider: str | None) -> Any:
    """Provider settings from the local environment; ``provider`` goes first in the chain."""
    from carbon_aware.signals.settings import (
        ELECTRICITYMAPS_URL,
        UKCI_URL,
        WATTTIME_URL,
        ProviderSettings,
    )

    urls = {
        key: environ[name]
        for key, name in (
            ("electricitymaps_url", ELECTRICITYMAPS_URL),
            ("watttime_url", WATTTIME_URL),
            ("ukci_url", UKCI_URL),
        )
        if environ.get(name, "").strip()
    }
    settings = ProviderSettings(
        signal_type=signal_type,
        electricitymaps_key=environ.get(ELECTRICITYMAPS_API_KEY) or None,
        watttime_username=environ.get(WATTTIME_USERNAME) or None,
        watttime_password=environ.get(WATTTIME_PASSWORD) or None,
        chain=None if provider is None else (provider, "history", "profile"),
        **urls,
    )
    needs = {
        "electricitymaps": (settings.electricitymaps_key, ELECTRICITYMAPS_API_KEY),
        "watttime": (settings.has_watttime, f"{WATTTIME_USERNAME} and {WATTTIME_PASSWORD}"),
    }
    if provider in needs and not needs[provider][0]:
        raise InputError(f"--provider {provider}: set {needs[provider][1]} in the environment")
    return settings


def _targets(text: str, signal_type: str) -> list[Any]:
    from carbon_aware.signals.catalog import load_catalog
    from carbon_aware.signals.targets import plan_targets

    regions = [r.strip() for r in text.split(",") if r.strip()]
    if not regions:
        raise InputError("--regions: list at least one AWS region")
    try:
        return plan_targets(regions, load_catalog(), signal_type)
    except ValueError as exc:
        raise InputError(f"--regions: {exc}") from None


def _cache(table: str, ttl_days: float = 30.0) -> Any:
    import boto3
    from botocore.exceptions import BotoCoreError

    from carbon_aware.signals.cache import DAY, SignalCache

    try:
        client = boto3.client("dynamodb")
    except BotoCoreError as exc:
        raise InputError(f"--table {table}: {exc}") from None
    return SignalCache(client, table, observation_ttl=ttl_days * DAY)


def _fetch(args: argparse.Namespace) -> int:
    from carbon_aware.signals.chain import NoAnswer
    from carbon_aware.signals.clock import SYSTEM_CLOCK
    from carbon_aware.signals.settings import build_providers

    if not 0 < args.hours <= 72:
        raise InputError(f"--hours: must be more than 0 and at most 72, got {args.hours:g}")
    targets = _targets(args.regions, args.signal_type)
    settings = local_settings(os.environ, args.signal_type, args.provider)
    cache = _cache(args.table) if args.table else None
    chain = build_providers(
        settings,
        clock=SYSTEM_CLOCK,
        observations=cache.observations if cache else None,
        history_peers=[t.zone for t in targets],
    ).chain
    now = SYSTEM_CLOCK.now()
    rows = []
    for target in targets:
        try:
            latest = chain.latest(target, now)
        except NoAnswer:
            latest = None
        forecast = chain.forecast(target, now, args.hours * 3600)
        rows.extend(_rows(target, latest, forecast, now))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(_line(row))
    return 0


def _rows(target: Any, latest: Any, forecast: Any, now: float) -> list[dict[str, Any]]:
    from carbon_aware.engine.timeutil import iso

    current = latest or forecast
    signal = current.signal
    at = float(signal.times[-1]) if latest else float(signal.times[0])
    value = float(signal.values[-1]) if latest else float(signal.values[0])
    if not latest and signal.start <= now < signal.end:
        at, value = now, signal.value_at(now)
    shared = {
        "zone": target.zone,
        "provider": current.provenance.provider,
        "signal_type": current.provenance.signal_type,
        "estimated": current.provenance.estimated,
        "carbon_intensity": round(value, 3),
        "datetime": iso(at),
        "fetched_at": iso(current.provenance.fetched_at),
        "fallbacks": [f"{a.provider}: {a.reason}" for a in (latest or forecast).attempts],
        "forecast_provider": forecast.provenance.provider,
        "forecast_estimated": forecast.provenance.estimated,
        "forecast": [
            {"datetime": iso(t), "carbon_intensity": round(float(v), 3)}
            for t, v in zip(forecast.signal.times, forecast.signal.values, strict=True)
        ],
    }
    return [{"region": region, **shared} for region in target.regions]


def _line(row: dict[str, Any]) -> str:
    points = row["forecast"]
    low = min(points, key=lambda p: p["carbon_intensity"])
    high = max(points, key=lambda p: p["carbon_intensity"])
    label = " (estimated)" if row["estimated"] else ""
    fell_back = f"; fell back past {len(row['fallbacks'])}" if row["fallbacks"] else ""
    return (
        f"{row['region']} [{row['zone']}] {row['carbon_intensity']:g} g/kWh at {row['datetime']} "
        f"from {row['provider']} ({row['signal_type']}){label}{fell_back}; forecast "
        f"{row['forecast_provider']}: {len(points)} points, low {low['carbon_intensity']:g} at "
        f"{low['datetime']}, high {high['carbon_intensity']:g} at {high['datetime']}"
    )


def _backfill(args: argparse.Namespace) -> int:
    if args.forecasts:
        return _backfill_forecasts(args)
    if not args.table:
        raise InputError("--table: required (or --forecasts FILE for historical forecasts)")
    from botocore.exceptions import BotoCoreError, ClientError

    ttl_days = args.observation_ttl_days
    cache = _cache(args.table, DEFAULT_TTL_DAYS if ttl_days is None else ttl_days)
    try:
        if args.create_table:
            _create_table(cache)
        return _backfill_csv(args, cache) if args.signals else _backfill_providers(args, cache)
    except (BotoCoreError, ClientError) as exc:
        raise InputError(f"--table {args.table}: {exc}") from None


def _create_table(cache: Any) -> None:
    from carbon_aware.signals.cache import create_table

    existing = cache.client.list_tables()["TableNames"]
    if cache.table not in existing:
        create_table(cache.client, cache.table)


def _backfill_csv(args: argparse.Namespace, cache: Any) -> int:
    from carbon_aware.cli.inputs import read_signals
    from carbon_aware.signals.catalog import load_catalog
    from carbon_aware.signals.chain import Provenance
    from carbon_aware.signals.clock import SYSTEM_CLOCK
    from carbon_aware.signals.targets import zone_of

    signals = read_signals(args.signals, signal_type=args.signal_type)
    catalog = load_catalog()
    now = SYSTEM_CLOCK.now()
    for key in signals.regions:
        signal = signals[key]
        zone = zone_of(catalog.get(key), args.signal_type) if key in catalog else key
        provenance = Provenance(signal.source, args.signal_type, False, now)
        count = cache.put_observations(zone, signal, provenance)
        print(f"{key}: {count} observations into {zone} ({args.signal_type})")
    return 0


def _backfill_providers(args: argparse.Namespace, cache: Any) -> int:
    from carbon_aware.signals.chain import NoAnswer
    from carbon_aware.signals.clock import SYSTEM_CLOCK
    from carbon_aware.signals.settings import build_providers

    if not 0 < args.days <= 30:
        raise InputError(f"--days: must be more than 0 and at most 30, got {args.days:g}")
    targets = _targets(args.regions, args.signal_type)
    settings = local_settings(os.environ, args.signal_type, args.provider)
    chain = build_providers(settings, clock=SYSTEM_CLOCK).chain
    now = SYSTEM_CLOCK.now()
    failed = 0
    for target in targets:
        try:
            answer = chain.history(target, now, now - args.days * 86400, now)
        except NoAnswer as exc:
            print(f"carbon-aware: {exc.reason}", file=sys.stderr)
            failed += 1
            continue
        count = cache.put_observations(target.zone, answer.signal, answer.provenance)
        print(f"{target.zone}: {count} observations from {answer.provenance.provider}")
    return EXIT_PROVIDER_FAILED if failed else 0


def _backfill_forecasts(args: argparse.Namespace) -> int:
    """Historical forecasts of ``--regions`` over the last ``--days`` into the long CSV."""
    from carbon_aware.cli.forecast_file import write_long_csv
    from carbon_aware.engine.issued import IssuedForecast
    from carbon_aware.signals.clock import SYSTEM_CLOCK
    from carbon_aware.signals.errors import ProviderError
    from carbon_aware.signals.providers.watttime import WattTime
    from carbon_aware.signals.settings import build_providers

    if args.signals:
        raise InputError("--forecasts fetches from a provider: give --regions, not --signals")
    for option in ("table", "create_table", "observation_ttl_days"):
        if getattr(args, option) not in (None, False):
            raise InputError(f"--{option.replace('_', '-')}: not used with --forecasts")
    if args.provider not in (None, "watttime"):
        raise InputError(
            f"--provider {args.provider}: historical forecasts come from watttime only "
            "(Electricity Maps past forecasts: save their forecast JSON and pass it to "
            "`backtest --forecast-file`)"
        )
    if args.signal_type != "marginal":
        raise InputError("--signal-type: historical forecasts come from WattTime: use marginal")
    if not 0 < args.days <= 30:
        raise InputError(f"--days: must be more than 0 and at most 30, got {args.days:g}")
    targets = _targets(args.regions, args.signal_type)
    settings = local_settings(os.environ, args.signal_type, "watttime")
    providers = build_providers(settings, clock=SYSTEM_CLOCK).chain.providers
    watttime = next(p for p in providers if isinstance(p, WattTime))
    now = SYSTEM_CLOCK.now()
    forecasts, failed = [], 0
    for target in targets:
        if not watttime.supports(target):
            print(f"carbon-aware: {target.region}: no WattTime region", file=sys.stderr)
            failed += 1
            continue
        try:
            issued = watttime.forecast_history(target, now - args.days * 86400, now)
        except ProviderError as exc:
            print(f"carbon-aware: {target.zone}: {exc.reason}", file=sys.stderr)
            failed += 1
            continue
        for region in target.regions:
            forecasts += [IssuedForecast(region, f.issued_at, f.signal) for f in issued]
        print(f"{target.zone}: {len(issued)} forecasts for {', '.join(target.regions)}")
    rows = write_long_csv(args.forecasts, forecasts)
    print(f"{args.forecasts}: {rows} rows")
    return EXIT_PROVIDER_FAILED if failed else 0
