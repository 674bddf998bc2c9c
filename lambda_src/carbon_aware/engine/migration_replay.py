"""Replay of the migration policy over hourly series: long-running workloads, no look-ahead.

Every hour each workload is evaluated by :func:`~carbon_aware.engine.migration.evaluate` on the
forecast issued for that hour (the caller's, built from past data only), with the previous hour's
observed renewable share of its region. A move starts at the hour, both copies run for the
workload's overlap, and the checkpoint is transferred (:mod:`carbon_aware.engine.migration`'s
overhead model). Emissions are accounted on the observed series; the baseline is every workload
staying in its home region all period. Each move's realised grams
(:func:`~carbon_aware.engine.migration.net_grams`) run from its start to the workload's next move
(or the period's end): it *paid for itself* when that net is positive. No rollbacks are simulated.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from carbon_aware.engine.accounting import Series
from carbon_aware.engine.migration import (
    SECONDS_PER_DAY,
    GlobalState,
    MigrationPolicy,
    Subject,
    SubjectState,
    evaluate,
    net_grams,
)
from carbon_aware.engine.signal_type import SECONDS_PER_HOUR

#: ``forecast(hour)``: the forecast issued at that hour, shape (horizon, regions).
IssuedForecast = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class Move:
    """One replayed migration: when (hour index), where, forecast and realised net grams."""

    workload_id: str
    hour: int
    source: str
    target: str
    forecast_net_g: float
    realised_net_g: float
    overhead_g: float


@dataclass(frozen=True)
class ReplayResult:
    """Totals of one replay."""

    workloads: int
    hours: int
    baseline_g: float
    emitted_g: float
    moves: tuple[Move, ...]
    surge_hours: int

    @property
    def saved_g(self) -> float:
        """Grams saved against never migrating, net of every overhead."""
        return self.baseline_g - self.emitted_g

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures: migrations per workload-day, saving, share that paid off."""
        days = self.workloads * self.hours * SECONDS_PER_HOUR / SECONDS_PER_DAY
        paid = sum(m.realised_net_g > 0 for m in self.moves)
        return {
            "migrations": len(self.moves),
            "per_workload_day": round(len(self.moves) / days, 3) if days else None,
            "baseline_kg": round(self.baseline_g / 1000, 1),
            "saved_kg": round(self.saved_g / 1000, 1),
            "saved_pct": round(100 * self.saved_g / self.baseline_g, 2)
            if self.baseline_g
            else None,
            "overhead_kg": round(sum(m.overhead_g for m in self.moves) / 1000, 2),
            "paid_share": round(paid / len(self.moves), 3) if self.moves else None,
            "realised_net_kg": round(sum(m.realised_net_g for m in self.moves) / 1000, 1),
            "forecast_net_kg": round(sum(m.forecast_net_g for m in self.moves) / 1000, 1),
            "surge_hours": self.surge_hours,
        }


def replay(
    policy: MigrationPolicy,
    workloads: Sequence[tuple[Subject, str]],
    regions: Sequence[str],
    start: float,
    carbon: np.ndarray,
    forecast: IssuedForecast,
    renewable_share: np.ndarray | None = None,
) -> ReplayResult:
    """Replay ``workloads`` (subject, home region) over ``carbon`` (hours x ``regions``, observed,
    the first hour starting at ``start``), deciding on ``forecast`` (module docstring)."""
    regions = tuple(regions)
    index = {r: i for i, r in enumerate(regions)}
    hours = carbon.shape[0]
    observed = [
        Series.from_points(r, start + np.arange(hours) * SECONDS_PER_HOUR, carbon[:, i])
        for i, r in enumerate(regions)
    ]
    states = [SubjectState(region=home, moved_at=start) for _, home in workloads]
    glob = GlobalState()
    started: list[tuple[int, int, str, str, float]] = []  # workload, hour, source, target, net
    draining: list[float] = []
    located = np.empty((hours, len(workloads)), dtype=int)
    surge_hours = 0
    for hour in range(hours):
        now = start + hour * SECONDS_PER_HOUR
        issued = forecast(hour)
        paths = {r: issued[:, i].tolist() for i, r in enumerate(regions)}
        draining = [t for t in draining if t > now]
        surged = False
        for k, (subject, _) in enumerate(workloads):
            share = None
            if renewable_share is not None and hour > 0:
                share = float(renewable_share[hour - 1, index[states[k].region]])
            result = evaluate(
                policy,
                states[k],
                glob,
                subject,
                now,
                {r: paths[r] for r in (states[k].region, *subject.regions)},
                renewable_share=share,
                fleet_migrating=len(draining),
                fleet_size=len(workloads),
            )
            decision = result.decision
            surged |= decision.threshold_g_per_kwh > policy.threshold_g_per_kwh
            if decision.go and decision.target is not None:
                started.append((k, hour, decision.source, decision.target, decision.net_g))
                draining.append(now + subject.overlap_minutes * 60.0)
            states[k], glob = result.state, result.global_state
            located[hour, k] = index[states[k].region]
        surge_hours += surged
    moves = _realise(workloads, started, observed, index, start, hours)
    emitted = sum(
        float(carbon[np.arange(hours), located[:, k]].sum()) * subject.power_kw
        for k, (subject, _) in enumerate(workloads)
    ) + sum(m.overhead_g for m in moves)
    baseline = sum(
        float(carbon[:, index[home]].sum()) * subject.power_kw for subject, home in workloads
    )
    return ReplayResult(len(workloads), hours, baseline, emitted, tuple(moves), surge_hours)


def _realise(
    workloads: Sequence[tuple[Subject, str]],
    started: Sequence[tuple[int, int, str, str, float]],
    observed: Sequence[Series],
    index: dict[str, int],
    start: float,
    hours: int,
) -> list[Move]:
    """Each move's realised grams from its start to the workload's next move or the end."""
    moves = []
    by_workload = sorted(started, key=lambda m: (m[0], m[1]))
    for k, group in itertools.groupby(by_workload, key=lambda m: m[0]):
        items = list(group)
        ends = [m[1] for m in items[1:]] + [hours]
        subject = workloads[k][0]
        for (_, hour, source, target, forecast_net), end in zip(items, ends, strict=True):
            realised = net_grams(
                observed[index[source]],
                observed[index[target]],
                power_kw=subject.power_kw,
                start=start + hour * SECONDS_PER_HOUR,
                end=start + end * SECONDS_PER_HOUR,
                overlap_minutes=subject.overlap_minutes,
                checkpoint_gb=subject.checkpoint_gb,
            )
            moves.append(
                Move(
                    subject.workload_id,
                    hour,
                    source,
                    target,
                    forecast_net,
                    realised.net_g,
                    realised.overhead_g,
                )
            )
    return moves
