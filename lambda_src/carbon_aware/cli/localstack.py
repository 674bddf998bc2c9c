"""``make demo``: the whole runtime on a local AWS emulator, over a few simulated days.

Starts moto in server mode on 127.0.0.1, creates the tables, schedule group, dead-letter queue and
demo targets from the same definitions the Terraform module mirrors, then drives the real Lambda
handlers on a virtual clock: the monitor refreshes carbon data, workloads are submitted through the
API, the scheduler places them, due one-time schedules fire the executor (moto stores schedules but
does not fire them: this driver does), demo targets "run" for their duration, and completion events
record what they emitted. Ends with an HTML report and PNG charts. No AWS account, no API keys.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import ProxyHandler, Request, build_opener

import numpy as np

from carbon_aware.cli.panels import draw_panels
from carbon_aware.engine import Placement, Segment, SignalSet
from carbon_aware.engine.backtest import BacktestResult, JobOutcome
from carbon_aware.engine.timeutil import iso, parse_iso, to_seconds

HOME = "eu-west-1"
REGIONS = ("eu-west-1", "eu-central-1", "eu-north-1", "us-east-1", "us-west-2")
START = datetime(2025, 6, 2, tzinfo=UTC)
STEP = 600.0
SWEEP_EVERY = 3600.0
MONITOR_EVERY = 3600.0
SEED = 7
TIMER_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event"}
STRATEGY_MIX = ("combined", "time_shift", "location_shift", "carbon_first", "carbon_time")
TEAMS = ("analytics", "ml-training", "platform")
# Illustrative renewable coverage (RECs/PPAs) and carbon price for the demo's monthly report.
DEMO_COVERAGE = {"eu-north-1": 0.9, "eu-west-1": {"2025-06": 0.5, "default": 0.4}, "us-west-2": 0.3}
DEMO_PRICE_PER_TONNE = 80.0


class VirtualClock:
    """The demo's time: it moves only when the driver says so."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        """Virtual POSIX seconds."""
        return self.t

    def sleep(self, seconds: float) -> None:
        """Sleeping advances virtual time."""
        self.t += max(0.0, seconds)


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free 127.0.0.1 port, stopped on exit."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        yield endpoint
    finally:
        # moto's backends live in this process: reset them so another run starts empty.
        direct = build_opener(ProxyHandler({}))  # loopback: never through a proxy
        direct.open(Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30).close()
        server.stop()


@dataclass
class Stack:
    """What was provisioned in the emulator."""

    env: dict[str, str]
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)


def provision(regions: tuple[str, ...]) -> Stack:
    """Tables, schedule group, DLQ, IAM role and demo targets; returns handler environment."""
    import boto3

    from carbon_aware.runtime import config
    from carbon_aware.runtime.tables import IDEMPOTENCY_TABLE, WORKLOADS_TABLE
    from carbon_aware.signals.cache import create_table

    ddb = boto3.client("dynamodb", region_name=HOME)
    ddb.create_table(TableName="carbon-aware-workloads", **WORKLOADS_TABLE)
    ddb.create_table(TableName="carbon-aware-idempotency", **IDEMPOTENCY_TABLE)
    create_table(ddb, "carbon-aware-signals")
    role = boto3.client("iam", region_name=HOME).create_role(
        RoleName="carbon-aware-scheduler", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    boto3.client("scheduler", region_name=HOME).create_schedule_group(Name="carbon-aware")
    dlq = boto3.client("sqs", region_name=HOME).create_queue(QueueName="carbon-aware-dlq")
    stack = Stack(env={})
    for region in regions:
        bus = boto3.client("events", region_name=region).create_event_bus(Name="demo-jobs")
        machine = boto3.client("stepfunctions", region_name=region).create_state_machine(
            name="demo-job",
            definition=json.dumps(
                {"StartAt": "Run", "States": {"Run": {"Type": "Pass", "End": True}}}
            ),
            roleArn=role,
        )
        stack.targets[region] = {
            "eventbridge": bus["EventBusArn"],
            "stepfunctions": machine["stateMachineArn"],
        }
    allow = [arn for kinds in stack.targets.values() for arn in kinds.values()]
    stack.env = {
        config.WORKLOADS_TABLE: "carbon-aware-workloads",
        config.IDEMPOTENCY_TABLE: "carbon-aware-idempotency",
        config.REGIONS: ",".join(regions),
        config.HOME_REGION: HOME,
        config.SCHEDULE_GROUP: "carbon-aware",
        config.SCHEDULER_ROLE_ARN: role,
        config.EXECUTOR_ARN: f"arn:aws:lambda:{HOME}:123456789012:function:carbon-aware-executor",
        config.TARGET_ALLOWLIST: json.dumps(allow),
        config.DEAD_LETTER_QUEUE_URL: dlq["QueueUrl"],
        config.SIGNALS_TABLE: "carbon-aware-signals",
    }
    return stack


def sample_submissions(stack: Stack, count: int, days: int) -> list[tuple[float, dict[str, Any]]]:
    """Deterministic workloads: (submit time, API body)."""
    rng = np.random.default_rng(SEED)
    start = to_seconds(START)
    jobs = []
    for i in range(count):
        submitted = start + float(rng.uniform(0, max(1, days - 1) * 86400.0))
        duration = float(rng.choice([30, 60, 120, 240]))
        slack_hours = float(rng.choice([6, 12, 24]))
        home = str(rng.choice(REGIONS))
        allowed = sorted({home, *rng.choice(REGIONS, size=2, replace=False).tolist()})
        kind = "stepfunctions" if i % 2 else "eventbridge"
        arn = stack.targets[HOME][kind].replace(HOME, "{region}")
        body = {
            "id": f"demo-{i:03d}",
            "duration_minutes": duration,
            "deadline": iso(submitted + duration * 60 + slack_hours * 3600),
            "home_region": home,
            "regions": allowed,
            "vcpus": int(rng.choice([4, 8, 16, 32])),
            "memory_gb": int(rng.choice([8, 16, 64])),
            "strategy": STRATEGY_MIX[i % len(STRATEGY_MIX)],
            "target": {"type": kind, "arn": arn},
            "tags": {"team": TEAMS[i % len(TEAMS)], "project": f"demo-{i % 4}"},
        }
        jobs.append((submitted, body))
    return sorted(jobs, key=lambda j: j[0])


def run_local_demo(output_dir: Path, *, days: int = 3, workloads: int = 40) -> Path:
    """Run the simulation; prints a summary and returns the report path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    clock = VirtualClock(to_seconds(START))
    with local_aws(clock) as stack:
        driver = Driver(clock, sample_submissions(stack, workloads, days))
        # The handlers' EMF metrics go to a file, as CloudWatch Logs would keep them.
        metrics_log = output_dir / "lambda-metrics.jsonl"
        with metrics_log.open("w") as emf, redirect_stdout(emf), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="No application metrics")
            driver.run(to_seconds(START) + days * 86400.0)
        records = driver.records()
        monthly = monthly_report(output_dir, clock.now())
    panels = draw_panels(
        metrics_log,
        [r.to_dict() for r in records],
        output_dir,
        start=to_seconds(START),
        step=MONITOR_EVERY,
    )
    appendix = [
        "<h2>Dashboard panels</h2><p>Drawn from the handlers' recorded EMF metrics "
        "(lambda-metrics.jsonl) and the workload records.</p>"
        + "".join(f'<img src="{p}" alt="dashboard panels">' for p in panels),
        f'<h2>Monthly carbon report</h2><p><a href="{monthly.relative_to(output_dir)}">'
        "Location- and market-based views, valuation, every gram re-verified</a>.</p>",
    ]
    return report(records, output_dir, days, appendix)


def monthly_report(output_dir: Path, now: float) -> Path:
    """Export the workloads table as the exporter lays it out (``export/``), then the monthly
    carbon report of the demo's month from that export, every gram recomputed from the stored
    intensities of the signals table (``monthly/``); returns the report's path. Raises
    RuntimeError when the report fails or a gram does not recompute."""
    from carbon_aware.cli.export import scan_table, write_export
    from carbon_aware.cli.main import main

    table = "carbon-aware-workloads"
    write_export(
        scan_table(table),
        output_dir / "export",
        table,
        day_of=lambda item: float(item["updated_at"]),
        exported_at=now,
    )
    coverage = output_dir / "coverage.json"
    coverage.write_text(json.dumps(DEMO_COVERAGE, indent=2) + "\n", encoding="utf-8")
    first = START.date().replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    code = main(
        [
            "report",
            f"--from={first}",
            f"--to={last}",
            f"--export={output_dir / 'export'}",
            f"--table={table}",
            f"--out={output_dir / 'monthly'}",
            f"--coverage={coverage}",
            f"--price-per-tonne={DEMO_PRICE_PER_TONNE}",
            "--verify",
            "--signals-table=carbon-aware-signals",
        ]
    )
    if code != 0:
        raise RuntimeError(f"the monthly report failed (exit code {code})")
    return output_dir / "monthly" / "report.html"


@contextmanager
def local_aws(clock: VirtualClock) -> Iterator[Stack]:
    """The emulator provisioned, the handlers configured for it and on ``clock``; afterwards the
    server is stopped and the process environment is as it was."""
    from carbon_aware.runtime import wiring

    saved = dict(os.environ)
    with moto_server() as endpoint:
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_REGION": HOME,
                "AWS_DEFAULT_REGION": HOME,
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "CarbonAwareDemo",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        try:
            stack = provision(REGIONS)
            os.environ.update(stack.env)
            wiring.reset(clock)
            yield stack
        finally:
            wiring.reset()
            os.environ.clear()
            os.environ.update(saved)


@dataclass
class _Context:
    function_name: str = "demo"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{HOME}:123456789012:function:demo"
    aws_request_id: str = "demo"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


class Driver:
    """Moves virtual time and plays the parts AWS would: schedules firing, targets finishing."""

    def __init__(
        self, clock: VirtualClock, submissions: list[tuple[float, dict[str, Any]]]
    ) -> None:
        self.clock = clock
        self.pending = list(submissions)
        self.ids: list[str] = []
        self.context = _Context()

    def run(self, until: float) -> None:
        """Advance in steps until ``until`` and then until every workload has finished."""
        from carbon_aware.runtime.handlers import monitor

        last_sweep = last_monitor = -np.inf
        while self.clock.now() < until or self._live():
            now = self.clock.now()
            if now - last_monitor >= MONITOR_EVERY:
                monitor.handler(
                    {"source": "aws.events", "detail-type": "Scheduled Event"}, self.context
                )
                last_monitor = now
            self._submit(now)
            self._fire_schedules(now)
            self._finish_runs(now)
            if now - last_sweep >= SWEEP_EVERY:
                self._sweep()
                last_sweep = now
            self.clock.t = now + STEP
            if self.clock.now() > until + 3 * 86400:
                break

    def _submit(self, now: float) -> None:
        from carbon_aware.runtime.handlers import api, scheduler

        while self.pending and self.pending[0][0] <= now:
            _, body = self.pending.pop(0)
            response = api.handler(_post("/workloads", body), self.context)
            if response["statusCode"] != 201:
                raise RuntimeError(f"demo submission rejected: {response['body']}")
            workload_id = json.loads(response["body"])["id"]
            self.ids.append(workload_id)
            scheduler.handler({"workload_id": workload_id}, self.context)

    def _fire_schedules(self, now: float) -> float | None:
        """Invoke the executor for every due schedule; returns the next schedule's time."""
        from carbon_aware.runtime import wiring
        from carbon_aware.runtime.handlers import executor

        client = wiring.client("scheduler")
        group = wiring.settings().schedule_group
        upcoming = []
        for item in client.list_schedules(GroupName=group).get("Schedules", []):
            schedule = client.get_schedule(Name=item["Name"], GroupName=group)
            at = to_seconds(parse_iso(schedule["ScheduleExpression"][3:-1]))
            if at <= now:
                executor.handler(json.loads(schedule["Target"]["Input"]), self.context)
                client.delete_schedule(Name=item["Name"], GroupName=group)  # ActionAfterCompletion
            else:
                upcoming.append(at)
        return min(upcoming, default=None)

    def _finish_runs(self, now: float) -> float | None:
        """Send completion events for runs that are over; returns the next run's end."""
        from carbon_aware.runtime import wiring
        from carbon_aware.runtime.handlers import completion
        from carbon_aware.runtime.states import State

        upcoming = []
        for record in wiring.repository().due(State.RUNNING):
            started = record.dispatch["started_at"]
            end = started + record.spec["duration_minutes"] * 60.0
            if end <= now:
                completion.handler(_finished(record.workload_id, started, end), self.context)
            else:
                upcoming.append(end)
        return min(upcoming, default=None)

    def _sweep(self) -> None:
        from carbon_aware.runtime.handlers import scheduler

        scheduler.handler(TIMER_EVENT, self.context)

    def _live(self) -> bool:
        from carbon_aware.runtime import wiring
        from carbon_aware.runtime.states import LIVE

        repo = wiring.repository()
        return bool(self.pending) or any(next(iter(repo.due(s)), None) for s in LIVE)

    def records(self) -> list[Any]:
        """Every demo workload as stored."""
        from carbon_aware.runtime import wiring

        return [wiring.repository().get(i) for i in self.ids]


def _post(path: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "demo",
            "domainName": "localhost",
            "domainPrefix": "demo",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "demo",
            },
            "requestId": "demo",
            "routeKey": "$default",
            "stage": "$default",
            "time": "02/Jun/2025:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _finished(workload_id: str, started: float, ended: float) -> dict[str, Any]:
    return {
        "source": "carbon-aware",
        "detail-type": "Workload Completed",
        "detail": {
            "workload_id": workload_id,
            "status": "SUCCEEDED",
            "started_at": iso(started),
            "ended_at": iso(ended),
        },
    }


def report(records: list[Any], output_dir: Path, days: int, appendix: list[str]) -> Path:
    """Summary table on stdout, workloads JSON, and the HTML report with charts."""
    from carbon_aware.cli.report import write_report
    from carbon_aware.runtime.submission import strategy_of, workload_of
    from carbon_aware.signals.profiles import profile_signal

    start = to_seconds(START)
    actual = SignalSet.of(
        profile_signal(r, start - 86400, start + (days + 4) * 86400) for r in REGIONS
    )
    outcomes = []
    for record in records:
        workload = workload_of(record.spec)
        result = record.result or {}
        segments = tuple(
            Segment(s["region"], s["start_epoch"], s["end_epoch"])
            for s in (record.decision or {}).get("segments", [])
        )
        placement = Placement(
            record.workload_id,
            (record.decision or {}).get("strategy", "?"),
            "placed" if "emissions_g" in result else "infeasible",
            segments,
            result.get("emissions_g"),
            reason=None if "emissions_g" in result else str(record.status),
        )
        oracle = strategy_of(record.spec).place(workload, actual)
        outcomes.append(
            JobOutcome(
                workload,
                placement,
                result.get("emissions_g"),
                result.get("baseline_g"),
                oracle.emissions_g if oracle.placed else result.get("emissions_g"),
            )
        )
    summary = BacktestResult("mixed", "demo cache", tuple(outcomes))
    (output_dir / "workloads.json").write_text(
        json.dumps([r.to_dict() for r in records], indent=2, default=str) + "\n", encoding="utf-8"
    )
    s = summary.summary()
    states: dict[str, int] = {}
    for record in records:
        states[str(record.status)] = states.get(str(record.status), 0) + 1
    print(
        f"local stack: {len(records)} workloads over {days} simulated days in {', '.join(REGIONS)}"
    )
    print(f"final states: {', '.join(f'{k} {v}' for k, v in sorted(states.items()))}")
    print(
        f"emissions: {s['placed_g'] / 1000:.2f} kgCO2e vs baseline {s['baseline_g'] / 1000:.2f} kg "
        f"(saved {s['savings_pct']}%; oracle {s['oracle_savings_pct']}%)"
    )
    return write_report(summary, actual, output_dir / "report.html", appendix)
