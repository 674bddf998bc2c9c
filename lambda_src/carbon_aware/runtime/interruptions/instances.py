"""What an interrupted instance is: type, Availability Zone, Auto Scaling group, fleet."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.runtime.fleet.settings import FleetConfig

GROUP_TAG = "aws:autoscaling:groupName"


@dataclass(frozen=True)
class Instance:
    """An EC2 instance as DescribeInstances tells it."""

    instance_id: str
    region: str
    instance_type: str
    zone: str
    group: str | None
    state: str


def describe_instance(ec2: Any, region: str, instance_id: str) -> Instance | None:
    """The instance, or None when EC2 no longer knows it."""
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code", "").startswith("InvalidInstanceID"):
            return None
        raise
    for reservation in reservations:
        for found in reservation.get("Instances", []):
            tags = {t["Key"]: t["Value"] for t in found.get("Tags", [])}
            return Instance(
                instance_id,
                region,
                found["InstanceType"],
                found["Placement"]["AvailabilityZone"],
                tags.get(GROUP_TAG),
                found["State"]["Name"],
            )
    return None


def fleet_of(fleets: Mapping[str, FleetConfig], region: str, group: str | None) -> str | None:
    """The fleet whose group in ``region`` is ``group``."""
    for name, config in fleets.items():
        if group is not None and config.groups.get(region) == group:
            return name
    return None
