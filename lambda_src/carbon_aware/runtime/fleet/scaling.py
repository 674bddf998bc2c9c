"""Carbon-aware scaling: one target-tracking policy per group, target from the carbon tier."""

from __future__ import annotations

from typing import Any

METRIC = "ASGAverageCPUUtilization"


def put_target_tracking(client: Any, group: str, policy_name: str, target: float) -> None:
    """Create or update the group's target-tracking policy on average CPU at ``target`` %."""
    client.put_scaling_policy(
        AutoScalingGroupName=group,
        PolicyName=policy_name,
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "TargetValue": float(target),
        },
    )
