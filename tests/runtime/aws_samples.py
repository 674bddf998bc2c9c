"""Real AWS event envelopes for submissions and task-token executions (samples from
../shared/data/aws_events via :func:`tests.runtime.events.sample`), ids and times rewritten."""

from __future__ import annotations

import uuid

from tests.runtime.events import sample

from carbon_aware.engine.timeutil import iso


def put_event(source: str, detail_type: str, detail: dict, at: float, region: str) -> dict:
    """An event as EventBridge delivers a PutEvents entry to a rule's target: the envelope of a
    real delivered event, with its own id, time, Region, source, detail-type and detail."""
    event = sample("eventbridge_scheduled_rule_event.json")
    return {
        **event,
        "id": str(uuid.uuid4()),
        "time": iso(at),
        "region": region,
        "source": source,
        "detail-type": detail_type,
        "resources": [],
        "detail": detail,
    }


def execution_status_change(status: str, execution_arn: str, start: float, stop: float) -> dict:
    """The real Step Functions Execution Status Change sample for ``execution_arn``."""
    event = sample(f"stepfunctions_execution_status_change_{status.lower()}.json")
    _, _, _, region, account, _, machine, name = execution_arn.split(":")
    detail = {
        **event["detail"],
        "executionArn": execution_arn,
        "stateMachineArn": f"arn:aws:states:{region}:{account}:stateMachine:{machine}",
        "name": name,
        "startDate": int(start * 1000),
        "stopDate": int(stop * 1000),
    }
    return {
        **event,
        "id": str(uuid.uuid4()),
        "time": iso(stop),
        "region": region,
        "account": account,
        "resources": [execution_arn],
        "detail": detail,
    }
