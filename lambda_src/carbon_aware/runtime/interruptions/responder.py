"""Event -> action. One :class:`Responder` per invocation; :meth:`Responder.handle` is called once
per event id (the ledger drops duplicates), and every action checks the current state first, so a
late or out-of-order event changes nothing twice.

- Spot interruption warning: tell the instance to checkpoint (SSM, when a document is set), mark
  its instance type and Availability Zone unavailable for the TTL, and ask the fleet optimizer to
  run that fleet now (the mark lowers the Region's placement score, so the lost capacity goes
  elsewhere).
- Rebalance recommendation (running fleet instances): ``ignore``; ``prepare`` records a
  preparation for the instance in the signals table (:meth:`.CapacityMarks.prepare`, for the
  interruption settings' ``unavailable_seconds``) and raises the group's desired capacity by one,
  never above its MaxSize (a replacement launches, nothing drains); the fleet optimizer keeps one
  above its plan per live preparation, so its next run does not scale the replacement in again. A
  second recommendation for an instance already prepared changes nothing. ``replace`` checkpoints
  and terminates the instance in its group without lowering the desired capacity (the terminate
  lifecycle hook drains it, the group launches a replacement).
- Terminate lifecycle action (fleet groups): release the instance's preparation, drain
  (checkpoint command, waited for with heartbeats), then always complete: CONTINUE, or ABANDON
  when draining failed.
- ECS task stopped by a spot interruption: re-place the workload away from the Region
  (:func:`.replace.replan_interrupted`); ECS itself sends the container SIGTERM.
- Instance state changes: an instance stopping or gone releases its preparation; counted and
  logged.
- AWS Health scheduled changes: counted and logged.
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
        if instance.state in STOPPING:
            return f"ignored (instance {instance.state})"
        client = self.autoscaling(event.region)
        if action == "replace":
            self.checkpoint.send(event.region, instance.instance_id)
            client.terminate_instance_in_auto_scaling_group(
                InstanceId=instance.instance_id, ShouldDecrementDesiredCapacity=False
            )
            return f"replacing {instance.instance_id}"
        group = str(instance.group)  # fleet_of found the fleet by it
        held = ""
        if self.marks is not None:
            live = self.marks.prepared(event.region, now)
            if any(p.instance_id == instance.instance_id for p in live):
                return f"prepare: replacement for {instance.instance_id} already held"
            # Recorded before the raise: if the raise fails, the retry finds it held and the
            # optimizer's next run raises the group instead.
            self.marks.prepare(
                event.region,
                instance.instance_id,
                group,
                fleet,
                now=now,
                ttl=self.settings.unavailable_seconds,
            )
            held = f"; held until {instance.instance_id} stops"
        found = client.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
        current = found["AutoScalingGroups"][0]
        desired = min(int(current["DesiredCapacity"]) + 1, int(current["MaxSize"]))
        if desired == int(current["DesiredCapacity"]):
            return f"prepare: {group} at its maximum ({desired}){held}"
        client.set_desired_capacity(
            AutoScalingGroupName=group, DesiredCapacity=desired, HonorCooldown=False
        )
        return f"prepare: {group} raised to {desired}{held}"

    def release(self, region: str, instance_id: str) -> str:
        """Stop holding a replacement for ``instance_id``; what was done (empty: none held)."""
        if self.marks is None or not self.marks.release(region, instance_id):
            return ""
        return f"replacement for {instance_id} released"

    def terminate_lifecycle(self, event: Interruption, now: float) -> str:
        group = event.detail.get("AutoScalingGroupName")
        if fleet_of(self.fleets, event.region, group) is None:
            return "not a fleet group"
        instance_id = event.instance_ids[0]
        released = self.release(event.region, instance_id)

        def drain(heartbeat: Callable[[], None]) -> None:
            command = self.checkpoint.send(event.region, instance_id)
            if command:
                heartbeat()
                self.checkpoint.wait(
                    event.region, instance_id, command, heartbeat, self.drain_budget()
                )

        done = "lifecycle " + drain_and_complete(
            self.autoscaling(event.region), event.detail, drain
        )
        return f"{done}; {released}" if released else done

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
        if state not in STOPPING:
            return "ignored"
        released = self.release(event.region, event.instance_ids[0]) if event.instance_ids else ""
        return f"instance {state}; {released}" if released else f"instance {state}"

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
