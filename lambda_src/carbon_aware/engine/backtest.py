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
from carbon_aware.engine.placement import INFEASIBLE, PLACED, Placement, Segment, Span
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
        return job_rows([self])[0]


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
            "jobs": job_rows(self.outcomes),
        }


def job_rows(outcomes: Sequence[JobOutcome]) -> list[dict[str, Any]]:
    """:meth:`JobOutcome.to_dict` of each outcome, with every time formatted and every figure
    rounded in bulk (one numpy call each instead of one ``strftime``/``round`` per value).

    Times are ISO-8601 to the second as :func:`~carbon_aware.engine.timeutil.iso` writes them.
    Figures are rounded to 3 decimals as ``round`` rounds each one: numpy scalars (accounting
    that stepped onto a signal point) the numpy way, Python floats the Python way.
    """
    placed = [o for o in outcomes if o.emissions_g is not None]
    times = [t for o in placed for seg in o.placement.segments for t in (seg.start, seg.end)]
    stamps = iter(_iso_all(times))
    figures = [v for o in placed for v in (o.emissions_g, o.baseline_g, o.oracle_g)]
    rounded = iter(_round_all(figures))
    rows = []
    for o in outcomes:
        if o.emissions_g is None:
            row = {"id": o.workload.id, "status": INFEASIBLE, "reason": o.placement.reason}
            row |= {"segments": [], "emissions_g": None, "baseline_g": None, "oracle_g": None}
        else:
            segments = [
                {"region": seg.region, "start": next(stamps), "end": next(stamps)}
                for seg in o.placement.segments
            ]
            row = {"id": o.workload.id, "status": PLACED, "reason": None, "segments": segments}
            row |= {"emissions_g": next(rounded), "baseline_g": next(rounded)}
            row["oracle_g"] = next(rounded)
        rows.append(row)
    return rows


def _iso_all(seconds: list[float]) -> list[str]:
    """:func:`~carbon_aware.engine.timeutil.iso` of each instant (both round half to even)."""
    import numpy as np

    whole = np.round(np.array(seconds, dtype=np.float64)).astype(np.int64)
    text = np.datetime_as_string(whole.astype("datetime64[s]"), unit="s")
    return [f"{t}Z" for t in text.tolist()]


def _round_all(values: list[float]) -> list[float]:
    """``round(v, 3)`` of each value, numpy scalars rounded together (as numpy rounds them)."""
    import numpy as np

    out = list(values)
    numpy_at = [i for i, v in enumerate(values) if type(v) is not float]
    for i, v in zip(
        numpy_at, np.round(np.array([values[i] for i in numpy_at]), 3).tolist(), strict=True
    ):
        out[i] = v
    for i, v in enumerate(values):
        if type(v) is float:
            out[i] = round(v, 3)
    return out


def actual_emissions_g(segments: Sequence[Segment], power_watts: float, actual: SignalSet) -> float:
    """Grams of the segments on the actual series (raises SignalError when not covered)."""
    total = 0.0
    for seg in segments:
        if seg.region not in actual:
            raise SignalError(f"no actual data for region {seg.region}")
        total += emissions_g(actual[seg.region], power_watts, seg.start, seg.end)
    return total


def oracle_on_actual(
    workload: Workload, strategy: Strategy, actual: SignalSet
) -> tuple[Placement, float]:
    """The oracle of one job: ``strategy``'s placement with perfect knowledge (``actual`` as its
    forecast) and its grams accounted on ``actual``. Raises SignalError when it finds none."""
    oracle = strategy.place(workload, actual)
    if not oracle.placed:
        raise SignalError(f"oracle found no placement: {oracle.reason}")
    return oracle, actual_emissions_g(oracle.segments, workload.power_watts, actual)


# Grams of one span at one power on the actual series (or the accounting error's message).
SpanKey = tuple[str, float, float, float]


def evaluate(
    workload: Workload,
    placement: Placement,
    strategy: Strategy,
    oracle: Placement | Exception,
    grams: dict[SpanKey, float | str],
) -> JobOutcome:
    """Account one decision against the baseline and the oracle on the actual series.

    ``oracle`` is the strategy's placement on the actual series (or the error it raised, which
    propagates only when the decision was placed); ``grams`` holds every span's grams on the
    actual series (:func:`account_spans`).
    """
    if not placement.placed:
        return JobOutcome(workload, placement)
    if isinstance(oracle, Exception):
        raise oracle
    power = workload.power_watts
    try:
        baseline = _checked(grams[_baseline_key(workload)])
        emitted = _sum_grams(placement.segments, power, grams)
    except SignalError as exc:
        return JobOutcome(workload, Placement.infeasible(workload.id, strategy.name, str(exc)))
    if not oracle.placed:
        reason = f"oracle found no placement: {oracle.reason}"
        return JobOutcome(workload, Placement.infeasible(workload.id, strategy.name, reason))
    # A perfect-forecast decision is the oracle itself.
    oracle_g = emitted if oracle is placement else _sum_grams(oracle.segments, power, grams)
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
    decisions: list[Placement | Exception] = []
    for workload, oracle in zip(jobs, on_actual, strict=True):
        try:
            if forecast is None:
                decisions.append(oracle)
            else:
                decisions.append(strategy.place(workload, forecast(workload)))
        except (ValueError, ArithmeticError) as exc:
            decisions.append(exc)
        if progress is not None:
            progress(1)
    grams = account_spans(jobs, decisions, on_actual, actual)
    outcomes = []
    for workload, decision, oracle in zip(jobs, decisions, on_actual, strict=True):
        try:
            if isinstance(decision, Exception):
                raise decision
            outcomes.append(evaluate(workload, decision, strategy, oracle, grams))
        except (ValueError, ArithmeticError) as exc:
            failed = Placement.infeasible(workload.id, strategy.name, f"error: {exc}")
            outcomes.append(JobOutcome(workload, failed))
    return BacktestResult(strategy.name, forecast_name, tuple(outcomes))


def account_spans(
    jobs: Sequence[Workload],
    decisions: Sequence[Placement | Exception],
    oracles: Sequence[Placement | Exception],
    actual: SignalSet,
) -> dict[SpanKey, float | str]:
    """Grams on ``actual`` of every span :func:`evaluate` reads, accounted in one pass."""
    from carbon_aware.engine.span_grams import span_grams

    keys: dict[SpanKey, None] = {}
    for job, decision, oracle in zip(jobs, decisions, oracles, strict=True):
        if not isinstance(decision, Placement) or not decision.placed:
            continue
        power = job.power_watts
        keys[_baseline_key(job)] = None
        for seg in decision.segments:
            keys[(seg.region, seg.start, seg.end, power)] = None
        if isinstance(oracle, Placement) and oracle is not decision:
            for seg in oracle.segments:
                keys[(seg.region, seg.start, seg.end, power)] = None
    spans = [Span(region, start, end) for region, start, end, _ in keys]
    values = span_grams(spans, [key[3] for key in keys], actual)
    return dict(zip(keys, values, strict=True))


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


def _baseline_key(workload: Workload) -> SpanKey:
    """The baseline run's span: at submission in the home region, in one piece."""
    start = workload.submitted_at
    return (workload.home_region, start, start + workload.duration, workload.power_watts)


def _checked(value: float | str) -> float:
    """Accounted grams, or the accounting error (its message) raised as SignalError."""
    if isinstance(value, str):
        raise SignalError(value)
    return value


def _sum_grams(
    segments: Sequence[Segment], power_watts: float, grams: dict[SpanKey, float | str]
) -> float:
    """:func:`actual_emissions_g` read from accounted spans (raises SignalError the same way)."""
    total = 0.0
    for seg in segments:
        total += _checked(grams[(seg.region, seg.start, seg.end, power_watts)])
    return total


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 3) if whole > 0 else None
