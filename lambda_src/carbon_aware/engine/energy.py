"""Workload power from resources, with Cloud Carbon Footprint (CCF) coefficients.

Source: cloud-carbon-footprint @ b7a049c7 (Apache-2.0), ``AwsFootprintEstimationConstants.ts``:
average vCPU power at the default 50 % utilisation is 0.74 + 0.5 x (3.5 - 0.74) = 2.12 W, memory
0.000392 kWh per GB-hour (0.392 W/GB), AWS average PUE 1.135. GPU min/max watts from the same file.
"""

from __future__ import annotations

MIN_WATTS_PER_VCPU = 0.74
MAX_WATTS_PER_VCPU = 3.5
MEMORY_WATTS_PER_GB = 0.392
PUE = 1.135
DEFAULT_UTILIZATION = 0.5
GPU_WATTS: dict[str, tuple[float, float]] = {
    "a100": (46.0, 407.0),
    "a10g": (18.0, 153.0),
    "t4": (8.0, 71.0),
}
DEFAULT_GPU = "a10g"


def estimate_power_watts(
    vcpus: float = 0.0,
    memory_gb: float = 0.0,
    gpus: float = 0.0,
    gpu_type: str = DEFAULT_GPU,
    utilization: float = DEFAULT_UTILIZATION,
) -> float:
    """Average facility power in watts (PUE included) of these resources at ``utilization``."""
    if min(vcpus, memory_gb, gpus) < 0:
        raise ValueError("vcpus, memory_gb and gpus must not be negative")
    if not 0.0 <= utilization <= 1.0:
        raise ValueError("utilization must be between 0 and 1")
    try:
        gpu_min, gpu_max = GPU_WATTS[gpu_type.lower()]
    except KeyError:
        raise ValueError(f"gpu_type must be one of {sorted(GPU_WATTS)}") from None
    cpu = vcpus * (MIN_WATTS_PER_VCPU + utilization * (MAX_WATTS_PER_VCPU - MIN_WATTS_PER_VCPU))
    gpu = gpus * (gpu_min + utilization * (gpu_max - gpu_min))
    return (cpu + memory_gb * MEMORY_WATTS_PER_GB + gpu) * PUE
