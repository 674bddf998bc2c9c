"""A carbon ledger of finished workloads: exported records checked and summed per dimension.

Grams are only ever summed within one *view*. Location-based figures (average grid intensity,
GHG Protocol Scope 2 location-based) and marginal figures (consequential) are different
quantities and stay in separate views; the market-based view scales the location-based grams by
the user's uncovered fraction per region and month and is its own view too. A record whose
fields disagree about their signal type, or that lacks what its grams need, is flagged and left
out of every sum, never guessed.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from carbon_aware.cli.report_inputs import GRAMS_PER_TONNE, Coverage, Footprint
from carbon_aware.engine.timeutil import parse_iso, to_seconds
from carbon_aware.runtime.migrations.repository import MIGRATION_PREFIX
from carbon_aware.runtime.migrations.states import MigrationState

LOCATION = "location-based"
MARGINAL = "marginal (consequential)"
MARKET = "market-based"
VIEW_OF_SIGNAL = {"average": LOCATION, "marginal": MARGINAL}
FLEET_FIGURES = ("emissions_g", "baseline_g", "saved_g", "cost_usd")
FINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELLED")
DIMENSIONS = ("workload", "team", "tag", "region", "strategy", "provider")
VALUATION_NOTE = (
    "This is a valuation of attributional (location-based) savings at the configured price: "
    "what the avoided emissions would be worth. It is not a carbon offset, not a carbon "
    "credit and not a purchase, and it must not be netted against any emissions."
)


class BadRecord(ValueError):
    """An exported record the ledger cannot count; the message says why."""


@dataclass(frozen=True)
class Entry:
    """One finished workload's accounted grams and what they rest on."""

    workload_id: str
    status: str
    strategy: str
    region: str
    home_region: str
    started_at: float
    ended_at: float
    submitted_at: float
    emissions_g: float
    baseline_g: float
    saved_g: float
    signal_type: str
    provider: str
    estimated: bool
    tags: dict[str, str]
    oracle_g: float | None

    @property
    def view(self) -> str:
        """The view its grams belong to."""
        return VIEW_OF_SIGNAL[self.signal_type]


def entry_of(item: Mapping[str, Any]) -> Entry:
    """The ledger entry of an exported workload item; :class:`BadRecord` when it cannot count."""
    wid = str(item.get("workload_id") or item.get("id") or "?")
    status = str(item.get("status"))
    if status not in FINAL:
        raise BadRecord(f"{wid}: not final ({status})")
    result = item.get("result")
    if not isinstance(result, Mapping):
        raise BadRecord(f"{wid}: no result")
    if "accounting_error" in result:
        raise BadRecord(f"{wid}: not accounted: {result['accounting_error']}")
    kind = result.get("signal_type")
    if kind not in VIEW_OF_SIGNAL:
        raise BadRecord(f"{wid}: signal_type {kind!r} is neither average nor marginal")
    for other in ("baseline_signal_type", "oracle_signal_type"):
        if other in result and result[other] != kind:
            raise BadRecord(f"{wid}: mixes signal types ({kind} and {other} {result[other]})")
    spec = item.get("spec") or {}
    try:
        grams = {k: _grams(result, k) for k in ("emissions_g", "baseline_g", "saved_g")}
        if abs(grams["baseline_g"] - grams["emissions_g"] - grams["saved_g"]) > 1e-6 * max(
            1.0, grams["baseline_g"]
        ):
            raise BadRecord(f"{wid}: saved_g is not baseline_g - emissions_g")
        oracle = result.get("oracle_g")
        return Entry(
            workload_id=wid,
            status=status,
            strategy=str((item.get("decision") or {}).get("strategy") or spec.get("strategy")),
            region=str(result["region"]),
            home_region=str(spec["home_region"]),
            started_at=float(result["started_at"]),
            ended_at=float(result["ended_at"]),
            submitted_at=to_seconds(parse_iso(spec["submitted_at"])),
            emissions_g=grams["emissions_g"],
            baseline_g=grams["baseline_g"],
            saved_g=grams["saved_g"],
            signal_type=kind,
            provider=str(result.get("provider") or "unknown"),
            estimated=bool(result.get("estimated", True)),
            tags={str(k): str(v) for k, v in (spec.get("tags") or {}).items()},
            oracle_g=None if oracle is None else float(oracle),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, BadRecord):
            raise
        raise BadRecord(f"{wid}: unreadable result: {exc!r}") from None


def _grams(result: Mapping[str, Any], name: str) -> float:
    value = float(result[name])
    if not math.isfinite(value) or (name != "saved_g" and value < 0):
        raise BadRecord(f"{name} is {value}")
    return value


def month_of(t: float) -> str:
    """``YYYY-MM`` of a POSIX time (UTC)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m")


@dataclass
class Totals:
    """Grams summed within one view and one group."""

    count: int = 0
    emissions_g: float = 0.0
    baseline_g: float = 0.0
    estimated_g: float = 0.0

    @property
    def saved_g(self) -> float:
        """Baseline minus emitted."""
        return self.baseline_g - self.emissions_g

    def add(self, emitted: float, baseline: float, estimated: bool) -> None:
        """Count one workload."""
        self.count += 1
        self.emissions_g += emitted
        self.baseline_g += baseline
        self.estimated_g += emitted if estimated else 0.0


@dataclass
class View:
    """One accounting view: totals per dimension value, never mixed with another view."""

    name: str
    total: Totals = field(default_factory=Totals)
    groups: dict[str, dict[str, Totals]] = field(
        default_factory=lambda: {d: defaultdict(Totals) for d in DIMENSIONS}
    )

    def add(self, entry: Entry, emitted: float, baseline: float, team_tag: str) -> None:
        """Count ``entry`` with the grams of this view."""
        keys = {
            "workload": [entry.workload_id],
            "team": [entry.tags.get(team_tag, "(none)")],
            "tag": [f"{k}={v}" for k, v in sorted(entry.tags.items())] or ["(untagged)"],
            "region": [entry.region],
            "strategy": [entry.strategy],
            "provider": [entry.provider],
        }
        self.total.add(emitted, baseline, entry.estimated)
        for dimension, values in keys.items():
            for value in values:
                self.groups[dimension][value].add(emitted, baseline, entry.estimated)

    @property
    def estimated_share(self) -> float | None:
        """Share of the emitted grams computed from estimates."""
        return self.total.estimated_g / self.total.emissions_g if self.total.emissions_g else None


@dataclass(frozen=True)
class Reconciliation:
    """Our location-/market-based grams against AWS's estimate for a region and month."""

    region: str
    month: str
    ours_location_g: float
    ours_market_g: float | None
    aws: Footprint


@dataclass
class MigrationTotals:
    """Migrations of one kind that ended in the period: how each ended, and the grams of those
    that recorded them (``gross - overhead = net``, from the basis given at their start)."""

    outcomes: dict[str, int] = field(default_factory=dict)
    accounted: int = 0
    gross_g: float = 0.0
    overhead_g: float = 0.0
    net_g: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, grams rounded to the microgram."""
        return {
            "outcomes": dict(sorted(self.outcomes.items())),
            "accounted": self.accounted,
            "gross_g": round(self.gross_g, 6),
            "overhead_g": round(self.overhead_g, 6),
            "net_g": round(self.net_g, 6),
        }


@dataclass
class Ledger:
    """Everything a carbon report shows, computed from exported records."""

    start: date
    end: date
    entries: list[Entry] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    views: dict[str, View] = field(default_factory=dict)
    market_configured: bool = False
    oracle_fraction: float | None = None
    oracle_count: int = 0
    price_per_tonne: float | None = None
    reconciliation: list[Reconciliation] = field(default_factory=list)
    fleets: dict[str, dict[str, float]] = field(default_factory=dict)
    migrations: dict[str, MigrationTotals] = field(default_factory=dict)

    @property
    def period(self) -> tuple[float, float]:
        """``[start, end + 1 day)`` in epoch seconds."""
        return _period(self.start, self.end)

    @property
    def valuation_usd(self) -> float | None:
        """Location-based saved tonnes times the configured price."""
        view = self.views.get(LOCATION)
        if self.price_per_tonne is None or view is None:
            return None
        return view.total.saved_g / GRAMS_PER_TONNE * self.price_per_tonne


def build_ledger(
    items: Iterable[Mapping[str, Any]],
    start: date,
    end: date,
    *,
    coverage: Coverage | None = None,
    team_tag: str = "team",
    price_per_tonne: float | None = None,
    ccft: Mapping[tuple[str, str], Footprint] | None = None,
    fleet_items: Iterable[Mapping[str, Any]] = (),
    migration_items: Iterable[Mapping[str, Any]] = (),
) -> Ledger:
    """The ledger of workloads that ended in ``[start, end]`` (UTC days, inclusive)."""
    ledger = Ledger(start, end, market_configured=coverage is not None)
    ledger.price_per_tonne = price_per_tonne
    lo, hi = _period(start, end)
    for item in items:
        try:
            entry = entry_of(item)
        except BadRecord as exc:
            if _ended_in(item, lo, hi):
                ledger.flagged.append(str(exc))
            continue
        if lo <= entry.ended_at < hi:
            ledger.entries.append(entry)
    ledger.entries.sort(key=lambda e: (e.ended_at, e.workload_id))
    for entry in ledger.entries:
        view = ledger.views.setdefault(entry.view, View(entry.view))
        view.add(entry, entry.emissions_g, entry.baseline_g, team_tag)
        if coverage is not None and entry.view == LOCATION:
            market = ledger.views.setdefault(MARKET, View(MARKET))
            emitted = entry.emissions_g * (
                1.0 - coverage.of(entry.region, month_of(entry.started_at))
            )
            baseline = entry.baseline_g * (
                1.0 - coverage.of(entry.home_region, month_of(entry.submitted_at))
            )
            market.add(entry, emitted, baseline, team_tag)
    _oracle(ledger)
    if ccft is not None:
        ledger.reconciliation = _reconcile(ledger, coverage, ccft)
    ledger.fleets = _fleets(fleet_items, lo, hi)
    ledger.migrations = _migrations(migration_items, lo, hi, ledger.flagged)
    return ledger


def _period(start: date, end: date) -> tuple[float, float]:
    lo = to_seconds(datetime(start.year, start.month, start.day, tzinfo=UTC))
    return lo, to_seconds(datetime(end.year, end.month, end.day, tzinfo=UTC)) + 86400.0


def _ended_in(item: Mapping[str, Any], lo: float, hi: float) -> bool:
    """Whether a record we cannot read belongs to the period (by its last update)."""
    try:
        return lo <= float(item.get("updated_at", lo)) < hi
    except (TypeError, ValueError):
        return True


def _oracle(ledger: Ledger) -> None:
    """Realised saving as a fraction of the perfect-forecast saving, over the records that say
    what a perfect forecast would have emitted (``result.oracle_g``), per view never mixed:
    reported for the location-based view. The carbon-efficiency SLI's own rule
    (:func:`~carbon_aware.runtime.oracle.carbon_efficiency`): a ratio of sums, each workload's
    saving clipped to ``[0, its oracle saving]``; None when no workload had anything to save."""
    from carbon_aware.runtime.oracle import carbon_efficiency

    with_oracle = [e for e in ledger.entries if e.oracle_g is not None and e.view == LOCATION]
    ledger.oracle_count = len(with_oracle)
    sli = [carbon_efficiency(e.saved_g, e.baseline_g, e.oracle_g) for e in with_oracle]  # type: ignore[arg-type]
    possible = sum(total for _, total in sli)
    if possible > 0:
        ledger.oracle_fraction = sum(good for good, _ in sli) / possible


def _reconcile(
    ledger: Ledger, coverage: Coverage | None, ccft: Mapping[tuple[str, str], Footprint]
) -> list[Reconciliation]:
    location: dict[tuple[str, str], float] = defaultdict(float)
    market: dict[tuple[str, str], float] = defaultdict(float)
    for entry in ledger.entries:
        if entry.view != LOCATION:
            continue
        key = (entry.region, month_of(entry.started_at))
        location[key] += entry.emissions_g
        if coverage is not None:
            market[key] += entry.emissions_g * (1.0 - coverage.of(*key))
    keys = sorted(set(location) | {k for k in ccft if ledger.start.isoformat()[:7] <= k[1]})
    return [
        Reconciliation(
            region,
            month,
            location.get((region, month), 0.0),
            market.get((region, month), 0.0) if coverage is not None else None,
            ccft.get((region, month), Footprint(None, None)),
        )
        for region, month in keys
        if month <= ledger.end.isoformat()[:7]
    ]


def _fleets(
    items: Iterable[Mapping[str, Any]], lo: float, hi: float
) -> dict[str, dict[str, float]]:
    """Grams and dollars of fleet decision records (``sk = decision#<time>``) in the period,
    summed per fleet, from the figures a decision states (its ``decision`` JSON as stored and
    exported, or the item itself): ``emissions_g``, ``baseline_g``, ``saved_g``, ``cost_usd``;
    ``accounted`` counts the decisions that state them (the others skipped their interval)."""
    fleets: dict[str, dict[str, float]] = {}
    for item in items:
        sk = str(item.get("sk", ""))
        if not sk.startswith("decision#"):
            continue
        try:
            at = to_seconds(parse_iso(sk.removeprefix("decision#")))
        except (TypeError, ValueError):
            continue
        if not lo <= at < hi:
            continue
        figures = dict(item)
        if isinstance(item.get("decision"), str):
            with contextlib.suppress(ValueError):  # unreadable: a decision without figures
                figures.update(json.loads(item["decision"]))
        name = str(item.get("fleet"))
        footprint = figures.get("footprint")
        signal = footprint.get("signal_type") if isinstance(footprint, Mapping) else None
        if signal is not None and VIEW_OF_SIGNAL.get(signal) != LOCATION:
            name += f" ({VIEW_OF_SIGNAL.get(signal, signal)})"  # never summed with location-based
        sums = fleets.setdefault(name, {"decisions": 0.0})
        sums["decisions"] += 1
        stated = False
        for name in FLEET_FIGURES:
            value = figures.get(name)
            if isinstance(value, int | float) and math.isfinite(value):
                sums[name] = sums.get(name, 0.0) + float(value)
                stated = True
        sums["accounted"] = sums.get("accounted", 0.0) + stated
    return fleets


def _migrations(
    items: Iterable[Mapping[str, Any]], lo: float, hi: float, flagged: list[str]
) -> dict[str, MigrationTotals]:
    """Migrations (``pk = migration#<id>``) that reached a final state in the period, per kind.
    Locks, policy state and live migrations are skipped; a record that cannot count is flagged."""
    totals: dict[str, MigrationTotals] = {}
    for item in items:
        pk = str(item.get("pk", ""))
        if not pk.startswith(MIGRATION_PREFIX):
            continue
        name = f"migration {pk.removeprefix(MIGRATION_PREFIX)}"
        try:
            state = MigrationState(str(item.get("state")))
            if not state.final:
                continue
            body = item["body"]
            body = json.loads(body) if isinstance(body, str) else body
            ended = float(body["updated_at"])
            if not lo <= ended < hi:
                continue
            grams = _migration_grams(body.get("grams") or {})
        except (KeyError, TypeError, ValueError) as exc:
            flagged.append(f"{name}: unreadable: {exc}")
            continue
        sums = totals.setdefault(str(item.get("kind")), MigrationTotals())
        sums.outcomes[str(state)] = sums.outcomes.get(str(state), 0) + 1
        if grams is not None:
            sums.accounted += 1
            sums.gross_g += grams[0]
            sums.overhead_g += grams[1]
            sums.net_g += grams[2]
    return totals


def _migration_grams(grams: Mapping[str, Any]) -> tuple[float, float, float] | None:
    """(gross, overhead, net) when the migration recorded them; ValueError when they disagree."""
    if grams.get("net_g") is None:
        return None
    gross, overhead, net = (float(grams[k]) for k in ("gross_g", "overhead_g", "net_g"))
    if not all(math.isfinite(v) for v in (gross, overhead, net)) or overhead < 0:
        raise ValueError(f"grams {gross}, {overhead}, {net}")
    if abs(gross - overhead - net) > 1e-6 * max(1.0, abs(gross)):
        raise ValueError("net_g is not gross_g - overhead_g")
    return gross, overhead, net
