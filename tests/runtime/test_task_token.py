"""Step Functions "wait for the green window": a waiting step submits a ``task_token`` workload;
at the chosen start the executor calls SendTaskSuccess with the decision, and the execution's own
status change (a real sample, forwarded by the regional rule) completes the workload."""

from __future__ import annotations

import json
import time

import pytest
from tests.runtime.aws_calls import record_calls
from tests.runtime.aws_samples import execution_status_change, put_event
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context, submission, submit

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime import wiring
from carbon_aware.runtime.handlers import completion, executor, intake, scheduler
from carbon_aware.runtime.repository import WorkloadRecord
from carbon_aware.runtime.states import State
from carbon_aware.runtime.targets import task_token_workload_id

HOUR = 3600.0


def waiting_step(env: AwsEnv) -> dict:
    """What the state machine's putEvents.waitForTaskToken step sends: a short window."""
    now = time.time()
    target = env.targets[HOME]["task_token"]
    detail = submission(target, regions=[HOME], deadline=iso(now + 1.5 * HOUR))
    return put_event("carbon-aware.pipelines", intake.DETAIL_TYPE, detail, now, HOME)


def dispatched(env: AwsEnv) -> WorkloadRecord:
    answer = intake.handler(waiting_step(env), Context())
    assert answer["accepted"], answer
    workload_id = answer["workload_id"]
    assert scheduler.handler({"workload_id": workload_id}, Context())["status"] == "SCHEDULED"
    record = wiring.repository().get(workload_id)
    executor.handler({"workload_id": workload_id, "version": record.version}, Context())
    return wiring.repository().get(workload_id)


def test_the_executor_sends_the_decision_to_the_waiting_step(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = aws.targets[HOME]["task_token"]
    calls = record_calls(monkeypatch)
    record = dispatched(aws)
    assert record.workload_id == task_token_workload_id(target["execution"])
    assert record.status == State.RUNNING
    assert record.dispatch["handle"] == target["execution"]
    [(region, sent)] = [(r, p) for op, r, p in calls if op == "SendTaskSuccess"]
    assert region == target["arn"].split(":")[3]  # the state machine's own Region
    assert sent["taskToken"] == target["task_token"]
    decision = record.decision
    assert json.loads(sent["output"]) == {
        "workload_id": record.workload_id,
        "region": decision["region"],
        "start": decision["start"],
        "expected_g": decision["expected_g"],
        "baseline_g": decision["baseline_g"],
    }


def test_the_execution_status_change_completes_it_from_the_dispatch(aws: AwsEnv) -> None:
    record = dispatched(aws)
    started = record.dispatch["started_at"]
    execution = aws.targets[HOME]["task_token"]["execution"]
    # The execution began hours before the green window; the work ran from the dispatch.
    event = execution_status_change("SUCCEEDED", execution, started - 5 * HOUR, started + HOUR)
    answer = completion.handler(event, Context())
    assert answer == {"recorded": True, "workload_id": record.workload_id, "status": "SUCCEEDED"}
    result = wiring.repository().get(record.workload_id).result
    assert result["started_at"] == started
    assert result["duration_seconds"] == pytest.approx(HOUR, abs=1)
    assert result["emissions_g"] > 0


def test_a_failed_execution_fails_the_workload(aws: AwsEnv) -> None:
    record = dispatched(aws)
    execution = aws.targets[HOME]["task_token"]["execution"]
    started = record.dispatch["started_at"]
    event = execution_status_change("FAILED", execution, started - HOUR, started + 60)
    assert completion.handler(event, Context())["status"] == "FAILED"


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_an_expired_token_or_ended_execution_fails_for_good(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    record_calls(monkeypatch, fail={"SendTaskSuccess": code})
    record = dispatched(aws)
    assert record.status == State.FAILED
    assert code in record.history[-1]["reason"]
    assert [d["workload_id"] for d in aws.dead_letters()] == [record.workload_id]


def test_one_workload_per_execution(aws: AwsEnv) -> None:
    target = aws.targets[HOME]["task_token"]
    status, body = submit(submission(target, id="mine"))
    assert status == 400 and body["errors"][0]["field"] == "id"
    stranger = {**target, "execution": target["execution"].replace(":job:", ":other:")}
    status, body = submit(submission(stranger))
    assert status == 400 and body["errors"][0]["field"] == "target.execution"
    status, body = submit(submission(target, targets={HOME: target}))
    assert status == 400 and body["errors"][0]["field"] == f"targets.{HOME}.type"
    assert submit(submission(target))[0] == 201
    status, body = submit(submission(target))  # the same execution again
    assert status == 409
