"""Backtests: decide each job once at submission, then account emissions on the actual series.

- baseline: start at ``submitted_at`` in the home region and run in one piece;
- placed: the strategy's decision on the forecast it was given, evaluated on the actual series;
- oracle: the same strategy with perfect knowledge (the actual series as its forecast).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.accounting import emissions_g
from carbon_aware.engine.placement import INFEASIBLE, PLACED, Placement, Segment
from carbon_aware.engine.signal import SignalError, SignalSet
from carbon_aware.engine.strategies import Strategy
from carbon_aware.engine.workload import Workload

ForecastFn = Callable[[Workload], SignalSet]


@dataclass(frozen=True)
class JobOutcome:
    """One job's decision and its grams on the actual series."""

    workload: Workload
    placement: Placement
    emissions_g: float | None = None
    baseline_g: float | None = None
    oracle_g: float | None = None

    @property
    def status(self) -> str:
        """``placed`` or ``infeasible``."""
        return PLACED if self.emissions_g is not None else INFEASIBLE

    def to_dict(self) -> dict[str, Any]:
        """JSON shape of one job in the backtest output."""
        placed = self.emissions_g is not None
        return {
            "id": self.workload.id,
            "status": self.status,
            "reason": None if placed else self.placement.reason,
            "segments": [s.to_dict() for s in self.placement.segments] if placed else [],
            "emissions_g": _round(self.emissions_g),
            "baseline_g": _round(self.baseline_g),
            "oracle_g": _round(self.oracle_g),
        }


@dataclass(frozen=True)
class BacktestResult:
    """All job outcomes and the summary figures."""

    strategy: str
    forecast: str
    outcomes: tuple[JobOutcome, ...]

    def summary(self) -> dict[str, Any]:
        """Totals over placed jobs; savings are against the baseline."""
        placed = [o for o in self.outcomes if o.emissions_g is not None]
        baseline = sum(o.baseline_g for o in placed)
        actual = sum(o.emissions_g for o in placed)
        oracle = sum(o.oracle_g for o in placed)
        return {
            "jobs": len(self.outcomes),
            "placed": len(placed),
            "infeasible": len(self.outcomes) - len(placed),
            "baseline_g": round(baseline, 3),
            "placed_g": round(actual, 3),
            "oracle_g": round(oracle, 3),
            "savings_pct": _pct(baseline - actual, baseline),
            "oracle_savings_pct": _pct(baseline - oracle, baseline),
            "fraction_of_oracle": (
                round((baseline - actual) / (baseline - oracle), 4) if baseline > oracle else None
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        """The backtest output JSON."""
        return {
            "strategy": self.strategy,
            "forecast": self.forecast,
            "summary": self.summary(),
            "jobs": [o.to_dict() for o in self.outcomes],
        }


def actual_emissions_g(segments: Sequence[Segment], power_watts: float, actual: SignalSet) -> float:
    """Grams of the segments on the actual series (raises SignalError when not covered)."""
    total = 0.0
    for seg in segments:
        if seg.region not in actual:
            raise SignalError(f"no actual data for region {seg.region}")
        total += emissions_g(actual[seg.region], power_watts, seg.start, seg.end)
    return total


def evaluate(
    workload: Workload,
    placement: Placement,
    strategy: Strategy,
    actual: SignalSet,
    oracles: dict[str, Placement] | None = None,
) -> JobOutcome:
    """Account one decision against the baseline and the oracle on the actual series.

    ``oracles`` (by job id) keeps the oracle placements for reuse: see :func:`run_backtest`.
    """
    if not placement.placed:
        return JobOutcome(workload, placement)
    baseline_run = Segment(
        workload.home_region, workload.submitted_at, workload.submitted_at + workload.duration
    )
    oracle = _oracle(workload, strategy, actual, oracles)
    try:
        baseline = actual_emissions_g([baseline_run], workload.power_watts, actual)
        emitted = actual_emissions_g(placement.segments, workload.power_watts, actual)
    except SignalError as exc:
        return JobOutcome(workload, Placement.infeasible(workload.id, strategy.name, str(exc)))
    if not oracle.placed:
        reason = f"oracle found no placement: {oracle.reason}"
        return JobOutcome(workload, Placement.infeasible(workload.id, strategy.name, reason))
    oracle_g = actual_emissions_g(oracle.segments, workload.power_watts, actual)
    return JobOutcome(workload, placement, emitted, baseline, oracle_g)


def run_backtest(
    jobs: Iterable[Workload],
    actual: SignalSet,
    strategy: Strategy,
    forecast: ForecastFn | None = None,
    *,
    forecast_name: str = "perfect",
    progress: Callable[[int], None] | None = None,
    oracles: dict[str, Placement] | None = None,
) -> BacktestResult:
    """Decide every job once at submission (on ``forecast(job)``, or ``actual`` when None).

    Pass the same ``oracles`` dict to backtests of the same jobs (unique ids), strategy and
    ``actual`` to place each job's oracle only once (e.g. when comparing forecasters).
    """
    outcomes = []
    for workload in jobs:
        try:
            signals = actual if forecast is None else forecast(workload)
            placement = strategy.place(workload, signals)
            outcomes.append(evaluate(workload, placement, strategy, actual, oracles))
        except (ValueError, ArithmeticError) as exc:
            failed = Placement.infeasible(workload.id, strategy.name, f"error: {exc}")
            outcomes.append(JobOutcome(workload, failed))
        if progress is not None:
            progress(1)
    return BacktestResult(strategy.name, forecast_name, tuple(outcomes))


def _oracle(
    workload: Workload,
    strategy: Strategy,
    actual: SignalSet,
    oracles: dict[str, Placement] | None,
) -> Placement:
    """The strategy's placement on the actual series (reused from ``oracles`` when given)."""
    if oracles is None:
        return strategy.place(workload, actual)
    if workload.id not in oracles:
        oracles[workload.id] = strategy.place(workload, actual)
    return oracles[workload.id]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 3) if whole > 0 else None
