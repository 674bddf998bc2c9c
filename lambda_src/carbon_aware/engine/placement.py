"""Placement results: where and when a workload runs, or why it cannot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from carbon_aware.engine.timeutil import iso

PLACED = "placed"
INFEASIBLE = "infeasible"


@dataclass(frozen=True)
class Segment:
    """One uninterrupted run in one region over ``[start, end)`` (POSIX seconds)."""

    region: str
    start: float
    end: float

    def to_dict(self) -> dict[str, str]:
        """JSON shape ``{"region","start","end"}`` with ISO times."""
        return {"region": self.region, "start": iso(self.start), "end": iso(self.end)}


class Span(NamedTuple):
    """A :class:`Segment`'s fields as a plain tuple: cheap to build by the thousand (accounting)."""

    region: str
    start: float
    end: float


@dataclass(frozen=True)
class Placement:
    """The decision for one workload; ``emissions_g`` is expected on the signals it used."""

    workload_id: str
    strategy: str
    status: Literal["placed", "infeasible"]
    segments: tuple[Segment, ...] = ()
    emissions_g: float | None = None
    cost_usd: float | None = None
    reason: str | None = None

    @classmethod
    def infeasible(cls, workload_id: str, strategy: str, reason: str) -> Placement:
        """A result saying why the workload cannot be placed."""
        return cls(workload_id, strategy, INFEASIBLE, reason=reason)

    @property
    def placed(self) -> bool:
        """Whether a placement was found."""
        return self.status == PLACED

    @property
    def region(self) -> str | None:
        """Region of the first segment."""
        return self.segments[0].region if self.segments else None

    @property
    def start(self) -> float | None:
        """Start of the first segment."""
        return self.segments[0].start if self.segments else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "id": self.workload_id,
            "strategy": self.strategy,
            "status": self.status,
            "reason": self.reason,
            "segments": [s.to_dict() for s in self.segments],
            "emissions_g": None if self.emissions_g is None else round(self.emissions_g, 3),
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
        }
