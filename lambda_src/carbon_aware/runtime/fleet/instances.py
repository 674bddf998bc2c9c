"""Power per instance type from EC2 DescribeInstanceTypes and the CCF coefficients.

An instance type's vCPUs, memory and GPUs are the same in every region, so each type is described
once per process (one call for all the types not yet known, in the region that asked) and its
average facility power kept (``engine.energy.estimate_power_watts`` at the default 50 %
utilisation, PUE included). A GPU whose name the coefficients do not know counts as the default
GPU (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from carbon_aware.engine.energy import DEFAULT_GPU, GPU_WATTS, estimate_power_watts

MIB_PER_GB = 1024.0
log = logging.getLogger(__name__)


class InstancePower:
    """Watts per instance of each instance type, described on first use."""

    def __init__(self, ec2: Callable[[str], Any]) -> None:
        self.ec2 = ec2
        self.known: dict[str, float] = {}

    def watts(self, region: str, instance_types: Sequence[str]) -> dict[str, float]:
        """Watts per instance of ``instance_types``; a type EC2 does not describe is left out."""
        missing = sorted({t for t in instance_types if t not in self.known})
        if missing:
            pages = (
                self.ec2(region)
                .get_paginator("describe_instance_types")
                .paginate(InstanceTypes=missing)
            )
            for page in pages:
                for described in page.get("InstanceTypes", []):
                    self._learn(described)
        return {t: self.known[t] for t in instance_types if t in self.known}

    def _learn(self, described: dict[str, Any]) -> None:
        name = described["InstanceType"]
        vcpus = float(described.get("VCpuInfo", {}).get("DefaultVCpus", 0))
        memory_gb = float(described.get("MemoryInfo", {}).get("SizeInMiB", 0)) / MIB_PER_GB
        gpus = described.get("GpuInfo", {}).get("Gpus", [])
        watts = estimate_power_watts(vcpus, memory_gb)
        for gpu in gpus:
            kind = str(gpu.get("Name", "")).lower()
            if kind not in GPU_WATTS:
                log.warning("%s: GPU %r counted as %s", name, gpu.get("Name"), DEFAULT_GPU)
                kind = DEFAULT_GPU
            watts += estimate_power_watts(gpus=float(gpu.get("Count", 0)), gpu_type=kind)
        self.known[name] = watts
