"""Auto Scaling terminate lifecycle actions: heartbeats while the instance drains, then always
completed — CONTINUE once drained, ABANDON when draining failed (try/finally)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)
Heartbeat = Callable[[], None]


def action_keys(detail: Mapping[str, Any]) -> dict[str, str]:
    """The keys naming one lifecycle action in the Auto Scaling API."""
    return {
        "LifecycleHookName": detail["LifecycleHookName"],
        "AutoScalingGroupName": detail["AutoScalingGroupName"],
        "LifecycleActionToken": detail["LifecycleActionToken"],
        "InstanceId": detail["EC2InstanceId"],
    }


def drain_and_complete(
    autoscaling: Any, detail: Mapping[str, Any], drain: Callable[[Heartbeat], None]
) -> str:
    """Run ``drain(heartbeat)`` and complete the action; the result sent (or ``"gone"`` when Auto
    Scaling no longer knows the action: completed before, or its heartbeat timed out)."""
    keys = action_keys(detail)
    result = "ABANDON"
    try:
        drain(lambda: autoscaling.record_lifecycle_action_heartbeat(**keys))
        result = "CONTINUE"
    finally:
        try:
            autoscaling.complete_lifecycle_action(LifecycleActionResult=result, **keys)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationError":
                raise
            log.warning("lifecycle action already over", extra={**keys, "error": str(exc)})
            result = "gone"
    return result
