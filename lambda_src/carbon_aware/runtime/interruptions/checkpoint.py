"""Telling an EC2 instance to checkpoint: an SSM Run Command with the module's document.

Containers need nothing from us: ECS sends SIGTERM and waits the task's ``stopTimeout`` (the
budget, ``CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS``); the agent on an instance also watches the
instance-metadata spot/instance-action and rebalance endpoints. The command is the optional
extra path, used only when a document is configured.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WAITING = frozenset({"Pending", "InProgress", "Delayed"})
COMMENT = "carbon-aware: checkpoint now"


class CheckpointFailed(RuntimeError):
    """The checkpoint command ended without success."""


@dataclass
class SsmCheckpoint:
    """Sends the checkpoint document to an instance and, when asked, waits for it to finish."""

    ssm: Callable[[str], Any]
    document: str
    poll_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def send(self, region: str, instance_id: str) -> str | None:
        """Send the command; its id, or None when no document is configured."""
        if not self.document:
            return None
        answer = self.ssm(region).send_command(
            InstanceIds=[instance_id], DocumentName=self.document, Comment=COMMENT
        )
        return answer["Command"]["CommandId"]

    def wait(
        self,
        region: str,
        instance_id: str,
        command_id: str,
        heartbeat: Callable[[], None],
        budget_seconds: float,
    ) -> str:
        """Wait for the command, a heartbeat per poll, at most ``budget_seconds``; its status."""
        waited = 0.0
        while True:
            status = self.ssm(region).get_command_invocation(
                CommandId=command_id, InstanceId=instance_id
            )["Status"]
            if status not in WAITING:
                if status != "Success":
                    raise CheckpointFailed(f"checkpoint command {command_id}: {status}")
                return status
            if waited >= budget_seconds:
                return status
            heartbeat()
            self.sleep(self.poll_seconds)
            waited += self.poll_seconds
