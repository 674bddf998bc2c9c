"""Event -> action. One :class:`Responder` per invocation; :meth:`Responder.handle` is called once
per event id (the ledger drops duplicates), and every action checks the current state first, so a
late or out-of-order event changes nothing twice.

- Spot interruption warning: tell the instance to checkpoint (SSM, when a document is set), mark
  its instance type and Availability Zone unavailable for the TTL, and ask the fleet optimizer to
  run that fleet now (the mark lowers the Region's placement score, so the lost capacity goes
  elsewhere).
- Rebalance recommendation (fleet instances): ``ignore``; ``prepare`` raises the group's desired
  capacity by one (a replacement launches, nothing drains); ``replace`` checkpoints and terminates
  the instance in its group without lowering the desired capacity (the terminate lifecycle hook
  drains it, the group launches a replacement).
- Terminate lifecycle action (fleet groups): drain (checkpoint command, waited for with
  heartbeats), then always complete: CONTINUE, or ABANDON when draining failed.
- ECS task stopped by a spot interruption: re-place the workload away from the Region
  (:func:`.replace.replan_interrupted`); ECS itself sends the container SIGTERM.
- Instance state changes and AWS Health scheduled changes: counted and logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from carbon_aware.runtime.fleet.settings import FleetConfig
from carbon_aware.runtime.interruptions.checkpoint import SsmCheckpoint
from carbon_aware.runtime.interruptions.events import Interruption, Kind
from carbon_aware.runtime.interruptions.instances import Instance, describe_instance, fleet_of
from carbon_aware.runtime.interruptions.lifecycle import drain_and_complete
from carbon_aware.runtime.interruptions.replace import replan_interrupted
from carbon_aware.runtime.interruptions.settings import InterruptionSettings
from carbon_aware.runtime.planner import Planner
from carbon_aware.runtime.targets import workload_of_run
from carbon_aware.signals.prices.unavailable import CapacityMarks

log = logging.getLogger(__name__)
Emit = Callable[[str, float, dict[str, str]], None]
STOPPING = frozenset({"stopping", "stopped", "shutting-down", "terminated"})


@dataclass
class Responder:
    """Acts on interruption events (see the module docstring)."""

    settings: InterruptionSettings
    fleets: Mapping[str, FleetConfig]
    ec2: Callable[[str], Any]
    autoscaling: Callable[[str], Any]
    checkpoint: SsmCheckpoint
    marks: CapacityMarks | None
    planner: Planner | None
    run_fleets: Callable[[list[str]], None]
    prefix: str
    drain_budget: Callable[[], float]
    emit: Emit

    def handle(self, event: Interruption, now: float) -> str:
        """Act on one event; what was done."""
        self.emit("InterruptionEvents", 1, {"Kind": str(event.kind), "Region": event.region})
        actions = {
            Kind.SPOT_WARNING: self.spot_warning,
            Kind.REBALANCE: self.rebalance,
            Kind.TERMINATE_LIFECYCLE: self.terminate_lifecycle,
            Kind.TASK_SPOT_STOP: self.task_spot_stop,
            Kind.STATE_CHANGE: self.state_change,
            Kind.SCHEDULED_CHANGE: self.scheduled_change,
        }
        return actions[event.kind](event, now)

    def _instance(self, event: Interruption) -> tuple[Instance | None, str | None]:
        if not event.instance_ids:
            return None, None
        found = describe_instance(self.ec2(event.region), event.region, event.instance_ids[0])
        return found, fleet_of(self.fleets, event.region, found.group if found else None)

    def spot_warning(self, event: Interruption, now: float) -> str:
        instance, fleet = self._instance(event)
        if instance is None:
            return "instance unknown"
        done = []
        if fleet is not None and self.checkpoint.send(event.region, instance.instance_id):
            done.append("checkpoint sent")
        if self.marks is not None:
            self.marks.mark(
                event.region,
                instance.instance_type,
                instance.zone,
                now=now,
                ttl=self.settings.unavailable_seconds,
                reason=f"spot interruption warning {event.event_id}",
            )
            done.append(f"{instance.instance_type} in {instance.zone} marked unavailable")
        if fleet is not None:
            self.run_fleets([fleet])
            done.append(f"fleet {fleet} re-placed")
        return "; ".join(done) or "nothing to do"

    def rebalance(self, event: Interruption, now: float) -> str:
        instance, fleet = self._instance(event)
        action = self.settings.rebalance_action
        if instance is None or fleet is None or action == "ignore":
            return f"ignored ({'not a fleet instance' if fleet is None else action})"
        client = self.autoscaling(event.region)
        if action == "replace":
            self.checkpoint.send(event.region, instance.instance_id)
            client.terminate_instance_in_auto_scaling_group(
                InstanceId=instance.instance_id, ShouldDecrementDesiredCapacity=False
            )
            return f"replacing {instance.instance_id}"
        group = client.describe_auto_scaling_groups(AutoScalingGroupNames=[instance.group])
        found = group["AutoScalingGroups"][0]
        desired = min(int(found["DesiredCapacity"]) + 1, int(found["MaxSize"]))
        if desired == int(found["DesiredCapacity"]):
            return "prepare: group at its maximum"
        client.set_desired_capacity(
            AutoScalingGroupName=instance.group, DesiredCapacity=desired, HonorCooldown=False
        )
        return f"prepare: {instance.group} raised to {desired}"

    def terminate_lifecycle(self, event: Interruption, now: float) -> str:
        group = event.detail.get("AutoScalingGroupName")
        if fleet_of(self.fleets, event.region, group) is None:
            return "not a fleet group"
        instance_id = event.instance_ids[0]

        def drain(heartbeat: Callable[[], None]) -> None:
            command = self.checkpoint.send(event.region, instance_id)
            if command:
                heartbeat()
                self.checkpoint.wait(
                    event.region, instance_id, command, heartbeat, self.drain_budget()
                )

        return "lifecycle " + drain_and_complete(
            self.autoscaling(event.region), event.detail, drain
        )

    def task_spot_stop(self, event: Interruption, now: float) -> str:
        workload_id = workload_of_run(str(event.detail.get("startedBy") or ""), self.prefix)
        if workload_id is None or self.planner is None:
            return "not our task"
        record = self.planner.repo.get(workload_id)
        if record is None:
            return "workload unknown"
        if (record.dispatch or {}).get("handle") != event.detail.get("taskArn"):
            return "an earlier run"
        after = replan_interrupted(
            self.planner,
            record,
            region=event.region,
            now=now,
            max_replacements=self.settings.max_replacements,
        )
        return f"workload {workload_id}: {after.status}"

    def state_change(self, event: Interruption, now: float) -> str:
        state = event.detail.get("state")
        return f"instance {state}" if state in STOPPING else "ignored"

    def scheduled_change(self, event: Interruption, now: float) -> str:
        log.warning(
            "EC2 scheduled change",
            extra={
                "event_type": event.detail.get("eventTypeCode"),
                "instances": list(event.instance_ids),
                "start": event.detail.get("startTime"),
            },
        )
        return f"scheduled change for {len(event.instance_ids)} instance(s) recorded"


def invoke_optimizer(lambda_client: Any, function_arn: str) -> Callable[[list[str]], None]:
    """Ask the fleet optimizer (asynchronously) to run the named fleets now."""

    def run(fleets: list[str]) -> None:
        lambda_client.invoke(
            FunctionName=function_arn,
            InvocationType="Event",
            Payload=json.dumps({"fleets": fleets}).encode(),
        )

    return run
