"""``make demo``: the whole runtime on a local AWS emulator, over a few simulated days.

Starts moto in server mode on 127.0.0.1, creates the tables, schedule group, dead-letter queue and
demo targets from the same definitions the Terraform module mirrors, then drives the real Lambda
handlers on a virtual clock: the monitor refreshes carbon data, workloads are submitted through the
API, the scheduler places them, due one-time schedules fire the executor (moto stores schedules but
does not fire them: this driver does), demo targets "run" for their duration, and completion events
record what they emitted. Ends with an HTML report and PNG charts. No AWS account, no API keys.

Besides the API, a quarter of the workloads arrive as "Workload Submitted" events (the intake
function), and four side cases show the runtime's other paths (:data:`SIDE_CASES`): an invalid
event kept on the rejects queue, a Step Functions step waiting for the green window (task token),
a run whose completion event is lost (the watchdog times it out) and a running workload cancelled
through the API (its target is stopped, its grams until then are kept). The side cases are left
out of the savings comparison: they are not whole runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.request import ProxyHandler, Request, build_opener

import numpy as np

from carbon_aware.cli.demo_fleet import (
    FLEET_EVERY,
    FLEET_REGIONS,
    FLEET_TABLE,
    FakePlacementScores,
    FakeSpotPrices,
    FleetTrace,
    InstanceTypeFill,
    provision_fleet,
)
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
#: Every EVENT_EVERY-th workload is submitted as an event through the intake function.
EVENT_EVERY = 4
INTAKE_SOURCE = "demo.pipelines"
#: Side cases, by workload id: what each shows.
SIDE_CASES = {
    "demo-rejected": "an invalid event (unknown Region) kept on the rejects queue with its errors",
    "demo-pipeline": "a Step Functions step waiting for the green window (SendTaskSuccess)",
    "demo-lost": "a run whose completion event is lost: the watchdog times it out",
    "demo-cancelled": "a running workload cancelled through the API: its target is stopped",
    "demo-interruptible": "an interruptible follow_the_sun job on ECS: a Spot interruption in its "
    "first segment, re-planned from its checkpoint and resumed in the other Region",
}
# The interruptible side case runs in two Regions; its first segment is interrupted this long
# after it starts (the demo's ECS tasks write a checkpoint first, as the agent would).
INTERRUPTIBLE_REGIONS = (HOME, "eu-north-1")
INTERRUPT_AFTER = 1800.0


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
    rejects_queue_url: str = ""
    pipeline_execution: str = ""


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
    sqs = boto3.client("sqs", region_name=HOME)
    dlq = sqs.create_queue(QueueName="carbon-aware-dlq")
    rejects = sqs.create_queue(QueueName="carbon-aware-rejected-submissions")
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
            **_checkpointing_job(region),
        }
    stack.rejects_queue_url = rejects["QueueUrl"]
    # A pipeline already running in the home Region, whose next step waits for the green window.
    stack.pipeline_execution = boto3.client("stepfunctions", region_name=HOME).start_execution(
        stateMachineArn=stack.targets[HOME]["stepfunctions"], name="nightly-pipeline"
    )["executionArn"]
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
        config.REJECTS_QUEUE_URL: rejects["QueueUrl"],
        config.SIGNALS_TABLE: "carbon-aware-signals",
        config.CHECKPOINT_BUCKETS: json.dumps({r: _bucket(r) for r in regions}),
        **provision_fleet(HOME),
    }
    return stack


def _bucket(region: str) -> str:
    return f"carbon-aware-checkpoints-{region}"


def _checkpointing_job(region: str) -> dict[str, str]:
    """An ECS cluster and task definition (the interruptible job) and the Region's checkpoint
    bucket; the task definition's and the cluster's ARNs."""
    import boto3

    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    boto3.client("s3", region_name=region).create_bucket(
        Bucket=_bucket(region), CreateBucketConfiguration=location
    )
    ecs = boto3.client("ecs", region_name=region)
    cluster = ecs.create_cluster(clusterName="demo-jobs")["cluster"]["clusterArn"]
    task = ecs.register_task_definition(
        family="demo-checkpointing-job",
        containerDefinitions=[
            {"name": "job", "image": "busybox", "memory": 512, "cpu": 256, "stopTimeout": 120}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    return {"ecs": task, "ecs_cluster": cluster}


@dataclass(frozen=True)
class Submission:
    """One demo submission: when, the API body, the channel (``api`` or ``event``) and, for a
    side case, its key in :data:`SIDE_CASES`."""

    at: float
    body: dict[str, Any]
    channel: str = "api"
    case: str | None = None


def sample_submissions(stack: Stack, count: int, days: int) -> list[Submission]:
    """Deterministic workloads, a quarter of them as events, then the side cases; by time."""
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
        channel = "event" if i % EVENT_EVERY == EVENT_EVERY - 1 else "api"
        jobs.append(Submission(submitted, body, channel))
    jobs.extend(side_cases(stack, start + 86400.0))
    return sorted(jobs, key=lambda j: j.at)


def side_cases(stack: Stack, at: float) -> list[Submission]:
    """The :data:`SIDE_CASES`, submitted at ``at``: each a two-hour job with a day of slack."""

    def body(kind: str, **extra: Any) -> dict[str, Any]:
        return {
            "duration_minutes": 120,
            "deadline": iso(at + 26 * 3600),
            "vcpus": 8,
            "memory_gb": 16,
            "home_region": HOME,
            "regions": [HOME],
            "target": {"type": kind, "arn": stack.targets[HOME][kind]},
            "tags": {"team": "platform", "project": "side-cases"},
            **extra,
        }

    machine = stack.targets[HOME]["stepfunctions"]
    pipeline = {
        "type": "task_token",
        "arn": machine,
        "task_token": "demo-task-token",
        "execution": stack.pipeline_execution,
    }
    interruptible = {
        **body("eventbridge", id="demo-interruptible", duration_minutes=240),
        "regions": list(INTERRUPTIBLE_REGIONS),
        "interruptible": True,
        "min_segment_minutes": 60,
        "strategy": "follow_the_sun",
        "target": {
            "type": "ecs",
            "arn": stack.targets[HOME]["ecs"].replace(HOME, "{region}"),
            "cluster": stack.targets[HOME]["ecs_cluster"].replace(HOME, "{region}"),
            "spot": True,
            "overrides": {"containerOverrides": [{"name": "job"}]},
        },
    }
    return [
        Submission(at, interruptible, "api", "demo-interruptible"),
        Submission(at, body("eventbridge", regions=[HOME, "eu-wset-9"]), "event", "demo-rejected"),
        Submission(at, {**body("stepfunctions"), "target": pipeline}, "event", "demo-pipeline"),
        Submission(at, body("eventbridge", id="demo-lost"), "api", "demo-lost"),
        Submission(at, body("stepfunctions", id="demo-cancelled"), "api", "demo-cancelled"),
    ]


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
        side = driver.side_cases(stack.rejects_queue_url)
        monthly = monthly_report(output_dir, clock.now())
    panels = draw_panels(
        metrics_log,
        [r.to_dict() for r in records],
        output_dir,
        start=to_seconds(START),
        step=MONITOR_EVERY,
    )
    fleet = driver.fleet.summary(driver.scores)
    fleet_chart = driver.fleet.chart(output_dir, to_seconds(START))
    (output_dir / "fleet.json").write_text(json.dumps(fleet, indent=2) + "\n", encoding="utf-8")
    appendix = [
        f"<h2>Spot fleet {fleet['fleet']}</h2><p>The fleet_optimizer function every "
        f"{FLEET_EVERY / 60:.0f} minutes: {fleet['runs']} runs, {fleet['moves']} moves, "
        f"placement-score calls per day {fleet['placement_score_calls_per_day']} (fake scores: "
        f"moto does not implement GetSpotPlacementScores). Each decision accounted the "
        f"interval since the previous run: {fleet['accounted']} intervals, "
        f"{fleet['emissions_g']:.0f} g CO2e emitted, {fleet['saved_g']:.0f} g saved against "
        f"the same instances in {FLEET_REGIONS[0]}, ${fleet['cost_usd']:.2f} of spot (fake "
        "prices: moto answers DescribeSpotPriceHistory with a placeholder).</p>"
        f'<img src="{fleet_chart.name}" alt="fleet capacity per Region against intensity">',
        "<h2>Dashboard panels</h2><p>Drawn from the handlers' recorded EMF metrics "
        "(lambda-metrics.jsonl) and the workload records.</p>"
        + "".join(f'<img src="{p}" alt="dashboard panels">' for p in panels),
        f'<h2>Monthly carbon report</h2><p><a href="{monthly.relative_to(output_dir)}">'
        "Location- and market-based views, valuation, every gram re-verified</a>.</p>",
    ]
    path = report(records, output_dir, days, appendix)
    summary = json.loads((monthly.parent / "summary.json").read_text(encoding="utf-8"))
    fraction = summary["oracle_fraction"]
    for kind, moved in summary["migrations"].items():
        print(
            f"monthly report, migrations {kind}: {moved['outcomes']}, "
            f"{moved['net_g']:.0f} g net of {moved['overhead_g']:.1f} g overhead"
        )
    print(
        f"carbon efficiency (SLI): {'-' if fraction is None else f'{100 * fraction:.1f} %'} of "
        f"the perfect-forecast saving realised over {summary['oracle_workloads']} workloads "
        "(oracles stored by the sweep once each window was observed)"
    )
    report_side_cases(side, driver.events, len(records), output_dir)
    print(
        f"fleet {fleet['fleet']}: {fleet['runs']} optimizer runs, {fleet['moves']} moves, "
        f"capacity {fleet['first']} -> {fleet['last']}, placement-score calls per day "
        f"{fleet['placement_score_calls_per_day']} ({fleet_chart.name})"
    )
    print(
        f"fleet {fleet['fleet']}: {fleet['accounted']} intervals accounted, "
        f"{fleet['emissions_g']:.0f} g emitted, {fleet['saved_g']:.0f} g saved against "
        f"{FLEET_REGIONS[0]} alone, ${fleet['cost_usd']:.2f} of spot (fake prices)"
    )
    return path


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
    write_export(
        [i for i in scan_table(FLEET_TABLE) if str(i["sk"]).startswith("decision#")],
        output_dir / "export",
        FLEET_TABLE,
        day_of=lambda item: to_seconds(parse_iso(str(item["sk"]).removeprefix("decision#"))),
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

    def __init__(self, clock: VirtualClock, submissions: list[Submission]) -> None:
        self.clock = clock
        self.pending = list(submissions)
        self.ids: list[str] = []
        self.cases: dict[str, dict[str, Any]] = {}
        self.events = 0
        self.context = _Context()
        self.fleet = FleetTrace()
        self.scores = FakePlacementScores(clock.now(), clock)

    def run(self, until: float) -> None:
        """Advance in steps until ``until`` and then until every workload has finished."""
        from carbon_aware.runtime import wiring
        from carbon_aware.runtime.handlers import fleet_optimizer, monitor

        self.scores.attach(wiring.client("ec2", HOME))
        for region in FLEET_REGIONS:
            InstanceTypeFill.attach(wiring.client("autoscaling", region))
            FakeSpotPrices(region, self.clock).attach(wiring.client("ec2", region))
        last_sweep = last_monitor = last_fleet = -np.inf
        while self.clock.now() < until or self._live():
            now = self.clock.now()
            if now - last_monitor >= MONITOR_EVERY:
                monitor.handler(TIMER_EVENT, self.context)
                last_monitor = now
            if now - last_fleet >= FLEET_EVERY and now < until:
                self.fleet.add(now, fleet_optimizer.handler(TIMER_EVENT, self.context))
                last_fleet = now
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
        from carbon_aware.runtime.handlers import api, intake, scheduler

        while self.pending and self.pending[0].at <= now:
            job = self.pending.pop(0)
            if job.channel == "event":
                answer = intake.handler(_event(intake.DETAIL_TYPE, job.body, now), self.context)
                self.events += 1
                workload_id = answer.get("workload_id")
            else:
                response = api.handler(_request("POST", "/workloads", job.body), self.context)
                workload_id = json.loads(response["body"]).get("id")
                answer = {"status": response["statusCode"], "body": json.loads(response["body"])}
            if job.case:
                self.cases[job.case] = {"workload_id": workload_id, "answer": answer}
            elif not workload_id:
                raise RuntimeError(f"demo submission rejected: {answer}")
            else:
                self.ids.append(workload_id)
            if workload_id:
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

    def _finish_runs(self, now: float) -> None:
        """Targets end: completion events for runs that are over (the lost one's never comes);
        the side case to cancel is cancelled through the API half-way through its run."""
        from carbon_aware.runtime import wiring
        from carbon_aware.runtime.handlers import api, completion
        from carbon_aware.runtime.states import State

        lost = self.cases.get("demo-lost", {}).get("workload_id")
        cancelled = self.cases.get("demo-cancelled", {}).get("workload_id")
        pipeline = self.cases.get("demo-pipeline", {}).get("workload_id")
        for record in wiring.repository().due(State.RUNNING):
            if record.segments is not None:
                self._segment_runs(record, now)
                continue
            started = record.dispatch["started_at"]
            end = started + record.spec["duration_minutes"] * 60.0
            if record.workload_id == cancelled and now >= (started + end) / 2:
                path = f"/workloads/{record.workload_id}"
                self.cases["demo-cancelled"]["answer"] = api.handler(
                    _request("DELETE", path), self.context
                )["statusCode"]
            elif end > now or record.workload_id == lost:
                continue
            elif record.workload_id == pipeline:
                completion.handler(_pipeline_finished(record, end), self.context)
            else:
                completion.handler(_finished(record.workload_id, started, end), self.context)

    def _segment_runs(self, record: Any, now: float) -> None:
        """The checkpointing ECS job: checkpoints and exits 75 when stopped at a segment's end,
        is interrupted (Fargate Spot) half an hour into its first segment, exits 0 when done."""
        from carbon_aware.runtime.handlers import completion

        index = record.segments["current"]
        run = record.segments["runs"][index]
        started = run["started_at"]
        if index == 0 and now >= started + INTERRUPT_AFTER:
            exit_code, stop_code = 75, "SpotInterruption"
        elif "stop_requested_at" in run:
            exit_code, stop_code = 75, "UserInitiated"
        elif index == len(record.segments["runs"]) - 1 and now >= started + (
            run["end_epoch"] - run["start_epoch"]
        ):
            exit_code, stop_code = 0, "EssentialContainerExited"
        else:
            return
        if exit_code == 75:
            _write_checkpoint(record.workload_id, run["region"], index + 1, now)
        event = _ecs_stopped(record.workload_id, run, now, exit_code, stop_code)
        completion.handler(event, self.context)

    def _sweep(self) -> None:
        from carbon_aware.runtime.handlers import scheduler

        scheduler.handler(TIMER_EVENT, self.context)

    def _live(self) -> bool:
        """Work is left, or a finished workload still waits for its window to be observed (the
        sweep then stores its oracle: the carbon-efficiency SLI)."""
        from carbon_aware.runtime import wiring
        from carbon_aware.runtime.states import LIVE
        from carbon_aware.runtime.tables import AWAITING_ORACLE

        repo = wiring.repository()
        waiting = (*LIVE, AWAITING_ORACLE)
        return bool(self.pending) or any(next(iter(repo.due_items(s)), None) for s in waiting)

    def records(self) -> list[Any]:
        """Every demo workload as stored (side cases apart)."""
        from carbon_aware.runtime import wiring

        return [wiring.repository().get(i) for i in self.ids]

    def side_cases(self, rejects_queue_url: str) -> list[dict[str, Any]]:
        """What became of each side case: its record, or for the rejected event what the
        rejects queue holds."""
        from carbon_aware.runtime import wiring

        outcomes = []
        for case, what in SIDE_CASES.items():
            seen = self.cases.get(case, {})
            outcome: dict[str, Any] = {"case": case, "shows": what}
            if seen.get("workload_id"):
                record = wiring.repository().get(seen["workload_id"])
                outcome.update(record=record, status=str(record.status))
            else:
                kept = (
                    wiring.client("sqs")
                    .receive_message(QueueUrl=rejects_queue_url, MaxNumberOfMessages=10)
                    .get("Messages", [])
                )
                errors = [e for m in kept for e in json.loads(m["Body"]).get("errors", [])]
                outcome.update(status="REJECTED", errors=errors)
            outcomes.append(outcome)
        return outcomes


def _request(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
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
                "method": method,
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
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def _event(detail_type: str, detail: dict[str, Any], at: float) -> dict[str, Any]:
    """An event as EventBridge delivers it to a rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(detail, sort_keys=True))),
        "detail-type": detail_type,
        "source": INTAKE_SOURCE,
        "account": "123456789012",
        "time": iso(at),
        "region": HOME,
        "resources": [],
        "detail": detail,
    }


def _pipeline_finished(record: Any, ended: float) -> dict[str, Any]:
    """The waiting pipeline's own Step Functions Execution Status Change when it ends."""
    execution = record.spec["target"]["execution"]
    machine = execution.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    return _event(
        "Step Functions Execution Status Change",
        {
            "executionArn": execution,
            "stateMachineArn": machine,
            "name": execution.rsplit(":", 1)[1],
            "status": "SUCCEEDED",
            "startDate": int((record.dispatch["started_at"] - 3600) * 1000),
            "stopDate": int(ended * 1000),
            "input": "{}",
            "output": "{}",
        },
        ended,
    ) | {"source": "aws.states", "resources": [execution]}


def _write_checkpoint(workload_id: str, region: str, sequence: int, at: float) -> None:
    """What carbon_aware.agent writes: the checkpoint object, then the manifest."""
    from carbon_aware.runtime import wiring

    s3 = wiring.client("s3", region)
    body = json.dumps({"step": sequence}).encode()
    key = f"checkpoints/{workload_id}/{sequence:08d}.ckpt"
    s3.put_object(Bucket=_bucket(region), Key=key, Body=body)
    manifest = {
        "sequence": sequence,
        "key": key,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "written_at": iso(at),
        "progress": sequence,
    }
    s3.put_object(
        Bucket=_bucket(region),
        Key=f"checkpoints/{workload_id}/latest.json",
        Body=json.dumps(manifest).encode(),
    )


def _ecs_stopped(
    workload_id: str, run: dict[str, Any], ended: float, exit_code: int, stop_code: str
) -> dict[str, Any]:
    """The ECS Task State Change of the segment's task stopping."""
    return _event(
        "ECS Task State Change",
        {
            "taskArn": run["handle"],
            "startedBy": f"carbon-aware-{workload_id}",
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "startedAt": iso(run["started_at"]),
            "stoppedAt": iso(ended),
            "stopCode": stop_code,
            "stoppedReason": stop_code,
            "containers": [{"name": "job", "exitCode": exit_code, "lastStatus": "STOPPED"}],
        },
        ended,
    ) | {"source": "aws.ecs", "region": run["region"], "resources": [run["handle"]]}


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


def report_side_cases(
    outcomes: list[dict[str, Any]], events: int, workloads: int, output_dir: Path
) -> None:
    """Print what became of each side case and keep them in ``side_cases.json``."""
    print(f"intake: {events} of {workloads + len(outcomes)} submissions arrived as events")
    for outcome in outcomes:
        record = outcome.pop("record", None)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in outcome.get("errors", []))
        if record is not None:
            result = record.result or {}
            reason = record.history[-1].get("reason") if record.history else None
            grams = result.get("emissions_g")
            detail = ", ".join(
                part
                for part in (
                    _segment_path(record)
                    if record.segments
                    else f"ran in {record.dispatch.get('region')}"
                    if record.dispatch
                    else "",
                    f"{grams:.1f} g recorded" if grams is not None else "",
                    "end assumed (never reported)" if result.get("ended_at_estimated") else "",
                    reason or "",
                )
                if part
            )
            outcome.update(workload_id=record.workload_id, result=result, reason=reason)
        print(f"  {outcome['case']}: {outcome['status']} ({detail}) — {outcome['shows']}")
    (output_dir / "side_cases.json").write_text(
        json.dumps(outcomes, indent=2, default=str) + "\n", encoding="utf-8"
    )


def _segment_path(record: Any) -> str:
    """``segments: eu-west-1 interrupted -> eu-north-1 done``, and the checkpoints carried."""
    runs = [r for r in record.segments["runs"] if r["state"] != "scheduled"]
    path = " -> ".join(f"{r['region']} {r['state']}" for r in runs)
    carried = sum(bool(r.get("resume_from")) for r in runs)
    return f"segments: {path}; resumed from a checkpoint {carried}x"


def report(records: list[Any], output_dir: Path, days: int, appendix: list[str]) -> Path:
    """Summary table on stdout, workloads JSON, and the HTML report with charts."""
    from carbon_aware.cli.report import write_report
    from carbon_aware.runtime.submission import workload_of
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
        outcomes.append(
            JobOutcome(
                workload,
                placement,
                result.get("emissions_g"),
                result.get("baseline_g"),
                result.get("oracle_g", result.get("emissions_g")),  # stored by the sweep
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
