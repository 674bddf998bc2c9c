"""EventBridge Scheduler one-time schedules that invoke the executor at a workload's start."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.engine.timeutil import from_seconds


def schedule_name(workload_id: str, version: int) -> str:
    """Schedule name for a decision (64 characters, letters, digits, ``-_.``)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in workload_id)
    suffix = f"-v{version}"
    return f"wl-{safe}"[: 64 - len(suffix)] + suffix


def at_expression(start: float) -> str:
    """``at(yyyy-mm-ddThh:mm:ss)`` in UTC, rounded up to the next whole second."""
    return "at(" + from_seconds(float(-(-start // 1))).strftime("%Y-%m-%dT%H:%M:%S") + ")"


@dataclass(frozen=True)
class ScheduleGateway:
    """Creates and deletes the executor's one-time schedules in one schedule group."""

    client: Any
    group: str
    executor_arn: str
    role_arn: str
    kms_key_arn: str = ""

    def create(self, workload_id: str, version: int, start: float) -> str:
        """Schedule the executor for ``start``; deleted by the service after it runs."""
        name = schedule_name(workload_id, version)
        return self.create_at(name, start, {"workload_id": workload_id, "version": version})

    def create_at(self, name: str, start: float, payload: dict[str, Any]) -> str:
        """Schedule the executor with ``payload`` for ``start`` under ``name``."""
        encryption = {"KmsKeyArn": self.kms_key_arn} if self.kms_key_arn else {}
        self.client.create_schedule(
            Name=name,
            GroupName=self.group,
            ScheduleExpression=at_expression(start),
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": self.executor_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps(payload),
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
            },
            **encryption,
        )
        return name

    def delete(self, name: str) -> None:
        """Delete a schedule; one that is already gone is fine."""
        try:
            self.client.delete_schedule(Name=name, GroupName=self.group)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
