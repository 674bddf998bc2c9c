"""What a migration strategy does at each state, and what it reports back to the orchestrator.

Every phase must be safe to run again after a crash: it reads the actual AWS state before acting
and sets absolute values (desired capacities, object copies, runs started with an idempotency
token), so the orchestrator can re-run a step from the persisted migration alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol

from carbon_aware.runtime.migrations.repository import Migration

BASIS_FIELDS = ("source_g_per_kwh", "target_g_per_kwh", "power_watts", "hours")


class SpecError(ValueError):
    """A start request field that is missing or malformed (the message names the field)."""


class StepFailed(Exception):
    """The migration cannot go on: rejected in validation, else rolled back."""


@dataclass(frozen=True)
class Outcome:
    """A phase's result: whether the state's work is done, what to persist, and why."""

    done: bool
    data: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


class Strategy(Protocol):
    """One way of migrating (drain_and_shift, checkpoint_restore, blue_green)."""

    kind: str

    def check(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The normalised spec of a start request; :class:`SpecError` names a bad field."""
        ...

    def subject(self, spec: Mapping[str, Any]) -> str:
        """What the migration moves (one live migration per subject)."""
        ...

    def validate(self, m: Migration, now: float) -> Outcome: ...

    def prepare(self, m: Migration, now: float) -> Outcome: ...

    def migrate(self, m: Migration, now: float) -> Outcome: ...

    def complete(self, m: Migration, now: float) -> Outcome: ...

    def rollback(self, m: Migration, now: float) -> Outcome: ...

    def grams(self, m: Migration) -> dict[str, Any]:
        """Grams saved net of the overhead (:func:`net_grams`), once completing is done."""
        ...

    def rollback_grams(self, m: Migration, now: float) -> dict[str, Any]:
        """The overhead of a move undone at ``now`` (:func:`overhead_grams`)."""
        ...


def check_move(
    request: Mapping[str, Any],
    kind: str,
    fields: Set[str],
    key: str,
    regions_of: Mapping[str, Sequence[str]],
) -> tuple[str, str, str]:
    """(subject, source, target) of a move of the configured subject named by ``request[key]``
    between two of its regions; :class:`SpecError` names an unknown or bad field."""
    unknown = sorted(set(request) - fields)
    if unknown:
        raise SpecError(f"{unknown[0]}: unknown field for {kind}")
    subject = request.get(key)
    if subject not in regions_of:
        raise SpecError(f"{key}: no configured {key} {subject!r}")
    regions = list(regions_of[str(subject)])
    for name in ("source", "target"):
        if request.get(name) not in regions:
            raise SpecError(f"{name}: must be one of the {key}'s regions {regions}")
    if request["source"] == request["target"]:
        raise SpecError("target: must differ from source")
    return str(subject), request["source"], request["target"]


def check_basis(request: Mapping[str, Any]) -> dict[str, float] | None:
    """The optional ``basis`` of the grams (intensities in both regions, power, hours ahead)."""
    basis = request.get("basis")
    if basis is None:
        return None
    if not isinstance(basis, Mapping):
        raise SpecError("basis: must be an object of " + ", ".join(BASIS_FIELDS))
    unknown = sorted(set(basis) - set(BASIS_FIELDS))
    if unknown:
        raise SpecError(f"basis.{unknown[0]}: unknown field")
    out = {}
    for name in BASIS_FIELDS:
        value = basis.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"basis.{name}: must be a number")
        if not math.isfinite(value) or value < 0:
            raise SpecError(f"basis.{name}: must be a finite number >= 0")
        out[name] = float(value)
    return out


def net_grams(
    basis: Mapping[str, float] | None, units: int, overlap_seconds: float
) -> dict[str, Any]:
    """Grams saved by moving ``units`` for ``hours`` from the source's intensity to the target's,
    net of the overhead: the extra units running in the target while both ran (overlap)."""
    if basis is None:
        return {"net_g": None, "reason": "no basis given at start"}
    kw = basis["power_watts"] / 1000.0 * units
    gross = kw * basis["hours"] * (basis["source_g_per_kwh"] - basis["target_g_per_kwh"])
    overhead = kw * max(0.0, overlap_seconds) / 3600.0 * basis["target_g_per_kwh"]
    return {
        "gross_g": gross,
        "overhead_g": overhead,
        "net_g": gross - overhead,
        "overlap_seconds": overlap_seconds,
        "units": units,
    }


def overhead_grams(
    basis: Mapping[str, float] | None, units: int, overlap_seconds: float
) -> dict[str, Any]:
    """A move rolled back saves nothing and still cost its overhead: the target's ``units`` for
    the time they ran beside the source. Net is minus the overhead."""
    grams = net_grams(basis, units, overlap_seconds)
    if grams["net_g"] is None:
        return grams
    return {**grams, "gross_g": 0.0, "net_g": -grams["overhead_g"]}
