"""The carbon-efficiency SLI: what a perfect forecast would have saved, computed after the fact.

A workload that SUCCEEDED with accounted grams waits in the oracle queue (the due index under
:data:`~carbon_aware.runtime.tables.AWAITING_ORACLE`, due :data:`SETTLE_AFTER` past its deadline,
when its whole allowed window has been observed); its completion puts it there
(:func:`oracle_due`). The scheduler's sweep settles each due one (:meth:`OracleSettler.settle`):

- it reads the intensities of the allowed regions (and home) over the allowed window
  ``[start_after, deadline]`` as observed, of the record's own signal type and provider class
  (:meth:`~carbon_aware.signals.reader.CarbonReader.observed`: the provider's cached
  observations; the built-in profile when the record was accounted on it);
- it places the workload with its own strategy on them and accounts the placement with the same
  energy model (the spec's power, the engine's accounting):
  :func:`~carbon_aware.engine.backtest.oracle_on_actual`, the backtests' oracle. The run's own
  duration is used, as for its baseline;
- it stores ``result.oracle_g`` (with ``oracle_saved_g``, ``oracle_signal_type``,
  ``oracle_provider``, ``oracle_segments``, ``oracle_at``) and leaves the queue in one
  conditional write: settling twice, or racing another sweep, changes nothing.

Observations still missing: looked at again :data:`RETRY_EVERY` later, until
:data:`GIVE_UP_AFTER` past the deadline; then ``result.oracle_error`` says why and the record
leaves the queue (so does a record accounted on our own forecasts, which are never observed).

The SLI (:func:`carbon_efficiency`) is a ratio of sums, never a mean of per-workload fractions:
each settled workload adds ``total = max(baseline_g - oracle_g, 0)`` (its oracle saving) and
``good = saved_g`` clipped to ``[0, total]`` (a workload neither more than meets nor more than
misses its own share). A workload whose oracle saving is ~0 adds ~0 to both sums, so it neither
divides by zero nor dilutes the others; a period whose total is 0 has no SLI value (the burn-rate
alarm's ``IF(total > 0, ...)`` is 0 then, the report says so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.engine.accounting import ProviderClass, Series, Span
from carbon_aware.engine.signal_type import SignalType
from carbon_aware.engine.timeutil import iso, parse_iso, to_seconds
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.observability import logger
from carbon_aware.runtime.repository import WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.states import State

HOUR = 3600.0
# Providers publish an hour's observation within about an hour; the monitor caches it at its next
# refresh.
SETTLE_AFTER = 2 * HOUR
RETRY_EVERY = HOUR
GIVE_UP_AFTER = 2 * 86400.0
# The result fields a settlement adds.
ORACLE_G = "oracle_g"
ORACLE_ERROR = "oracle_error"


class ObservedSource(Protocol):
    """Intensities as observed, of one signal type and provider class (None: not observed)."""

    def observed(
        self, spans: Sequence[Span], signal_type: SignalType, provider_class: ProviderClass
    ) -> list[Series | None]: ...


class NotYetObserved(Exception):
    """Some allowed region's window is not observed yet."""


def oracle_due(spec: Mapping[str, Any], result: Mapping[str, Any]) -> float | None:
    """When a SUCCEEDED workload's oracle can be settled; None when it has none (no grams)."""
    if "saved_g" not in result or not result.get("duration_seconds", 0) > 0:
        return None
    deadline = _deadline(spec)
    return None if deadline is None else deadline + SETTLE_AFTER


def _deadline(spec: Mapping[str, Any]) -> float | None:
    try:
        return to_seconds(parse_iso(str(spec["deadline"])))
    except (KeyError, ValueError):
        return None


def carbon_efficiency(saved_g: float, baseline_g: float, oracle_g: float) -> tuple[float, float]:
    """One workload's ``(good, total)`` grams of the carbon-efficiency SLI."""
    total = max(baseline_g - oracle_g, 0.0)
    return min(max(saved_g, 0.0), total), total


@dataclass(frozen=True)
class Settled:
    """What settling one record did (``outcome`` is the sweep's count name) and its SLI."""

    outcome: str
    good_g: float = 0.0
    total_g: float = 0.0


@dataclass(frozen=True)
class OracleSettler:
    """Computes and stores the oracle of final records whose window has been observed."""

    repo: WorkloadRepository
    source: ObservedSource
    settings: WorkloadSettings

    def settle(self, record: WorkloadRecord, now: float) -> Settled:
        """Store the oracle of one queued record. Never raises for the record's own faults
        (they are stored as ``oracle_error``); AWS errors and conflicts propagate."""
        result = record.result or {}
        try:
            fields = self.oracle(record, now)
        except NotYetObserved as exc:
            if now < (_deadline(record.spec) or now) + GIVE_UP_AFTER:
                self.repo.settle_oracle(record, {}, requeue_at=now + RETRY_EVERY)
                return Settled("oracle:waiting")
            fields = {ORACLE_ERROR: f"not observed {GIVE_UP_AFTER / HOUR:g} h after: {exc}"}
        except (ClientError, BotoCoreError):
            raise
        except Exception as exc:  # a record the oracle cannot read: say why, never retry it
            logger.warning("oracle: cannot settle", extra={"workload_id": record.workload_id})
            fields = {ORACLE_ERROR: f"{type(exc).__name__}: {exc}"[:300]}
        self.repo.settle_oracle(record, fields)
        if ORACLE_ERROR in fields:
            return Settled("oracle:error")
        good, total = carbon_efficiency(result["saved_g"], result["baseline_g"], fields[ORACLE_G])
        return Settled("oracle:stored", good, total)

    def oracle(self, record: WorkloadRecord, now: float) -> dict[str, Any]:
        """The oracle's result fields of a SUCCEEDED record (raises when it has none)."""
        from carbon_aware.engine.backtest import oracle_on_actual
        from carbon_aware.engine.signal import Signal, SignalSet
        from carbon_aware.runtime.submission import strategy_of, workload_of

        result = record.result or {}
        if record.status != State.SUCCEEDED or "saved_g" not in result:
            raise ValueError(f"{record.status} record without accounted grams")
        signal_type = SignalType(result["signal_type"])
        provider_class = ProviderClass[str(result["provider_class"]).upper()]
        if provider_class is ProviderClass.FORECAST:
            raise ValueError("accounted on our own forecasts, which are never observed")
        workload = workload_of(record.spec)
        duration = float(result["duration_seconds"])  # the run's own, as for its baseline
        deadline = max(workload.deadline, workload.start_after + duration)
        workload = dataclasses.replace(workload, duration=duration, deadline=deadline)
        regions = sorted({workload.home_region, *workload.regions})
        spans = [Span(r, workload.start_after, workload.deadline) for r in regions]
        series = self.source.observed(spans, signal_type, provider_class)
        missing = [r for r, s in zip(regions, series, strict=True) if s is None]
        if missing:
            raise NotYetObserved(f"no observations over the window in {', '.join(missing)}")
        actual = SignalSet.of(Signal.of_series(s) for s in series if s is not None)
        placement, grams = oracle_on_actual(
            workload, strategy_of(record.spec, self.settings), actual
        )
        return {
            ORACLE_G: grams,
            "oracle_saved_g": float(result["baseline_g"]) - grams,
            "oracle_signal_type": str(signal_type),
            "oracle_provider": "+".join(sorted({s.source for s in series if s is not None})),
            "oracle_segments": [
                {"region": s.region, "start": iso(s.start), "end": iso(s.end)}
                for s in placement.segments
            ],
            "oracle_at": now,
        }
