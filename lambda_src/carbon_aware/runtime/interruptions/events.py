"""The interruption events the pipeline delivers, parsed once into :class:`Interruption`.

Kinds (EventBridge ``detail-type``): EC2 Spot Instance Interruption Warning, EC2 Instance
Rebalance Recommendation, EC2 Instance State-change Notification, AWS Health Event (EC2 scheduled
changes), EC2 Instance-terminate Lifecycle Action, and ECS Task State Change with a spot stop code
(``SpotInterruption``; the older documentation shows ``TerminationNotice``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from carbon_aware.runtime.runs import ECS_INTERRUPTED, instant


class Kind(StrEnum):
    """What an interruption event announces."""

    SPOT_WARNING = "SpotInterruptionWarning"
    REBALANCE = "RebalanceRecommendation"
    STATE_CHANGE = "InstanceStateChange"
    SCHEDULED_CHANGE = "ScheduledChange"
    TERMINATE_LIFECYCLE = "TerminateLifecycleAction"
    TASK_SPOT_STOP = "TaskSpotInterruption"


DETAIL_TYPES: dict[str, Kind] = {
    "EC2 Spot Instance Interruption Warning": Kind.SPOT_WARNING,
    "EC2 Instance Rebalance Recommendation": Kind.REBALANCE,
    "EC2 Instance State-change Notification": Kind.STATE_CHANGE,
    "AWS Health Event": Kind.SCHEDULED_CHANGE,
    "EC2 Instance-terminate Lifecycle Action": Kind.TERMINATE_LIFECYCLE,
    "ECS Task State Change": Kind.TASK_SPOT_STOP,
}


class NotAnInterruption(ValueError):
    """The message is not an interruption event this pipeline handles."""


@dataclass(frozen=True)
class Interruption:
    """One event: its kind, id (the idempotency key), Region, time and affected instances."""

    kind: Kind
    event_id: str
    region: str
    at: float | None
    instance_ids: tuple[str, ...]
    detail: Mapping[str, Any] = field(repr=False)


def parse(event: object) -> Interruption:
    """The interruption in an EventBridge event; NotAnInterruption names what is missing."""
    if not isinstance(event, Mapping):
        raise NotAnInterruption("not a JSON object")
    kind = DETAIL_TYPES.get(str(event.get("detail-type")))
    detail = event.get("detail")
    event_id, region = event.get("id"), event.get("region")
    if kind is None or not isinstance(detail, Mapping):
        raise NotAnInterruption(f"unhandled detail-type {event.get('detail-type')!r}")
    if not isinstance(event_id, str) or not event_id or not isinstance(region, str):
        raise NotAnInterruption("event without id or region")
    if kind is Kind.TASK_SPOT_STOP and detail.get("stopCode") not in ECS_INTERRUPTED:
        raise NotAnInterruption(f"ECS task stop code {detail.get('stopCode')!r} is not a spot one")
    if kind is Kind.SCHEDULED_CHANGE and (
        detail.get("service") != "EC2" or detail.get("eventTypeCategory") != "scheduledChange"
    ):
        raise NotAnInterruption("AWS Health event that is not an EC2 scheduled change")
    return Interruption(
        kind, event_id, region, _time(event.get("time")), _instances(kind, detail), detail
    )


def _time(value: object) -> float | None:
    """The event's time; None for the documentation's placeholders ("yyyy-mm-ddThh:mm:ssZ")."""
    try:
        return instant(value)
    except ValueError:
        return None


def _instances(kind: Kind, detail: Mapping[str, Any]) -> tuple[str, ...]:
    if kind is Kind.SCHEDULED_CHANGE:
        entities = detail.get("affectedEntities") or []
        found = [e.get("entityValue") for e in entities if isinstance(e, Mapping)]
        return tuple(i for i in found if isinstance(i, str) and i.startswith("i-"))
    key = "EC2InstanceId" if kind is Kind.TERMINATE_LIFECYCLE else "instance-id"
    value = detail.get(key)
    return (value,) if isinstance(value, str) and value else ()
