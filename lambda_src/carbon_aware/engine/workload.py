"""Workloads: what to run, for how long, by when, where it may go, and how much power it draws."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carbon_aware.engine.energy import estimate_power_watts
from carbon_aware.engine.timeutil import parse_seconds

MINUTE = 60.0
DEFAULT_MIN_SEGMENT_MINUTES = 15.0
# The fields of the jobs-JSON shape.
FIELDS = frozenset(
    {
        "id",
        "submitted_at",
        "duration_minutes",
        "deadline",
        "regions",
        "home_region",
        "interruptible",
        "min_segment_minutes",
        "power_watts",
        "vcpus",
        "memory_gb",
        "gpus",
        "gpu_type",
        "earliest_start",
        "prices",
        "use_spot",
    }
)


class WorkloadError(ValueError):
    """A workload field is missing or invalid; ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class RegionPrice:
    """Hourly price of the workload's capacity in one region (USD per hour)."""

    on_demand: float | None = None
    spot: float | None = None

    def effective(self, use_spot: bool) -> float | None:
        """The price that applies: spot when asked for and known, else on-demand."""
        if use_spot and self.spot is not None:
            return self.spot
        return self.on_demand


@dataclass(frozen=True)
class Workload:
    """A flexible job. Times are POSIX seconds, durations seconds, power watts."""

    id: str
    submitted_at: float
    duration: float
    deadline: float
    home_region: str
    regions: tuple[str, ...]
    power_watts: float
    interruptible: bool = False
    min_segment: float = DEFAULT_MIN_SEGMENT_MINUTES * MINUTE
    earliest_start: float | None = None
    prices: Mapping[str, RegionPrice] = field(default_factory=dict)
    use_spot: bool = False

    def __post_init__(self) -> None:
        if not self.id:
            raise WorkloadError("id", "must not be empty")
        if not self.duration > 0:
            raise WorkloadError("duration_minutes", "must be positive")
        if not self.power_watts > 0:
            raise WorkloadError("power_watts", "must be positive")
        if not self.regions:
            raise WorkloadError("regions", "must list at least one region")
        if self.interruptible and not self.min_segment > 0:
            raise WorkloadError("min_segment_minutes", "must be positive")
        if self.deadline < self.start_after + self.duration:
            raise WorkloadError("deadline", "is before submitted_at (or earliest_start) + duration")

    @property
    def start_after(self) -> float:
        """Earliest instant the workload may start."""
        if self.earliest_start is None:
            return self.submitted_at
        return max(self.submitted_at, self.earliest_start)

    @property
    def latest_start(self) -> float:
        """Latest start that still meets the deadline when run in one piece."""
        return self.deadline - self.duration

    def price_per_hour(self, region: str) -> float | None:
        """Effective hourly price in ``region``, or None when unknown."""
        price = self.prices.get(region)
        return None if price is None else price.effective(self.use_spot)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Workload:
        """Build from the jobs-JSON shape; raises :class:`WorkloadError` naming the bad field."""
        if type(data) is not dict and not isinstance(data, Mapping):  # (the ABC check is slow)
            raise WorkloadError("job", "must be a JSON object")
        unknown = sorted(data.keys() - FIELDS)
        if unknown:
            raise WorkloadError(unknown[0], "unknown field")
        home = _text(data, "home_region")
        regions = data.get("regions", [home])
        if not isinstance(regions, list) or not all(isinstance(r, str) and r for r in regions):
            raise WorkloadError("regions", "must be a list of region names")
        return cls(
            id=_text(data, "id"),
            submitted_at=_time(data, "submitted_at"),
            duration=_number(data, "duration_minutes") * MINUTE,
            deadline=_time(data, "deadline"),
            home_region=home,
            regions=tuple(dict.fromkeys(regions)),
            power_watts=_power(data),
            interruptible=_flag(data, "interruptible"),
            min_segment=_number(data, "min_segment_minutes", DEFAULT_MIN_SEGMENT_MINUTES) * MINUTE,
            earliest_start=_time(data, "earliest_start") if "earliest_start" in data else None,
            prices=_prices(data.get("prices", {})),
            use_spot=_flag(data, "use_spot"),
        )


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise WorkloadError(name, "is required and must be a non-empty string")
    return value.strip()


def _time(data: Mapping[str, Any], name: str) -> float:
    value = data.get(name)
    if not isinstance(value, str):
        raise WorkloadError(name, "is required and must be an ISO-8601 datetime string")
    try:
        return parse_seconds(value)
    except ValueError:
        raise WorkloadError(name, f"is not an ISO-8601 datetime: {value!r}") from None


def _number(data: Mapping[str, Any], name: str, default: float | None = None) -> float:
    value = data.get(name, default)
    if value is None:
        raise WorkloadError(name, "is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise WorkloadError(name, f"must be a number, got {value!r}")
    return float(value)


def _flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise WorkloadError(name, "must be true or false")
    return value


def _power(data: Mapping[str, Any]) -> float:
    if "power_watts" in data:
        return _number(data, "power_watts")
    if not any(k in data for k in ("vcpus", "memory_gb", "gpus")):
        raise WorkloadError("power_watts", "is required (or give vcpus / memory_gb / gpus)")
    gpu_type = data.get("gpu_type", "a10g")
    if not isinstance(gpu_type, str):
        raise WorkloadError("gpu_type", "must be a string")
    try:
        return estimate_power_watts(
            vcpus=_number(data, "vcpus", 0.0),
            memory_gb=_number(data, "memory_gb", 0.0),
            gpus=_number(data, "gpus", 0.0),
            gpu_type=gpu_type,
        )
    except ValueError as exc:
        raise WorkloadError("vcpus", str(exc)) from None


def _prices(raw: object) -> dict[str, RegionPrice]:
    if type(raw) is dict and not raw:  # the common case, without the slow ABC check
        return {}
    if not isinstance(raw, Mapping):
        raise WorkloadError("prices", "must map region to {on_demand, spot}")
    prices = {}
    for region, entry in raw.items():
        if not isinstance(entry, Mapping) or set(entry) - {"on_demand", "spot"}:
            raise WorkloadError(f"prices.{region}", "must be {on_demand, spot}")
        values = {}
        for kind in ("on_demand", "spot"):
            if kind in entry:
                value = _number(entry, kind)
                if value < 0:
                    raise WorkloadError(f"prices.{region}.{kind}", "must not be negative")
                values[kind] = value
        prices[region] = RegionPrice(**values)
    return prices
