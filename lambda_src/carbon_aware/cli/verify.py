"""Recompute every reported gram from the exported record and the stored intensities.

An interruptible workload's grams are its segments' (``segments.runs``, with the pieces a
migration moved a segment from), each recomputed.

For each finished workload: its power from the stored spec, the run span from the result, the
baseline span (home region, from submission, same duration), the intensities read as the
completion read them (the signals table at the completion's time, or the built-in profiles), and
the engine's accounting; the recomputed grams must match the record within the tolerance and come
from the same provider.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbon_aware.cli.ledger import Entry
from carbon_aware.engine.accounting import Series, Span, emissions_g
from carbon_aware.engine.signal_type import SignalError, SignalType
from carbon_aware.runtime.segments import pieces

TOLERANCE = 0.001  # 0.1 %
HOUR = 3600.0

SourceFor = Callable[[Mapping[str, Any], str], Callable[[Sequence[Span]], list[Series]]]


@dataclass
class Verification:
    """What the recomputation found."""

    checked: int = 0
    matched: int = 0
    mismatches: list[str] = field(default_factory=list)
    largest_error: float = 0.0

    @property
    def ok(self) -> bool:
        """Every checked gram matched."""
        return not self.mismatches and self.checked == self.matched

    def compare(
        self,
        name: str,
        figures: Mapping[str, tuple[float, float]],
        tolerance: float,
        problems: Sequence[str] = (),
    ) -> None:
        """Count ``name`` matched unless a recorded figure (``{figure: (recorded, recomputed)}``)
        differs by more than ``tolerance`` or ``problems`` were already found."""
        found = list(problems)
        for figure, (recorded, again) in figures.items():
            error = abs(again - recorded) / max(abs(recorded), 1e-9)
            self.largest_error = max(self.largest_error, error)
            if error > tolerance:
                found.append(f"{figure} {recorded:.6g} recomputed {again:.6g} ({error:.2%})")
        if found:
            self.mismatches.append(f"{name}: " + "; ".join(found))
        else:
            self.matched += 1


def verify(
    entries: Iterable[Entry],
    items: Mapping[str, Mapping[str, Any]],
    source_for: SourceFor,
    tolerance: float = TOLERANCE,
) -> Verification:
    """Recompute ``entries`` (their exported ``items`` by workload id) with the series
    ``source_for(item, signal_type)`` returns for the run and baseline spans."""
    from carbon_aware.runtime.submission import workload_of

    outcome = Verification()
    for entry in entries:
        outcome.checked += 1
        item = items[entry.workload_id]
        try:
            power = workload_of(item["spec"]).power_watts
            spans = _spans(entry, item)
            series = source_for(item, entry.signal_type)(spans)
            grams = [
                emissions_g(x, power, span.start, span.end)
                for x, span in zip(series, spans, strict=True)
            ]
            recomputed = (sum(grams[0::2]), sum(grams[1::2]))
            ran = series[0]
        except (SignalError, KeyError, ValueError) as exc:
            outcome.mismatches.append(f"{entry.workload_id}: cannot recompute: {exc}")
            continue
        problems = []
        if ran.source != entry.provider:
            problems.append(f"provider {ran.source} where the record says {entry.provider}")
        figures = {
            "emissions_g": (entry.emissions_g, recomputed[0]),
            "baseline_g": (entry.baseline_g, recomputed[1]),
        }
        outcome.compare(entry.workload_id, figures, tolerance, problems)
    return outcome


def _spans(entry: Entry, item: Mapping[str, Any]) -> list[Span]:
    """Run and baseline spans, alternating: one pair for a whole run, one per segment of an
    interruptible workload (runtime.segments: each with its own baseline start, and each piece a
    migration moved it from)."""
    runs = pieces((item.get("segments") or {}).get("runs", []))
    if not runs:
        duration = entry.ended_at - entry.started_at
        return [
            Span(entry.region, entry.started_at, entry.ended_at),
            Span(entry.home_region, entry.submitted_at, entry.submitted_at + duration),
        ]
    spans = []
    for r in runs:
        length = max(float(r["ended_at"]) - float(r["started_at"]), 1.0)
        base = float(r["result"]["baseline_start"])
        spans += [Span(r["region"], float(r["started_at"]), float(r["started_at"]) + length)]
        spans += [Span(entry.home_region, base, base + length)]
    return spans


def table_source(table: str, client: Any = None) -> SourceFor:
    """Intensities from the signals table, read as the completion read them: at the time the
    record became final, with the record's signal type."""
    import boto3

    from carbon_aware.signals.cache import SignalCache
    from carbon_aware.signals.catalog import load_catalog
    from carbon_aware.signals.reader import CarbonReader

    cache = SignalCache(client or boto3.client("dynamodb"), table)
    catalog = load_catalog()

    def source_for(item: Mapping[str, Any], signal_type: str) -> Callable[..., list[Series]]:
        clock = _At(float(item["updated_at"]))
        reader = CarbonReader(cache, catalog, clock, signal_type=SignalType(signal_type))
        return reader.comparable

    return source_for


def profile_source() -> SourceFor:
    """Intensities from the built-in profiles (a deployment without a signals table)."""
    from carbon_aware.runtime.wiring import ProfileSignalSource

    comparable = ProfileSignalSource().comparable
    return lambda item, signal_type: comparable


@dataclass(frozen=True)
class _At:
    """A clock stopped at one instant."""

    t: float

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        raise RuntimeError("a verification never waits")


def verify_fleets(
    items: Iterable[Mapping[str, Any]],
    period: tuple[float, float],
    source_for: SourceFor,
    tolerance: float = TOLERANCE,
) -> Verification:
    """Recompute each fleet decision's footprint (``engine.fleet_footprint``) that ends in
    ``period``: its recorded instances, watts and prices with each region's intensity read
    from the stored series over the interval (not the intensity the record states)."""
    from carbon_aware.engine.fleet_footprint import recompute

    outcome = Verification()
    for item in items:
        decision = item.get("decision")
        try:
            record = json.loads(decision) if isinstance(decision, str) else dict(item)
        except ValueError:
            continue  # the ledger counts it as a decision without figures
        accounted = record.get("footprint") or {}
        if "regions" not in accounted or not period[0] <= float(accounted["end"]) < period[1]:
            continue
        outcome.checked += 1
        name = f"fleet {record.get('fleet')} at {accounted['end']}"
        try:
            start, end = float(accounted["start"]), float(accounted["end"])
            read = source_for({"updated_at": end}, str(accounted.get("signal_type", "average")))
            stored = {}
            for region in {*accounted["regions"], accounted["home"]}:
                (series,) = read([Span(region, start, end)])
                stored[region] = emissions_g(series, 1000.0, start, end) * HOUR / (end - start)
            audited = {
                **accounted,
                "home_intensity_g_per_kwh": stored[accounted["home"]],
                "regions": {
                    r: {**usage, "intensity_g_per_kwh": stored[r]}
                    for r, usage in accounted["regions"].items()
                },
            }
            again = recompute(audited)
        except (SignalError, KeyError, TypeError, ValueError) as exc:
            outcome.mismatches.append(f"{name}: cannot recompute: {exc}")
            continue
        figures = {
            figure: (float(record.get(figure, accounted[figure])), again[figure])
            for figure in ("emissions_g", "baseline_g", "cost_usd")
        }
        outcome.compare(name, figures, tolerance)
    return outcome
