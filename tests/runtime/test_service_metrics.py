"""The service metrics the alarms and SLOs read, as the handlers print them (EMF on stdout)."""

from __future__ import annotations

import json
import time

import pytest
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context, http, stored_spec, submission, submit
from tests.runtime.test_monitor import metrics_of

from carbon_aware.runtime import wiring
from carbon_aware.runtime.handlers import api, executor, scheduler
from carbon_aware.runtime.service_metrics import dispatch_outcome
from carbon_aware.runtime.states import State

HOUR = 3600.0


def emitted(capsys: pytest.CaptureFixture) -> dict[str, float]:
    return {name: values[0][0] for name, values in metrics_of(capsys.readouterr().out).items()}


def test_plan_and_dispatch_emit_decisions_and_the_dispatch_sli(
    aws: AwsEnv, capsys: pytest.CaptureFixture
) -> None:
    status, body = submit(submission(aws.targets[HOME]["lambda"], regions=[HOME]))
    assert status == 201, body
    capsys.readouterr()
    scheduler.handler({"workload_id": body["id"]}, Context())
    planned = emitted(capsys)
    # No carbon cache: the plan is made on the built-in profiles, an estimate.
    assert planned["Decisions"] == 1 and planned["DecisionsOnEstimates"] == 1
    record = json.loads(api.handler(http("GET", f"/workloads/{body['id']}"), Context())["body"])
    executor.handler({"workload_id": body["id"], "version": record["version"]}, Context())
    dispatched = emitted(capsys)
    assert dispatched["DispatchWindowMet"] == dispatched["DispatchWindowTotal"] == 1
    assert dispatched["DispatchLatencySeconds"] >= 0


def test_the_sweep_reports_how_long_the_oldest_due_workload_waited(
    aws: AwsEnv, capsys: pytest.CaptureFixture
) -> None:
    now = time.time()
    spec = stored_spec(aws.targets[HOME]["lambda"], "late")
    wiring.repository().create("late", spec, now - HOUR)  # due an hour ago, never planned
    capsys.readouterr()
    counts = scheduler.handler({}, Context())["sweep"]
    metrics = emitted(capsys)
    assert metrics["DueIndexLagSeconds"] == pytest.approx(HOUR, abs=60)
    assert metrics["StuckWorkloads"] == 0 and "Sweep_due_lag_seconds" not in metrics
    assert counts["due_lag_seconds"] == round(metrics["DueIndexLagSeconds"])
    capsys.readouterr()
    scheduler.handler({}, Context())  # planned now: nothing waits
    assert emitted(capsys)["DueIndexLagSeconds"] == 0


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        (State.RUNNING, {"DispatchWindowMet": 1, "DispatchWindowTotal": 1}),
        (State.EXPIRED, {"DispatchWindowMet": 0, "DispatchWindowTotal": 1}),
        (State.FAILED, {"DispatchWindowMet": 0, "DispatchWindowTotal": 1}),
        (State.SCHEDULED, {}),
    ],
)
def test_a_missed_window_counts_against_dispatch_availability(status, counts) -> None:
    assert dispatch_outcome(status) == counts
