"""The demo's spot fleet: three Regions on the emulator, moved by the real ``fleet_optimizer``.

:func:`provision_fleet` creates what the module's ``modules/fleet`` creates per Region (a launch
template and a mixed-instances ``price-capacity-optimized`` group) and the fleets table, and
returns the ``CARBON_AWARE_FLEETS`` environment the module renders. moto does not implement
GetSpotPlacementScores: :class:`FakePlacementScores` answers it on the optimizer's EC2 client, in
the API's response shape, and counts the calls; :class:`FakeSpotPrices` answers its placeholder
spot prices with plausible ones; :class:`InstanceTypeFill` fills the instance types
moto leaves out of DescribeAutoScalingGroups. :class:`FleetTrace` keeps each run's capacity, carbon,
grams and dollars per Region for the report's chart.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse

FLEET = "demo-batch"
FLEET_REGIONS = ("eu-west-1", "eu-central-1", "us-east-1")
INSTANCE_TYPES = ("m6g.large", "m7g.large", "c6g.xlarge")
AL2023_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-"
FLEET_TABLE = "carbon-aware-fleets"
DESIRED_TOTAL = 12
#: Every run period of the optimizer (the module's default is 5 minutes; the demo's clock steps
#: 10 minutes, so it runs every 30 to keep the demo short).
FLEET_EVERY = 1800.0
#: Fake placement scores: steady, except a capacity crunch in eu-central-1 on the second afternoon.
SCORES = {"eu-west-1": 7, "eu-central-1": 8, "us-east-1": 9}
#: Fake spot prices (USD per instance-hour of m6g.large) and each type's factor on it.
SPOT_PRICES = {"eu-west-1": 0.031, "eu-central-1": 0.034, "us-east-1": 0.029}
TYPE_PRICE_FACTOR = {"m6g.large": 1.0, "m7g.large": 1.1, "c6g.xlarge": 1.6}
CRUNCH = ("eu-central-1", 86400.0 + 12 * 3600.0, 86400.0 + 18 * 3600.0, 2)


def provision_fleet(endpoint_region: str) -> dict[str, str]:
    """Groups and launch templates in :data:`FLEET_REGIONS`, the fleets table in
    ``endpoint_region``; returns the fleet's environment variables."""
    import boto3

    from carbon_aware.runtime import config
    from carbon_aware.runtime.tables import FLEETS_TABLE

    boto3.client("dynamodb", region_name=endpoint_region).create_table(
        TableName=FLEET_TABLE, **FLEETS_TABLE
    )
    groups = {}
    for region in FLEET_REGIONS:
        groups[region] = f"carbon-aware-{FLEET}-{region}"
        create_group(region, groups[region], DESIRED_TOTAL // len(FLEET_REGIONS), INSTANCE_TYPES)
    fleet = {
        "regions": list(FLEET_REGIONS),
        "groups": groups,
        "instance_types": list(INSTANCE_TYPES),
        "min_total": 6,
        "max_total": 24,
        "desired_total": DESIRED_TOTAL,
        "min_share": {"eu-west-1": 0.1},
        "max_share": {r: 0.5 for r in FLEET_REGIONS},
        "strategy": "carbon_first",
        "hysteresis": 0.02,
        "dwell_minutes": 180,
        "max_step": 6,
        "renewable_threshold": 0.5,
        "scaling_tiers": [
            {"below": 100.0, "target": 60.0},
            {"below": 200.0, "target": 75.0},
            {"below": None, "target": 90.0},
        ],
        "scaling_policy_name": "carbon-aware-target",
    }
    return {config.FLEETS: json.dumps({FLEET: fleet}), config.FLEET_TABLE: FLEET_TABLE}


def create_group(region: str, name: str, desired: int, instance_types: Sequence[str]) -> None:
    """A launch template and a mixed-instances spot group named ``name`` in ``region``."""
    import boto3

    ec2 = boto3.client("ec2", region_name=region)
    # Graviton types (m6g, c7gn, ...) take the arm64 image.
    arm = all(re.match(r"^[a-z]+\d+g", t) for t in instance_types)
    # The public parameter modules/fleet reads by default, resolved by EC2 at launch.
    image = f"{AL2023_PARAMETER}{'arm64' if arm else 'x86_64'}"
    template = ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={
            "ImageId": f"resolve:ssm:{image}",
            "MetadataOptions": {"HttpTokens": "required"},
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    boto3.client("autoscaling", region_name=region).create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=24,
        DesiredCapacity=desired,
        AvailabilityZones=[f"{region}a"],
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": template},
                "Overrides": [{"InstanceType": t} for t in instance_types],
            },
            "InstancesDistribution": {
                "OnDemandBaseCapacity": 0,
                "OnDemandPercentageAboveBaseCapacity": 0,
                "SpotAllocationStrategy": "price-capacity-optimized",
            },
        },
        CapacityRebalance=True,
    )


@dataclass
class FakeSpotPrices:
    """Answers DescribeSpotPriceHistory on one Region's EC2 client (moto answers every type with
    a placeholder of $0.00001): :data:`SPOT_PRICES` per instance-hour, made up but of the order
    of 2025 Graviton spot prices, in the API's response shape."""

    region: str
    clock: Any

    def attach(self, ec2: Any) -> None:
        """Answer the client's DescribeSpotPriceHistory calls from now on."""
        ec2.meta.events.register("before-call.ec2.DescribeSpotPriceHistory", self._answer)

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        from datetime import UTC, datetime

        body = params.get("body", {})
        types = [v for k, v in sorted(body.items()) if k.startswith("InstanceType.")]
        at = datetime.fromtimestamp(self.clock.now(), UTC)
        history = [
            {
                "AvailabilityZone": f"{self.region}a",
                "InstanceType": t,
                "ProductDescription": "Linux/UNIX",
                "SpotPrice": f"{SPOT_PRICES[self.region] * TYPE_PRICE_FACTOR.get(t, 1.0):.5f}",
                "Timestamp": at,
            }
            for t in types
        ]
        return AWSResponse("", 200, {}, None), {
            "SpotPriceHistory": history,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }


@dataclass
class FakePlacementScores:
    """Answers GetSpotPlacementScores on one EC2 client (botocore ``before-call``), per day."""

    start: float
    clock: Any
    calls: Counter[int] = field(default_factory=Counter)

    def attach(self, ec2: Any) -> None:
        """Answer the client's GetSpotPlacementScores calls from now on."""
        ec2.meta.events.register("before-call.ec2.GetSpotPlacementScores", self._answer)

    def score(self, region: str, at: float) -> int:
        """The fake score of ``region`` at ``at``."""
        crunched, begin, end, low = CRUNCH
        offset = at - self.start
        return low if region == crunched and begin <= offset < end else SCORES.get(region, 5)

    def _answer(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        now = self.clock.now()
        self.calls[int((now - self.start) // 86400)] += 1
        # ``params`` is the serialized EC2 query request: RegionName.1, RegionName.2, ...
        body = params.get("body", {})
        regions = [v for k, v in sorted(body.items()) if k.startswith("RegionName.")]
        scores = [{"Region": r, "Score": self.score(r, now)} for r in regions]
        return AWSResponse("", 200, {}, None), {
            "SpotPlacementScores": scores,
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }


class InstanceTypeFill:
    """moto launches a mixed-instances group's first override and records no ``InstanceType``
    (AWS shows each instance's type in DescribeAutoScalingGroups): this fills that type into the
    answers (botocore ``after-call``), so the optimizer sees what AWS would show it."""

    @staticmethod
    def attach(autoscaling: Any) -> None:
        """Fill the client's DescribeAutoScalingGroups answers from now on."""
        autoscaling.meta.events.register(
            "after-call.auto-scaling.DescribeAutoScalingGroups", InstanceTypeFill._fill
        )

    @staticmethod
    def _fill(parsed: dict[str, Any], **_: Any) -> None:
        for group in parsed.get("AutoScalingGroups", []):
            overrides = (
                group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {}).get("Overrides")
            )
            for instance in group.get("Instances", []) if overrides else []:
                instance["InstanceType"] = instance.get("InstanceType") or overrides[0].get(
                    "InstanceType", ""
                )


@dataclass
class FleetTrace:
    """Capacity and carbon per Region after each optimizer run."""

    times: list[float] = field(default_factory=list)
    capacity: list[dict[str, int]] = field(default_factory=list)
    carbon: list[dict[str, float]] = field(default_factory=list)
    moves: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    accounted: Counter[str] = field(default_factory=Counter)

    def add(self, at: float, result: dict[str, Any]) -> None:
        """Keep one run's stored decision (the handler's answer for :data:`FLEET`)."""
        record = result.get("fleets", {}).get(FLEET)
        if record is None:
            raise RuntimeError(f"the demo fleet did not run: {result.get('errors')}")
        self.times.append(at)
        self.capacity.append({r: int(v) for r, v in record["applied"].items()})
        self.carbon.append(
            {
                r: float(v["carbon_now"])
                for r, v in record["inputs"].items()
                if v.get("carbon_now") is not None
            }
        )
        self.moves += int(record["moved"])
        if "emissions_g" in record:
            self.accounted["intervals"] += 1
            for name in ("emissions_g", "baseline_g", "saved_g", "cost_usd"):
                self.accounted[name] += record[name]
        self.reasons[(record["reason"] or "target kept").split(":")[0]] += 1

    def summary(self, scores: FakePlacementScores) -> dict[str, Any]:
        """Runs, moves, capacity at start and end, placement-score calls per day, each run."""
        from carbon_aware.engine.timeutil import iso

        return {
            "fleet": FLEET,
            "runs": len(self.times),
            "moves": self.moves,
            "first": self.capacity[0] if self.capacity else {},
            "last": self.capacity[-1] if self.capacity else {},
            "placement_score_calls_per_day": [scores.calls[d] for d in sorted(scores.calls)],
            "reasons": dict(self.reasons),
            "accounted": self.accounted["intervals"],
            **{k: self.accounted[k] for k in ("emissions_g", "baseline_g", "saved_g", "cost_usd")},
            "runs_detail": [
                {"at": iso(at), "capacity": capacity, "carbon_now": carbon}
                for at, capacity, carbon in zip(self.times, self.capacity, self.carbon, strict=True)
            ],
        }

    def chart(self, output_dir: Path, start: float) -> Path:
        """Capacity per Region over time (stacked) above each Region's carbon intensity."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        hours = [(t - start) / 3600.0 for t in self.times]
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
        top.stackplot(
            hours,
            *[[c.get(r, 0) for c in self.capacity] for r in FLEET_REGIONS],
            labels=FLEET_REGIONS,
            step="post",
        )
        top.set_ylabel("instances (desired)")
        top.set_title(f"Spot fleet {FLEET}: capacity per Region")
        top.legend(loc="upper left", fontsize="small")
        for region in FLEET_REGIONS:
            bottom.plot(hours, [c.get(region, float("nan")) for c in self.carbon], label=region)
        bottom.set_ylabel("g CO2e/kWh")
        bottom.set_xlabel("hours since the demo started")
        bottom.legend(loc="upper left", fontsize="small")
        fig.tight_layout()
        path = output_dir / "fleet_capacity.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path
