"""``carbon-aware fleet``: a fleet's stored state and decisions, and offline plans.

``fleet status --table T --fleet NAME`` reads the fleets table (boto3 honours
``AWS_ENDPOINT_URL`` for a local emulator). ``fleet plan --fleets FILE --fleet NAME --inputs FILE``
runs the optimizer's decision offline: ``--fleets`` is the ``CARBON_AWARE_FLEETS`` JSON, and
``--inputs`` gives per region ``{"carbon_forecast": [g/kWh hourly], "spot_price",
"placement_score", "renewable_share"?, "desired"?, "in_service"?}``; it prints the decision and
the launch-before-drain desired capacities of this run. ``fleet simulate`` runs a fleet over a
year of real carbon data against baselines (:mod:`carbon_aware.cli.fleet_simulate`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from carbon_aware.cli.fleet_simulate import add_simulate_parser
from carbon_aware.cli.inputs import InputError


def add_parser(sub: Any) -> None:
    """Register ``fleet status``, ``fleet plan`` and ``fleet simulate``."""
    fleet = sub.add_parser("fleet", help="spot fleets: state, decisions, offline plans")
    commands = fleet.add_subparsers(dest="fleet_command", required=True, metavar="COMMAND")

    status = commands.add_parser("status", help="a fleet's state and latest decisions")
    status.add_argument("--table", required=True, help="fleets table (DynamoDB)")
    status.add_argument("--fleet", required=True, help="fleet name")
    status.add_argument("--limit", type=int, default=5, help="decisions to show (default 5)")
    status.set_defaults(handler=_status)

    plan = commands.add_parser("plan", help="decide offline on given inputs; prints JSON")
    plan.add_argument("--fleets", required=True, type=Path, help="CARBON_AWARE_FLEETS JSON file")
    plan.add_argument("--fleet", required=True, help="fleet name in that file")
    plan.add_argument("--inputs", required=True, type=Path, help="per-region signals JSON file")
    plan.add_argument("--now", type=float, help="epoch seconds (default: now)")
    plan.add_argument("--last-change-at", type=float, help="epoch seconds of the last change")
    plan.set_defaults(handler=_plan)
    add_simulate_parser(commands)


def _status(args: argparse.Namespace) -> int:
    import boto3

    from carbon_aware.runtime.fleet.repository import FleetRepository

    repo = FleetRepository(boto3.client("dynamodb"), args.table)
    payload = {
        "state": repo.state(args.fleet).to_dict(),
        "decisions": repo.decisions(args.fleet, limit=max(1, args.limit)),
    }
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    return 0


def plan_fleet(fleets: str, name: str, inputs: dict[str, Any], **when: Any) -> dict[str, Any]:
    """The decision and this run's desired capacities for fleet ``name`` on ``inputs``."""
    from carbon_aware.engine.fleet import FleetError
    from carbon_aware.engine.fleet_policy import (
        GroupState,
        RegionSignals,
        apply_plan,
        decide,
    )
    from carbon_aware.runtime.config import ConfigError
    from carbon_aware.runtime.fleet.settings import parse_fleets

    try:
        configs, errors = parse_fleets(fleets)
    except ConfigError as exc:
        raise InputError(f"--fleets: {exc}") from None
    if name in errors:
        raise InputError(errors[name])
    if name not in configs:
        raise InputError(f"--fleet: no fleet {name!r} in --fleets")
    config = configs[name]
    unknown = sorted(set(inputs) - set(config.policy.regions))
    if unknown:
        raise InputError(f"--inputs: regions {unknown} are not in fleet {name}")
    try:
        signals = []
        groups = {}
        for region, raw in inputs.items():
            if not isinstance(raw, dict):
                raise InputError(f"--inputs: {region} must be an object")
            groups[region] = GroupState(
                region, raw.get("desired", 0), raw.get("in_service", raw.get("desired", 0))
            )
            signals.append(
                RegionSignals(
                    region,
                    tuple(raw.get("carbon_forecast", ())),
                    raw.get("spot_price", 0.0),
                    raw.get("placement_score", 5),
                    raw.get("renewable_share"),
                    {"source": "fleet plan --inputs"},
                )
            )
        decision = decide(
            config.policy,
            signals,
            groups,
            total=config.desired_total,
            now=when["now"],
            last_change_at=when.get("last_change_at"),
        )
    except (FleetError, TypeError) as exc:
        raise InputError(f"--inputs: {exc}") from None
    applied = apply_plan(groups, decision.allocation, floors=decision.floors)
    return {**decision.to_dict(), "applied": applied}


def _plan(args: argparse.Namespace) -> int:
    try:
        fleets = args.fleets.read_text()
        inputs = json.loads(args.inputs.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read input: {exc}") from None
    if not isinstance(inputs, dict):
        raise InputError("--inputs must be a JSON object of region -> signals")
    now = time.time() if args.now is None else args.now
    result = plan_fleet(fleets, args.fleet, inputs, now=now, last_change_at=args.last_change_at)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0
