"""Nothing stays RUNNING: past its expected end the sweeper asks the target or times the run out,
and cancelling a running workload stops its target and records its grams (moto targets)."""

from __future__ import annotations

import json

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, http, submission, submit

from carbon_aware.runtime import config, watchdog, wiring
from carbon_aware.runtime.handlers import api, executor, scheduler
from carbon_aware.runtime.repository import WorkloadRecord
from carbon_aware.runtime.runs import STOP_REASON
from carbon_aware.runtime.states import State
from fakes.clock import FakeClock

GRACE = 3600.0  # the defaults: CARBON_AWARE_RUNNING_GRACE_SECONDS
TIMEOUT = 21600.0  # and CARBON_AWARE_RUN_TIMEOUT_SECONDS


def running(env: AwsEnv, kind: str, region: str = HOME) -> WorkloadRecord:
    """A one-hour workload of ``kind`` in ``region``, dispatched through the handlers."""
    body = submission(env.targets[region][kind], home_region=region, regions=[region])
    status, body = submit(body)
    assert status == 201, body
    scheduler.handler({"workload_id": body["id"]}, Context())
    record = wiring.repository().get(body["id"])
    executor.handler({"workload_id": record.workload_id, "version": record.version}, Context())
    record = wiring.repository().get(body["id"])
    assert (record.status, record.dispatch["region"]) == (State.RUNNING, region)
    assert record.dispatch["expected_end"] == record.dispatch["started_at"] + 3600
    assert record.due_at == record.dispatch["expected_end"] + GRACE
    return record


def sweep_at(now: float) -> dict[str, int]:
    wiring.reset(FakeClock(now))
    return scheduler.handler({}, Context())["sweep"]


def reread(record: WorkloadRecord) -> WorkloadRecord:
    return wiring.repository().get(record.workload_id)


def test_a_run_before_its_grace_is_left_alone(aws: AwsEnv) -> None:
    record = running(aws, "lambda")
    counts = sweep_at(record.due_at - 1)
    assert not any(name.startswith("watchdog") for name in counts), counts
    assert reread(record).version == record.version


def test_batch_job_that_ended_unreported_gets_its_real_outcome(aws: AwsEnv) -> None:
    record = running(aws, "batch", OTHER)  # moto's Batch without Docker succeeds at once
    job = boto3.client("batch", region_name=OTHER).describe_jobs(jobs=[record.dispatch["handle"]])
    assert sweep_at(record.due_at)["watchdog:SUCCEEDED"] == 1
    done = reread(record)
    assert done.status == State.SUCCEEDED
    assert done.result["started_at"] == job["jobs"][0]["startedAt"] / 1000
    assert done.result["ended_at"] == job["jobs"][0]["stoppedAt"] / 1000
    assert "emissions_g" in done.result


def test_ecs_task_stopped_unreported_gets_its_real_outcome(aws: AwsEnv) -> None:
    record = running(aws, "ecs")
    cluster = aws.targets[HOME]["ecs"]["cluster"]
    ecs = boto3.client("ecs", region_name=HOME)
    ecs.stop_task(cluster=cluster, task=record.dispatch["handle"], reason="operator")
    early = sweep_at(record.due_at - 1)  # before the grace nobody asks
    assert not any(name.startswith("watchdog") for name in early), early
    assert sweep_at(record.due_at)["watchdog:SUCCEEDED"] == 1  # moto's containers exit 0
    done = reread(record)
    assert done.status == State.SUCCEEDED and done.result["emissions_g"] > 0


def test_still_running_execution_is_looked_at_again_then_times_out(aws: AwsEnv) -> None:
    record = running(aws, "stepfunctions", OTHER)  # moto's executions run until stopped
    expected_end = record.dispatch["expected_end"]
    assert sweep_at(record.due_at)["watchdog:rearmed"] == 1
    again = reread(record)
    assert again.status == State.RUNNING and again.due_at == record.due_at + GRACE
    assert "still runs" in again.history[-1]["reason"]
    now = record.due_at + GRACE
    while now < expected_end + TIMEOUT:  # bounded: at most one look per grace period
        assert sweep_at(now)["watchdog:rearmed"] == 1
        now = reread(record).due_at
    assert now == expected_end + TIMEOUT
    assert sweep_at(now)["watchdog:TIMED_OUT"] == 1
    timed_out = reread(record)
    assert timed_out.status == State.TIMED_OUT
    assert timed_out.result["ended_at"] == now  # it still ran: its grams count until now
    assert timed_out.result["ended_at_estimated"] is False
    assert timed_out.result["emissions_g"] > 0


def test_aborted_execution_is_recorded_failed(aws: AwsEnv) -> None:
    record = running(aws, "stepfunctions", OTHER)
    sfn = boto3.client("stepfunctions", region_name=OTHER)
    sfn.stop_execution(executionArn=record.dispatch["handle"])
    assert sweep_at(record.due_at)["watchdog:FAILED"] == 1
    assert reread(record).history[-1]["reason"].startswith("target failed: ABORTED")


@pytest.mark.parametrize("kind", ["lambda", "eventbridge"])
def test_runs_that_cannot_be_asked_time_out_after_the_run_timeout(aws: AwsEnv, kind: str) -> None:
    record = running(aws, kind)
    expected_end = record.dispatch["expected_end"]
    assert sweep_at(record.due_at)["watchdog:rearmed"] == 1
    waiting = reread(record)
    assert waiting.status == State.RUNNING and waiting.due_at == expected_end + TIMEOUT
    assert "cannot be asked" in waiting.history[-1]["reason"]
    assert not any(n.startswith("watchdog") for n in sweep_at(expected_end + TIMEOUT - 1))
    assert sweep_at(expected_end + TIMEOUT)["watchdog:TIMED_OUT"] == 1
    timed_out = reread(record)
    assert timed_out.status == State.TIMED_OUT and timed_out.status.final
    assert timed_out.result["ended_at"] == expected_end  # the planned end, assumed
    assert timed_out.result["ended_at_estimated"] is True
    assert timed_out.result["emissions_g"] > 0


def test_run_timeout_and_grace_come_from_the_environment(aws: AwsEnv, monkeypatch) -> None:
    monkeypatch.setenv("CARBON_AWARE_RUNNING_GRACE_SECONDS", "600")
    monkeypatch.setenv("CARBON_AWARE_RUN_TIMEOUT_SECONDS", "1200")
    wiring.reset()
    _, body = submit(submission(aws.targets[HOME]["lambda"], regions=[HOME]))
    scheduler.handler({"workload_id": body["id"]}, Context())
    record = wiring.repository().get(body["id"])
    executor.handler({"workload_id": record.workload_id, "version": record.version}, Context())
    record = wiring.repository().get(body["id"])
    assert record.due_at == record.dispatch["expected_end"] + 600
    sweep_at(record.due_at)
    assert reread(record).due_at == record.dispatch["expected_end"] + 1200


def test_one_failing_check_does_not_stop_the_others(aws: AwsEnv, monkeypatch) -> None:
    poisoned, fine = running(aws, "ecs"), running(aws, "lambda")
    real = watchdog.describe

    def describe(dispatch, target, client):
        if dispatch["handle"] == poisoned.dispatch["handle"]:
            raise KeyError("unexpected shape")
        return real(dispatch, target, client)

    monkeypatch.setattr(watchdog, "describe", describe)
    counts = sweep_at(max(poisoned.due_at, fine.due_at))
    assert counts["watchdog:error"] == 1 and counts["watchdog:rearmed"] == 1, counts
    assert reread(poisoned).version == poisoned.version  # looked at again next sweep


def cancel(record: WorkloadRecord, now: float) -> dict:
    wiring.reset(FakeClock(now))
    response = api.handler(http("DELETE", f"/workloads/{record.workload_id}"), Context())
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["status"] == State.CANCELLED
    return body


def test_cancel_stops_a_running_ecs_task_and_records_its_grams(aws: AwsEnv) -> None:
    record = running(aws, "ecs", OTHER)
    started = record.dispatch["started_at"]
    body = cancel(record, started + 1800)
    task = boto3.client("ecs", region_name=OTHER).describe_tasks(
        cluster=aws.targets[OTHER]["ecs"]["cluster"], tasks=[record.dispatch["handle"]]
    )["tasks"][0]
    assert (task["lastStatus"], task["stoppedReason"]) == ("STOPPED", STOP_REASON)
    result = body["result"]
    assert result["target_stopped"] is True
    assert (result["started_at"], result["ended_at"]) == (started, started + 1800)
    assert result["emissions_g"] > 0
    assert body["history"][-1]["reason"].startswith("cancelled; stopped ecs")


def test_cancel_stops_a_running_execution(aws: AwsEnv) -> None:
    record = running(aws, "stepfunctions", OTHER)
    body = cancel(record, record.dispatch["started_at"] + 600)
    sfn = boto3.client("stepfunctions", region_name=OTHER)
    assert sfn.describe_execution(executionArn=record.dispatch["handle"])["status"] == "ABORTED"
    assert body["result"]["emissions_g"] > 0


def test_cancel_terminates_a_batch_job(aws: AwsEnv) -> None:
    record = running(aws, "batch", OTHER)
    body = cancel(record, record.dispatch["started_at"] + 600)
    batch = boto3.client("batch", region_name=OTHER)
    job = batch.describe_jobs(jobs=[record.dispatch["handle"]])["jobs"][0]
    assert job["statusReason"] == STOP_REASON
    assert body["result"]["target_stopped"] is True


def test_cancel_of_a_lambda_run_says_it_cannot_be_stopped(aws: AwsEnv) -> None:
    record = running(aws, "lambda")
    body = cancel(record, record.dispatch["started_at"] + 600)
    assert body["result"]["target_stopped"] is False
    assert "cannot be stopped" in body["history"][-1]["reason"]
    assert body["result"]["emissions_g"] > 0


@pytest.mark.parametrize(
    ("grace", "timeout", "named"),
    [("7200", "3600", config.RUN_TIMEOUT), ("0", "3600", config.RUNNING_GRACE)],
)
def test_bad_grace_or_timeout_settings_are_rejected_by_name(grace, timeout, named) -> None:
    env = {
        config.WORKLOADS_TABLE: "workloads",
        config.REGIONS: HOME,
        config.RUNNING_GRACE: grace,
        config.RUN_TIMEOUT: timeout,
    }
    with pytest.raises(config.ConfigError, match=named):
        config.WorkloadSettings.from_env(env)
