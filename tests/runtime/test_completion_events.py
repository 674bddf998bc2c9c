"""Completion parsing on real AWS events (../shared/data/aws_events), rewritten to point at a
test workload: ids, names, times and payloads change, the shape stays as AWS sent it."""

from __future__ import annotations

import json

import pytest
from tests.runtime.conftest import HOME
from tests.runtime.events import (
    PREFIX,
    SFN_SAMPLES,
    batch_finished,
    ecs_stopped,
    lambda_on_bus,
    lambda_record,
    sample,
    sfn_status,
)

from carbon_aware.runtime.completion import Finished, parse_event
from carbon_aware.runtime.runs import batch_job_state
from carbon_aware.runtime.targets import task_token_workload_id

WID = "nightly-etl-7"
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
END = START + 5400.0


def parsed(event: dict) -> Finished | None:
    return parse_event(event, PREFIX)


@pytest.mark.parametrize(
    ("outcome", "succeeded", "detail"),
    [
        ("Success", True, "Success"),
        ("Handled", False, "RetriesExhausted: Handled: Failure from event"),
        ("RetriesExhausted", False, "RetriesExhausted: Unhandled: RequestId"),
    ],
)
def test_lambda_destination_records_delivered_straight(outcome, succeeded, detail) -> None:
    finished = parsed(lambda_record(WID, outcome, END))
    assert finished is not None
    assert (finished.workload_id, finished.succeeded, finished.ended_at) == (WID, succeeded, END)
    assert finished.detail.startswith(detail)


@pytest.mark.parametrize("ok", [True, False])
def test_lambda_destination_records_wrapped_by_eventbridge(ok: bool) -> None:
    finished = parsed(lambda_on_bus(WID, END, ok))
    assert finished is not None
    assert (finished.workload_id, finished.succeeded, finished.ended_at) == (WID, ok, END)


@pytest.mark.parametrize(
    "name",
    [
        "lambda_destination_record_success.json",  # requestPayload a map without our id
        "lambda_destination_record_failure_handled.json",
        "lambda_destination_eventbridge_success.json",  # requestPayload is another event
    ],
)
def test_lambda_records_of_other_invocations_are_not_ours(name: str) -> None:
    assert parsed(sample(name)) is None


def test_lambda_record_with_a_payload_that_is_not_an_object_is_not_ours() -> None:
    record = lambda_record(WID, "Success", END)
    for payload in (100, [1, 2], "not json", json.dumps([WID])):
        record["requestPayload"] = payload
        assert parsed(record) is None


def test_ecs_stopped_task_with_exit_code_zero_succeeds() -> None:
    finished = parsed(ecs_stopped(WID, START, END))
    assert finished == Finished(
        WID,
        True,
        START,
        END,
        "Essential container in task exited; stopCode EssentialContainerExited; exit codes [0]",
        handle=f"arn:aws:ecs:{HOME}:123456789012:task/jobs/{WID}",
    )


def test_ecs_nonzero_exit_fails() -> None:
    finished = parsed(ecs_stopped(WID, START, END, exit_code=137))
    assert finished is not None and not finished.succeeded and "[137]" in finished.detail


@pytest.mark.parametrize("stop_code", ["SpotInterruption", "TerminationNotice"])
def test_ecs_spot_interruption_is_marked_for_its_owner(stop_code: str) -> None:
    # A segment's end for interruptible work (tests/runtime/test_segmented_workloads.py);
    # otherwise the interruptions function re-places the workload
    # (tests/runtime/test_interruptions.py).
    spot = parsed(ecs_stopped(WID, START, END, exit_code=0, stop_code=stop_code))
    assert spot is not None and spot.spot_stopped_task and spot.interrupted
    plain = parsed(ecs_stopped(WID, START, END, exit_code=0))
    assert plain is not None and not plain.spot_stopped_task


@pytest.mark.parametrize(
    "name",
    [
        "ecs_task_state_change_running_fargate.json",
        "ecs_task_state_change_container_stopped_exitcode.json",
    ],
)
def test_ecs_tasks_not_stopped_yet_are_no_completion(name: str) -> None:
    event = sample(name)  # the second: a container STOPPED with exit code 0, the task RUNNING
    event["detail"]["startedBy"] = f"{PREFIX}-{WID}"
    assert parsed(event) is None


def test_ecs_tasks_started_by_others_are_not_ours() -> None:
    event = ecs_stopped(WID, START, END)
    event["detail"]["startedBy"] = "ecs-svc/9223370556150183303"
    assert parsed(event) is None


def test_batch_failed_job_carries_the_exit_code_and_reason() -> None:
    finished = parsed(batch_finished(WID, START, END, ok=False))
    assert finished == Finished(
        WID, False, START, END, "Essential container in task exited (exit code 1)", handle=WID
    )


def test_batch_succeeded_job() -> None:
    finished = parsed(batch_finished(WID, START, END))
    assert finished is not None and finished.succeeded and finished.ended_at == END


def test_batch_job_found_by_name_when_tags_were_not_propagated() -> None:
    event = batch_finished(WID, START, END)
    event["detail"]["tags"] = {}  # as in the real sample
    assert parsed(event).workload_id == WID


def test_batch_runnable_job_is_no_completion() -> None:
    event = sample("batch_job_state_change_runnable.json")
    event["detail"]["jobName"] = f"{PREFIX}-{WID}"
    assert parsed(event) is None


def test_batch_job_lost_with_its_spot_host_failed_without_exit_code() -> None:
    state = batch_job_state(sample("batch_job_detail_failed_spot_host_terminated.json"))
    assert state.succeeded is False
    assert state.detail == "Host EC2 (instance i-01225b700440f4809) terminated."
    assert (state.started_at, state.ended_at) == (1745369059.232, 1745369331.158)


@pytest.mark.parametrize(
    ("status", "succeeded"),
    [("SUCCEEDED", True), ("FAILED", False), ("TIMED_OUT", False), ("ABORTED", False)],
)
def test_step_functions_final_states(status: str, succeeded: bool) -> None:
    finished = parsed(sfn_status(WID, status, START, END))
    assert finished is not None
    assert (finished.workload_id, finished.succeeded) == (WID, succeeded)
    assert (finished.started_at, finished.ended_at) == (START, END)
    assert finished.detail.startswith(status)


def test_step_functions_running_is_no_completion() -> None:
    assert parsed(sfn_status(WID, "RUNNING", START, END)) is None


@pytest.mark.parametrize("status", sorted(set(SFN_SAMPLES) - {"RUNNING"}))
def test_step_functions_executions_not_named_by_us_map_to_their_task_token_workload(
    status: str,
) -> None:
    # Only a task-token workload can wait on an execution the executor did not start: its id is
    # derived from the execution ARN, so any other execution names no stored workload.
    event = sample(SFN_SAMPLES[status])
    finished = parsed(event)
    assert finished is not None
    assert finished.workload_id == task_token_workload_id(event["detail"]["executionArn"])
    assert finished.started_at is None  # the run started at SendTaskSuccess, not the execution


@pytest.mark.parametrize("value", [None, '"Hello World!"', "not json", "[]"])
def test_step_functions_input_left_out_or_not_an_object(value: object) -> None:
    # EventBridge leaves input out (inputDetails.included false) when it is too large.
    event = sfn_status(WID, "SUCCEEDED", START, END)
    event["detail"]["input"] = value
    assert parsed(event) is None


def test_events_without_a_detail_object_are_ignored() -> None:
    event = sfn_status(WID, "SUCCEEDED", START, END)
    event["detail"] = "broken"
    assert parsed(event) is None
