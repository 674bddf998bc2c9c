"""``carbon-aware migrations``: list, start (dry run first), watch and cancel migrations.

A thin front-end on the migrations table (``--table``, else ``CARBON_AWARE_MIGRATIONS_TABLE``;
boto3 honours ``AWS_ENDPOINT_URL`` for a local emulator). ``start`` reads the same environment
as the migrations function (``CARBON_AWARE_FLEETS`` and ``CARBON_AWARE_FLEET_TABLE`` for
drain_and_shift, the workload settings for checkpoint_restore, ``CARBON_AWARE_MIGRATION_SERVICES``
for blue_green), always validates first and only
starts when the dry run finds nothing wrong (``--dry-run`` stops there). The migrations function
steps what was started; ``watch --step`` steps it from here instead (an emulator has no
schedule).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from carbon_aware.cli.inputs import InputError

FINAL = {"completed", "rolled_back", "failed", "cancelled"}


def add_parser(sub: Any) -> None:
    """Register ``migrations list|start|watch|cancel``."""
    migrations = sub.add_parser("migrations", help="migrations between regions")
    migrations.add_argument(
        "--table", help="migrations table (default $CARBON_AWARE_MIGRATIONS_TABLE)"
    )
    commands = migrations.add_subparsers(
        dest="migrations_command", required=True, metavar="COMMAND"
    )

    listed = commands.add_parser("list", help="newest migrations first")
    listed.add_argument("--limit", type=int, default=20, help="how many (1..100, default 20)")
    listed.set_defaults(handler=_list)

    start = commands.add_parser("start", help="validate, then start a migration")
    start.add_argument(
        "--kind", required=True, choices=["drain_and_shift", "checkpoint_restore", "blue_green"]
    )
    start.add_argument("--fleet", help="drain_and_shift: the fleet")
    start.add_argument("--source", help="drain_and_shift, blue_green: the region to drain")
    start.add_argument("--count", type=int, help="drain_and_shift: instances to move")
    start.add_argument("--workload-id", help="checkpoint_restore: the running workload")
    start.add_argument("--service", help="blue_green: the service (var.migrations.services)")
    start.add_argument(
        "--healthy-checks",
        type=int,
        help="blue_green: consecutive healthy checks of the target before the shift (default 3)",
    )
    start.add_argument(
        "--traffic-steps",
        help="blue_green: percents on the target, e.g. 10,50,100 (the default); ends at 100",
    )
    start.add_argument(
        "--step-wait-seconds", type=float, help="blue_green: seconds between steps (default 60)"
    )
    start.add_argument(
        "--deregistration-delay-seconds",
        type=float,
        help="blue_green: seconds after the last step before the source drains (default 300)",
    )
    start.add_argument("--target", required=True, help="the region to move to")
    start.add_argument(
        "--basis", help="JSON: source_g_per_kwh, target_g_per_kwh, power_watts, hours"
    )
    start.add_argument("--dry-run", action="store_true", help="validate only; start nothing")
    start.set_defaults(handler=_start)

    watch = commands.add_parser("watch", help="follow a migration until it ends")
    watch.add_argument("migration_id")
    watch.add_argument("--interval", type=float, default=5.0, help="seconds between looks")
    watch.add_argument("--step", action="store_true", help="step it from here (emulators)")
    watch.set_defaults(handler=_watch)

    cancel = commands.add_parser("cancel", help="cancel (or roll back) a migration")
    cancel.add_argument("migration_id")
    cancel.set_defaults(handler=_cancel)


def request_of(args: argparse.Namespace) -> dict[str, Any]:
    """The start request the flags describe (only the flags given)."""
    fields = {
        "kind": args.kind,
        "fleet": args.fleet,
        "source": args.source,
        "count": args.count,
        "workload_id": args.workload_id,
        "target": args.target,
        "service": args.service,
        "healthy_checks": args.healthy_checks,
        "step_wait_seconds": args.step_wait_seconds,
        "deregistration_delay_seconds": args.deregistration_delay_seconds,
    }
    request = {k: v for k, v in fields.items() if v is not None}
    if args.traffic_steps:
        try:
            request["traffic_steps"] = [int(s) for s in args.traffic_steps.split(",")]
        except ValueError:
            raise InputError("--traffic-steps must be comma-separated integers") from None
    if args.basis:
        try:
            request["basis"] = json.loads(args.basis)
        except ValueError as exc:
            raise InputError(f"--basis must be JSON: {exc}") from None
    return request


def _orchestrator(args: argparse.Namespace) -> Any:
    from carbon_aware.runtime import wiring
    from carbon_aware.runtime.migrations.settings import MIGRATIONS_TABLE

    if args.table:
        os.environ[MIGRATIONS_TABLE] = args.table
        wiring.reset()
    return wiring.migrations()


def _print(payload: object) -> None:
    print(json.dumps(payload, indent=2, sort_keys=True, default=str))


def _list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 100:
        raise InputError("--limit must be in 1..100")
    rows = _orchestrator(args).repo.recent(args.limit)
    _print([{k: m.to_dict()[k] for k in ("id", "kind", "subject", "state", "grams")} for m in rows])
    return 0


def _start(args: argparse.Namespace) -> int:
    from carbon_aware.runtime.migrations.orchestrator import AlreadyMigrating
    from carbon_aware.runtime.migrations.strategies import SpecError

    orchestrator, request, now = _orchestrator(args), request_of(args), time.time()
    try:
        plan = orchestrator.start(request, now, dry_run=True)
        _print(plan)
        if args.dry_run or not plan["ok"]:
            return 0 if plan["ok"] else 1
        _print(orchestrator.start(request, now))
    except SpecError as exc:
        raise InputError(str(exc)) from None
    except AlreadyMigrating as exc:
        print(str(exc))
        return 1
    return 0


def _watch(args: argparse.Namespace) -> int:
    orchestrator, seen = _orchestrator(args), None
    while True:
        m = orchestrator.repo.get(args.migration_id)
        if m is None:
            raise InputError(f"no migration {args.migration_id}")
        if m.state != seen:
            print(f"{m.state}: {m.reason or ''}")
            seen = m.state
        if str(m.state) in FINAL:
            _print({"state": str(m.state), "grams": m.grams})
            return 0 if str(m.state) == "completed" else 1
        if args.step:
            orchestrator.run(args.migration_id, time.time())
        time.sleep(args.interval)


def _cancel(args: argparse.Namespace) -> int:
    from carbon_aware.runtime.migrations.orchestrator import CannotCancel

    try:
        _print(_orchestrator(args).cancel(args.migration_id, time.time()).to_dict())
    except KeyError:
        raise InputError(f"no migration {args.migration_id}") from None
    except CannotCancel as exc:
        print(str(exc))
        return 1
    return 0
