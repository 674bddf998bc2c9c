"""Where the optimizer's signals come from, as small protocols so any source plugs in.

Carbon: the hourly forecast over the dwell horizon from the signal reader (the cache the monitor
fills, the built-in profile where it has nothing). Spot prices and placement scores: the
``signals.prices`` sources (``SpotPrices``, ``PlacementScores``) satisfy :class:`SpotPriceSource`
and :class:`PlacementScoreSource` as they are (wired over the signals table's price cache).
Without a signals table, :class:`NeutralMarket` answers "unknown price, neutral score" with that
provenance. Renewable shares: :class:`carbon_aware.signals.renewables.ProfileRenewables` over
the cached shares (the monitor refreshes them from Electricity Maps' power breakdown), falling back
to the built-in renewable-share profile (an estimate, so marked); without a signals table, the
profile alone. A region neither covers is unknown, which makes ``renewable_only`` exclude it with
the reason "renewable share unknown".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

# Imported here, not lazily as the signal reader does: the fleet_optimizer bundle (traced from its
# imports, scripts/build.py) must ship the numpy-backed signal module its reads return, and the
# cached sources :func:`cached_sources` builds.
from carbon_aware.engine.signal import SignalSet
from carbon_aware.signals.prices.placement import PlacementScores
from carbon_aware.signals.prices.spot import SpotPrices
from carbon_aware.signals.prices.store import PriceStore
from carbon_aware.signals.renewables import CachedRenewables, ProfileRenewables

HOUR = 3600.0
NEUTRAL_SCORE = 5


class PriceQuoteLike(Protocol):
    """A spot price (USD per instance-hour, None when unknown) and its provenance."""

    @property
    def value(self) -> float | None: ...

    @property
    def provenance(self) -> Any: ...


class ScoreQuoteLike(Protocol):
    """A placement score (1..10) and its provenance."""

    @property
    def score(self) -> int: ...

    @property
    def provenance(self) -> Any: ...


class SpotPriceSource(Protocol):
    """The cheapest spot price of a fleet's instance types in one region, and each type's."""

    def prices(self, region: str, instance_types: Sequence[str], now: float) -> PriceQuoteLike: ...

    def type_prices(self, region: str, instance_types: Sequence[str]) -> Mapping[str, float]:
        """Each type's price (USD per instance-hour) as last quoted; unknown types left out."""
        ...


class PlacementScoreSource(Protocol):
    """Placement scores per region; the result may carry ``budget_exhausted``."""

    def scores(
        self,
        regions: Sequence[str],
        instance_types: Sequence[str],
        target_capacity: int,
        now: float,
    ) -> Mapping[str, ScoreQuoteLike]: ...


class ShareQuoteLike(Protocol):
    """A renewable share (0..1) and where it came from."""

    @property
    def value(self) -> float: ...

    @property
    def source(self) -> str: ...


class RenewableSource(Protocol):
    """A region's renewable share now with its provenance, or None when unknown."""

    def quote(self, region: str, now: float) -> ShareQuoteLike | None: ...


class SignalSetSource(Protocol):
    """The signal reader's surface (``CarbonReader`` / ``ProfileSignalSource``)."""

    def signal_set(self, regions: Sequence[str], start: float, end: float) -> SignalSet: ...


@dataclass(frozen=True)
class CarbonForecast:
    """A region's hourly mean intensity from now (g/kWh) and where it came from."""

    values: tuple[float, ...]
    source: str


def carbon_forecasts(
    reader: SignalSetSource, regions: Sequence[str], now: float, hours: int
) -> dict[str, CarbonForecast]:
    """Hourly means over ``[now, now + hours h)`` per region the reader has a signal for."""
    signals = reader.signal_set(list(regions), now, now + hours * HOUR)
    found = {}
    for region in regions:
        if region not in signals:
            continue
        signal = signals[region]
        values = []
        for hour in range(hours):
            start = max(now + hour * HOUR, signal.start)
            end = min(now + (hour + 1) * HOUR, signal.end)
            if end <= start:
                break
            values.append(float(signal.integral(start, end)) * HOUR / (end - start))
        estimated = " (estimated)" if signal.estimated else ""
        found[region] = CarbonForecast(tuple(values), f"{signal.source}{estimated}")
    return found


def describe(provenance: Any) -> str:
    """A short text for a quote's provenance (``to_dict()``, a mapping, or anything printable)."""
    raw = provenance.to_dict() if hasattr(provenance, "to_dict") else provenance
    if isinstance(raw, Mapping):
        parts = [str(raw.get("source", "unknown"))]
        if raw.get("fallback"):
            parts.append("fallback")
        if raw.get("detail"):
            parts.append(str(raw["detail"]))
        return "; ".join(parts)
    return str(raw)


@dataclass(frozen=True)
class NeutralQuote:
    """A quote that knows nothing: no price, the neutral placement score."""

    value: float | None = None
    score: int = NEUTRAL_SCORE
    provenance: str = "neutral-default (no price or score source configured)"


class NeutralMarket:
    """Stand-in price and score source: unknown prices, neutral scores."""

    def prices(self, region: str, instance_types: Sequence[str], now: float) -> NeutralQuote:
        """No price known."""
        return NeutralQuote()

    def type_prices(self, region: str, instance_types: Sequence[str]) -> dict[str, float]:
        """No price known for any type."""
        return {}

    def scores(
        self,
        regions: Sequence[str],
        instance_types: Sequence[str],
        target_capacity: int,
        now: float,
    ) -> dict[str, NeutralQuote]:
        """The neutral score for every region."""
        return {r: NeutralQuote() for r in regions}


def cached_sources(
    store: PriceStore, ec2: Any, *, call_region: str, daily_budget: int
) -> tuple[SpotPrices, PlacementScores, ProfileRenewables]:
    """Spot prices, budgeted placement scores (called from ``call_region``) and renewable shares,
    all over the signals table's cache (shares falling back to the built-in profile);
    ``ec2(region)`` gives an EC2 client."""
    scores = PlacementScores(ec2, store, call_region=call_region, daily_budget=daily_budget)
    return SpotPrices(ec2, store), scores, ProfileRenewables(CachedRenewables(store))


def known_prices(quotes: Mapping[str, PriceQuoteLike]) -> dict[str, tuple[float, str]]:
    """Each region's price and its provenance; an unknown price takes the dearest known one
    (or 0 when none is known), so a missing price never attracts capacity."""
    known = [q.value for q in quotes.values() if q.value is not None and math.isfinite(q.value)]
    fill = max(known, default=0.0)
    out = {}
    for region, quote in quotes.items():
        if quote.value is not None and math.isfinite(quote.value):
            out[region] = (float(quote.value), describe(quote.provenance))
        else:
            out[region] = (fill, f"unknown, dearest known used ({describe(quote.provenance)})")
    return out
