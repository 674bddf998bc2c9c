"""Migration policy for running work: when a workload moves to another region, and what it saved.

Pure Python (no numpy), deterministic; state is explicit and round-trips through plain dicts so
the runtime can keep it in DynamoDB.

**Overhead model.** A migration launches the copy in the target at ``now``, runs both copies for
``overlap_minutes`` (launch before drain) and then drains the source; the checkpoint crosses the
network once. Against never migrating, the extra emissions are the source copy during the overlap
(power x overlap at the source's intensity) plus the transfer (``checkpoint_gb`` x
:data:`KWH_PER_GB`, half at each end's intensity). The saving is ``power x sum(source - target)``
over the remaining horizon, counted from ``now`` (the target runs from then on), so::

    net = saving - overhead

:func:`saving_g` forecasts it; :func:`net_grams` realises it on observed intensities.

**Guards** (:func:`evaluate`, in this order): the trigger (the current region's intensity above
the threshold, or its renewable share below the floor), the best allowed target by forecast net,
``net > margin``, the same target for ``confirmations`` consecutive evaluations, the cooldown after
a rollback (doubling per consecutive rollback, capped), the minimum dwell since the last move, the
per-workload cap in any 24 hours and the cap on the fleet fraction migrating at once. More than
``surge_limit_per_hour`` migrations started in the last hour raise the threshold by
``surge_raise_g_per_kwh`` (and suspend the renewable trigger) until the count falls back.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from carbon_aware.engine.accounting import StepSeries, emissions_g
from carbon_aware.engine.signal_type import SECONDS_PER_HOUR

#: Network energy per GB transferred: Cloud Carbon Footprint's ``NETWORKING_COEFFICIENT``
#: (cloud-carbon-footprint @ b7a049c7,
#: ``packages/aws/src/domain/AwsFootprintEstimationConstants.ts``), the source of ``energy.py``.
KWH_PER_GB = 0.001
SECONDS_PER_DAY = 86400.0

#: A forecast per region: hourly intensities (g/kWh), element k covering ``[now + k h, +1 h)``.
Forecast = Mapping[str, Sequence[float]]


class MigrationError(ValueError):
    """Invalid policy, subject or state; the message names the field."""


def _check(value: object, name: str, low: float, high: float = math.inf) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        bound = f"between {low} and {high}" if math.isfinite(high) else f">= {low}"
        raise MigrationError(f"{name} must be a number {bound}, got {value!r}")


def _check_count(value: object, name: str, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise MigrationError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class MigrationPolicy:
    """Triggers and guards of migrations (module docstring).

    The margin is ``max(margin_g, margin_ratio x overhead)``: the overhead is paid for sure while
    the saving is a forecast over up to ``horizon_hours``, so by default the forecast saving must
    be at least twice the overhead (it may be over-estimated by half and the move still pays);
    ``margin_g`` keeps small workloads from moving for a few grams of forecast noise.
    """

    threshold_g_per_kwh: float = 300.0
    renewable_floor: float = 0.30
    margin_g: float = 50.0
    margin_ratio: float = 1.0
    horizon_hours: float = 24.0
    confirmations: int = 2
    min_dwell_minutes: float = 240.0
    max_per_workload_per_day: int = 3
    max_fleet_fraction: float = 0.25
    cooldown_minutes: float = 60.0
    max_cooldown_minutes: float = 1440.0
    surge_limit_per_hour: int = 10
    surge_raise_g_per_kwh: float = 100.0

    def __post_init__(self) -> None:
        _check(self.threshold_g_per_kwh, "threshold_g_per_kwh", 0.0)
        _check(self.renewable_floor, "renewable_floor", 0.0, 1.0)
        _check(self.margin_g, "margin_g", 0.0)
        _check(self.margin_ratio, "margin_ratio", 0.0)
        _check(self.horizon_hours, "horizon_hours", 1.0, 168.0)
        _check_count(self.confirmations, "confirmations", 1)
        _check(self.min_dwell_minutes, "min_dwell_minutes", 0.0)
        _check_count(self.max_per_workload_per_day, "max_per_workload_per_day", 1)
        _check(self.max_fleet_fraction, "max_fleet_fraction", 0.0, 1.0)
        if self.max_fleet_fraction == 0.0:
            raise MigrationError("max_fleet_fraction must be > 0")
        _check(self.cooldown_minutes, "cooldown_minutes", 0.0)
        _check(self.max_cooldown_minutes, "max_cooldown_minutes", self.cooldown_minutes)
        _check_count(self.surge_limit_per_hour, "surge_limit_per_hour", 1)
        _check(self.surge_raise_g_per_kwh, "surge_raise_g_per_kwh", 0.0)

    def margin_for(self, overhead_g: float) -> float:
        """Grams the forecast net saving must exceed for a move with this overhead."""
        return max(self.margin_g, self.margin_ratio * overhead_g)

    def cooldown_seconds(self, rollbacks: int) -> float:
        """Cooldown after the ``rollbacks``-th consecutive rollback (0 for none)."""
        if rollbacks <= 0:
            return 0.0
        minutes = self.cooldown_minutes * 2.0 ** min(rollbacks - 1, 32)
        return min(minutes, self.max_cooldown_minutes) * 60.0


@dataclass(frozen=True)
class Subject:
    """A running workload that may migrate: its power, checkpoint, overlap and allowed regions.

    ``remaining_hours`` bounds the horizon of a job with a known end (None: open-ended).
    """

    workload_id: str
    power_kw: float
    checkpoint_gb: float
    overlap_minutes: float
    regions: tuple[str, ...]
    remaining_hours: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.workload_id, str) or not self.workload_id:
            raise MigrationError(f"workload_id must be a non-empty string: {self.workload_id!r}")
        _check(self.power_kw, "power_kw", 0.0)
        _check(self.checkpoint_gb, "checkpoint_gb", 0.0)
        _check(self.overlap_minutes, "overlap_minutes", 0.0, 1440.0)
        regions = tuple(self.regions)
        if not regions or not all(isinstance(r, str) and r for r in regions):
            raise MigrationError(f"regions must be non-empty strings, got {regions!r}")
        object.__setattr__(self, "regions", regions)
        if self.remaining_hours is not None:
            _check(self.remaining_hours, "remaining_hours", 0.0)


@dataclass(frozen=True)
class Saving:
    """Forecast (or realised) grams of one move: gross saving, overhead and ``net = s - o``."""

    saving_g: float
    overhead_g: float

    @property
    def net_g(self) -> float:
        """Saving net of the overhead (negative: the move cost more than it saved)."""
        return self.saving_g - self.overhead_g


def _integral(path: Sequence[float], hours: float) -> float:
    """Sum of an hourly path over its first ``hours`` (the last hour may be partial)."""
    whole = min(int(hours), len(path))
    total = math.fsum(path[:whole])
    if whole < len(path) and hours > whole:
        total += path[whole] * (hours - whole)
    return total


def overhead_g(
    power_kw: float,
    overlap_hours: float,
    checkpoint_gb: float,
    source: Sequence[float],
    target: Sequence[float],
    kwh_per_gb: float = KWH_PER_GB,
) -> float:
    """Grams of double running (the source copy over the overlap) plus the checkpoint transfer."""
    transfer_kwh = checkpoint_gb * kwh_per_gb
    return power_kw * _integral(source, overlap_hours) + transfer_kwh * (source[0] + target[0]) / 2


def saving_g(
    power_kw: float,
    source: Sequence[float],
    target: Sequence[float],
    hours: float,
    overlap_hours: float,
    checkpoint_gb: float,
    kwh_per_gb: float = KWH_PER_GB,
) -> Saving:
    """Forecast saving of moving now over ``hours``, and its overhead (module docstring).

    ``hours`` is clipped to the shorter path; both paths must be non-empty.
    """
    if not source or not target:
        raise MigrationError("source and target forecasts must be non-empty")
    hours = min(hours, len(source), len(target))
    gross = power_kw * (_integral(source, hours) - _integral(target, hours))
    cost = overhead_g(power_kw, overlap_hours, checkpoint_gb, source, target, kwh_per_gb)
    return Saving(gross, cost)


def net_grams(
    source: StepSeries,
    target: StepSeries,
    *,
    power_kw: float,
    start: float,
    end: float,
    overlap_minutes: float,
    checkpoint_gb: float,
    kwh_per_gb: float = KWH_PER_GB,
) -> Saving:
    """Realised grams of a migration started at ``start`` and held until ``end`` (POSIX seconds).

    On observed series: never migrating (the source over ``[start, end)``) against the target over
    the same span plus the source over the overlap plus the transfer. ``net_g`` is negative when
    the move cost more than it saved.
    """
    watts = power_kw * 1000.0
    drained = min(start + overlap_minutes * 60.0, end)
    stayed = emissions_g(source, watts, start, end)
    moved = emissions_g(target, watts, start, end)
    doubled = emissions_g(source, watts, start, drained)
    transfer_kwh = checkpoint_gb * kwh_per_gb
    ends = (_value_at(source, start) + _value_at(target, start)) / 2
    return Saving(stayed - moved, doubled + transfer_kwh * ends)


def _value_at(series: StepSeries, t: float) -> float:
    return float(series.values[bisect_right(series.times, t) - 1])


@dataclass(frozen=True)
class SubjectState:
    """What the policy remembers of one workload.

    ``moved_at`` is the last move (or the placement: the dwell counts from it); ``moves`` the
    starts of moves in the last 24 hours; ``pending``/``confirmed`` the candidate target and how
    many consecutive evaluations chose it; ``rollbacks`` the consecutive rollbacks and
    ``cooldown_until`` when the last one's cooldown ends.
    """

    region: str
    moved_at: float | None = None
    moves: tuple[float, ...] = ()
    pending: str | None = None
    confirmed: int = 0
    rollbacks: int = 0
    cooldown_until: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (lists, floats, ints, strings, None)."""
        out = asdict(self)
        out["moves"] = list(self.moves)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubjectState:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                region=str(data["region"]),
                moved_at=_optional_float(data.get("moved_at")),
                moves=tuple(float(t) for t in data.get("moves", ())),
                pending=None if data.get("pending") is None else str(data["pending"]),
                confirmed=int(data.get("confirmed", 0)),
                rollbacks=int(data.get("rollbacks", 0)),
                cooldown_until=_optional_float(data.get("cooldown_until")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MigrationError(f"invalid subject state {dict(data)!r}: {exc}") from None


@dataclass(frozen=True)
class GlobalState:
    """Starts of migrations (any workload) in the last hour, for the surge guard."""

    starts: tuple[float, ...] = field(default_factory=tuple)

    def recent(self, now: float) -> int:
        """Migrations started in ``(now - 1 h, now]``."""
        return sum(now - SECONDS_PER_HOUR < t <= now for t in self.starts)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return {"starts": list(self.starts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GlobalState:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(tuple(float(t) for t in data.get("starts", ())))
        except (TypeError, ValueError) as exc:
            raise MigrationError(f"invalid global state {dict(data)!r}: {exc}") from None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class Decision:
    """One evaluation: ``go`` or hold, why, the best target and its forecast grams."""

    go: bool
    reason: str
    source: str
    target: str | None = None
    saving_g: float = 0.0
    overhead_g: float = 0.0
    margin_g: float = 0.0
    threshold_g_per_kwh: float = 0.0

    @property
    def net_g(self) -> float:
        """Forecast saving net of the overhead."""
        return self.saving_g - self.overhead_g

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, with ``net_g``."""
        return {**asdict(self), "net_g": self.net_g}


@dataclass(frozen=True)
class Evaluation:
    """A decision and the states to persist after it."""

    decision: Decision
    state: SubjectState
    global_state: GlobalState


def _prune(state: SubjectState, glob: GlobalState, now: float) -> tuple[SubjectState, GlobalState]:
    moves = tuple(t for t in state.moves if t > now - SECONDS_PER_DAY)
    starts = tuple(t for t in glob.starts if t > now - SECONDS_PER_HOUR)
    return replace(state, moves=moves), GlobalState(starts)


def _best_target(
    policy: MigrationPolicy, subject: Subject, source: str, forecast: Forecast
) -> tuple[str, Saving] | None:
    hours = policy.horizon_hours
    if subject.remaining_hours is not None:
        hours = min(hours, subject.remaining_hours)
    best: tuple[str, Saving] | None = None
    for region in sorted(subject.regions):
        if region == source or not forecast.get(region):
            continue
        candidate = saving_g(
            subject.power_kw,
            forecast[source],
            forecast[region],
            hours,
            subject.overlap_minutes / 60.0,
            subject.checkpoint_gb,
        )
        if best is None or candidate.net_g > best[1].net_g:
            best = (region, candidate)
    return best


def evaluate(
    policy: MigrationPolicy,
    state: SubjectState,
    global_state: GlobalState,
    subject: Subject,
    now: float,
    forecast: Forecast,
    *,
    renewable_share: float | None = None,
    fleet_migrating: int = 0,
    fleet_size: int = 1,
) -> Evaluation:
    """Whether ``subject`` (in ``state.region``) migrates at ``now`` (POSIX seconds).

    ``forecast`` holds the hourly forecast from ``now`` of the current region and the candidates
    (regions without one are not candidates); ``renewable_share`` (0..1) is the current region's;
    ``fleet_migrating`` of ``fleet_size`` are migrating now. On ``go`` the returned state is
    already in the target (call :func:`rolled_back` if the move fails).
    """
    source = state.region
    if renewable_share is not None:
        _check(renewable_share, "renewable_share", 0.0, 1.0)
    _check_count(fleet_size, "fleet_size", 1)
    _check_count(fleet_migrating, "fleet_migrating", 0)
    if not forecast.get(source):
        raise MigrationError(f"forecast: none for the current region {source}")
    state, glob = _prune(state, global_state, now)
    recent = glob.recent(now)
    surge = recent > policy.surge_limit_per_hour
    threshold = policy.threshold_g_per_kwh + (policy.surge_raise_g_per_kwh if surge else 0.0)
    surge_note = (
        f" (surge: {recent} migrations in the last hour > {policy.surge_limit_per_hour}, "
        f"threshold raised to {threshold:g} g/kWh)"
        if surge
        else ""
    )
    current = forecast[source][0]
    reset = replace(state, pending=None, confirmed=0)

    def hold(reason: str, kept: SubjectState, **grams: Any) -> Evaluation:
        decision = Decision(
            False, reason + surge_note, source, threshold_g_per_kwh=threshold, **grams
        )
        return Evaluation(decision, kept, glob)

    if current > threshold:
        trigger = f"{source} at {current:.0f} g/kWh > {threshold:g}"
    elif not surge and renewable_share is not None and renewable_share < policy.renewable_floor:
        trigger = f"{source} renewable share {renewable_share:.0%} < {policy.renewable_floor:.0%}"
    else:
        return hold(f"no trigger: {source} at {current:.0f} g/kWh <= {threshold:g}", reset)
    best = _best_target(policy, subject, source, forecast)
    if best is None:
        return hold(f"{trigger}; no other allowed region has a forecast", reset)
    target, saving = best
    margin = policy.margin_for(saving.overhead_g)
    grams = {
        "target": target,
        "saving_g": saving.saving_g,
        "overhead_g": saving.overhead_g,
        "margin_g": margin,
    }
    if not saving.net_g > margin:
        return hold(
            f"{trigger}; best target {target} nets {saving.net_g:.0f} g <= margin {margin:.0f} g",
            reset,
            **grams,
        )
    confirmed = state.confirmed + 1 if state.pending == target else 1
    confirmed = min(confirmed, policy.confirmations)
    kept = replace(state, pending=target, confirmed=confirmed)
    if confirmed < policy.confirmations:
        return hold(
            f"{trigger}; {target} nets {saving.net_g:.0f} g: "
            f"confirmation {confirmed}/{policy.confirmations}",
            kept,
            **grams,
        )
    blocked = _rate_guard(policy, state, now, fleet_migrating, fleet_size)
    if blocked:
        return hold(f"{trigger}; {target} nets {saving.net_g:.0f} g but {blocked}", kept, **grams)
    moved = SubjectState(
        region=target,
        moved_at=now,
        moves=(*state.moves, now),
        rollbacks=state.rollbacks,
        cooldown_until=state.cooldown_until,
    )
    decision = Decision(
        True,
        f"{trigger}; migrate to {target}: forecast net {saving.net_g:.0f} g > margin "
        f"{margin:.0f} g{surge_note}",
        source,
        threshold_g_per_kwh=threshold,
        **grams,
    )
    return Evaluation(decision, moved, GlobalState((*glob.starts, now)))


def _rate_guard(
    policy: MigrationPolicy,
    state: SubjectState,
    now: float,
    fleet_migrating: int,
    fleet_size: int,
) -> str | None:
    """Why the workload may not move now (cooldown, dwell, daily cap, fleet fraction), or None."""
    if state.cooldown_until is not None and now < state.cooldown_until:
        left = (state.cooldown_until - now) / 60.0
        return f"cooldown: {left:.0f} min left after {state.rollbacks} consecutive rollback(s)"
    if state.moved_at is not None and now - state.moved_at < policy.min_dwell_minutes * 60.0:
        return f"dwell: {(now - state.moved_at) / 60:.0f} of {policy.min_dwell_minutes:g} min"
    if len(state.moves) >= policy.max_per_workload_per_day:
        return f"daily cap: {len(state.moves)} moves in 24 h"
    allowed = max(1, math.floor(policy.max_fleet_fraction * fleet_size))
    if fleet_migrating + 1 > allowed:
        return f"fleet cap: {fleet_migrating} of {fleet_size} migrating (at most {allowed})"
    return None


def rolled_back(
    policy: MigrationPolicy, state: SubjectState, source: str, now: float
) -> SubjectState:
    """The state after the move begun from ``source`` was rolled back at ``now``: back in
    ``source``, one more consecutive rollback, and its (doubled) cooldown."""
    rollbacks = state.rollbacks + 1
    return replace(
        state,
        region=source,
        pending=None,
        confirmed=0,
        rollbacks=rollbacks,
        cooldown_until=now + policy.cooldown_seconds(rollbacks),
    )


def completed(state: SubjectState) -> SubjectState:
    """The state after a move completed: consecutive rollbacks start again from zero."""
    return replace(state, rollbacks=0, cooldown_until=None)
