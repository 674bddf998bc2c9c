"""Auto Scaling groups as the migration strategies read and size them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carbon_aware.runtime.migrations.strategies import StepFailed


@dataclass(frozen=True)
class Group:
    """An Auto Scaling group as a migration reads it: desired capacity, InService and healthy
    instances, and its size bounds."""

    desired: int
    healthy: int
    max_size: int
    min_size: int = 0


def read_group(autoscaling: Any, name: str, region: str) -> Group:
    """Group ``name`` in ``region``; :class:`StepFailed` when it is gone."""
    found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ]
    if not found:
        raise StepFailed(f"Auto Scaling group {name} not found in {region}")
    healthy = sum(
        1
        for i in found[0].get("Instances", [])
        if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"
    )
    return Group(
        int(found[0]["DesiredCapacity"]),
        healthy,
        int(found[0]["MaxSize"]),
        int(found[0]["MinSize"]),
    )


def set_desired(autoscaling: Any, name: str, desired: int) -> None:
    """Set the group's desired capacity now (an absolute write: safe to repeat)."""
    autoscaling.set_desired_capacity(
        AutoScalingGroupName=name, DesiredCapacity=desired, HonorCooldown=False
    )
