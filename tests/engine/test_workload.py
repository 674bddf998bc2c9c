"""Workload parsing: every bad field is named; energy comes from watts or CCF coefficients."""

from __future__ import annotations

import math

import pytest

from carbon_aware.engine import Workload, WorkloadError
from carbon_aware.engine.energy import PUE, estimate_power_watts

JOB = {
    "id": "j1",
    "submitted_at": "2023-01-01T00:00:00Z",
    "duration_minutes": 60,
    "deadline": "2023-01-01T06:00:00+00:00",
    "home_region": "eu-west-1",
    "power_watts": 200,
}


def test_defaults_and_utc_handling() -> None:
    job = Workload.from_mapping({**JOB, "deadline": "2023-01-01T06:00:00"})
    assert job.regions == ("eu-west-1",)
    assert job.deadline - job.submitted_at == 6 * 3600
    assert not job.interruptible


def test_offsets_are_converted_to_utc() -> None:
    a = Workload.from_mapping(JOB)
    b = Workload.from_mapping({**JOB, "submitted_at": "2023-01-01T01:00:00+01:00"})
    assert a.submitted_at == b.submitted_at


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_minutes": -5}, "duration_minutes"),
        ({"duration_minutes": "60"}, "duration_minutes"),
        ({"deadline": "2023-01-01T00:30:00Z"}, "deadline"),
        ({"submitted_at": "yesterday"}, "submitted_at"),
        ({"regions": "eu-west-1"}, "regions"),
        ({"regions": []}, "regions"),
        ({"home_region": ""}, "home_region"),
        ({"power_watts": 0}, "power_watts"),
        ({"interruptible": "yes"}, "interruptible"),
        ({"colour": "green"}, "colour"),
        ({"prices": {"eu-west-1": {"spot": -1}}}, "prices.eu-west-1.spot"),
    ],
)
def test_bad_fields_are_named(change: dict, field: str) -> None:
    with pytest.raises(WorkloadError) as info:
        Workload.from_mapping({**JOB, **change})
    assert info.value.field == field


def test_missing_power_is_named() -> None:
    job = dict(JOB)
    del job["power_watts"]
    with pytest.raises(WorkloadError, match="power_watts"):
        Workload.from_mapping(job)


def test_power_from_resources_uses_ccf_coefficients() -> None:
    job = Workload.from_mapping(
        {**{k: v for k, v in JOB.items() if k != "power_watts"}, "vcpus": 4, "memory_gb": 16}
    )
    # 4 vCPU x 2.12 W (50 % of 0.74..3.5) + 16 GB x 0.392 W, times PUE 1.135.
    assert math.isclose(job.power_watts, (4 * 2.12 + 16 * 0.392) * PUE)
    gpu = estimate_power_watts(gpus=1, gpu_type="a100")
    assert math.isclose(gpu, (46 + 0.5 * (407 - 46)) * PUE)


def test_effective_price_prefers_spot_when_asked() -> None:
    job = Workload.from_mapping(
        {**JOB, "prices": {"eu-west-1": {"on_demand": 1.0, "spot": 0.3}}, "use_spot": True}
    )
    assert job.price_per_hour("eu-west-1") == 0.3
    assert job.price_per_hour("us-east-1") is None
