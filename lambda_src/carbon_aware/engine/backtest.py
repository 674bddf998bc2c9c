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
    oracle: Placement | Exception,
) -> JobOutcome:
    """Account one decision against the baseline and the oracle on the actual series.

    ``oracle`` is the strategy's placement on the actual series (or the error it raised, which
    propagates only when the decision was placed).
    """
    if not placement.placed:
        return JobOutcome(workload, placement)
    baseline_run = Segment(
        workload.home_region, workload.submitted_at, workload.submitted_at + workload.duration
    )
    if isinstance(oracle, Exception):
        raise oracle
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
    jobs = list(jobs)
    on_actual = place_on_actual(jobs, actual, strategy, oracles)
    outcomes = []
    for workload, oracle in zip(jobs, on_actual, strict=True):
        try:
            if forecast is None:
                if isinstance(oracle, Exception):
                    raise oracle
                placement = oracle
            else:
                placement = strategy.place(workload, forecast(workload))
            outcomes.append(evaluate(workload, placement, strategy, actual, oracle))
        except (ValueError, ArithmeticError) as exc:
            failed = Placement.infeasible(workload.id, strategy.name, f"error: {exc}")
            outcomes.append(JobOutcome(workload, failed))
        if progress is not None:
            progress(1)
    return BacktestResult(strategy.name, forecast_name, tuple(outcomes))


def place_on_actual(
    jobs: Sequence[Workload],
    actual: SignalSet,
    strategy: Strategy,
    oracles: dict[str, Placement] | None = None,
) -> list[Placement | Exception]:
    """Each job's placement on the actual series (the oracle), or the error it raised.

    Batched where :mod:`~carbon_aware.engine.window_batch` can; reused from and stored in
    ``oracles`` (by job id) when given.
    """
    from carbon_aware.engine.window_batch import place_batch

    known = oracles if oracles is not None else {}
    todo = [i for i, job in enumerate(jobs) if job.id not in known]
    batch = place_batch([jobs[i] for i in todo], actual, strategy)
    decided: dict[int, Placement | Exception] = {}
    for i, placement in zip(todo, batch, strict=True):
        if placement is None:
            try:
                placement = strategy.place(jobs[i], actual)
            except (ValueError, ArithmeticError) as exc:
                decided[i] = exc
                continue
        decided[i] = placement
        if oracles is not None:
            oracles[jobs[i].id] = placement
    return [decided[i] if i in decided else known[job.id] for i, job in enumerate(jobs)]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 3) if whole > 0 else None
