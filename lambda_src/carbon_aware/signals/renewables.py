"""Renewable shares per Region: refreshed by the monitor from Electricity Maps' power breakdown,
cached beside the Region's prices in the signals table, read by the fleet optimizer.

A share is kept with its provenance (``electricitymaps``, when it was fetched, the hour it
describes, estimated or not) and fetched again once per refresh interval. Readers take it while it
was fetched at most ``max_age`` ago and otherwise answer None ("unknown"), which makes
``renewable_only`` exclude the Region with that reason rather than trust an old value.

The last fallback is the built-in profile (``carbon_aware/data/renewables.json``, built by
``scripts/build_renewable_profiles.py``: the median share by month x UTC hour of the Region's
zone, derived from Electricity Maps data, aggregates only): :class:`ProfileRenewables` answers from
it, marked as an estimate, so ``renewable_only`` works without an Electricity Maps key. A Region
whose zone has no profile stays unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from carbon_aware.engine.timeutil import iso
from carbon_aware.signals.prices.base import QuoteProvenance
from carbon_aware.signals.prices.store import PriceStore, price_item, price_partition
from carbon_aware.signals.profiles import data_document
from carbon_aware.signals.providers.electricitymaps import NAME, RenewableShare
from carbon_aware.signals.targets import Target

RENEWABLE_SHARE = price_item("renewable", "share")
PROFILE_FORMAT_VERSION = 1
DEFAULT_MAX_AGE = 3 * 3600.0
MAX_ERRORS = 10

Emit = Callable[[str, float, dict[str, str]], None]


class ShareSource(Protocol):
    """Electricity Maps' surface used here."""

    def supports(self, target: Target) -> bool: ...

    def renewable_share(self, target: Target, now: float) -> RenewableShare: ...


def refresh_renewables(
    source: ShareSource,
    targets: Iterable[Target],
    store: PriceStore,
    now: float,
    emit: Emit,
    *,
    interval: float,
) -> dict[str, Any]:
    """Fetch each supported zone's share once per ``interval``, store it for each of its Regions
    and emit ``RenewableSharePercent`` per Region; a failing zone is counted, the others go on."""
    stored, failed, errors = 0, 0, []
    for target in targets:
        if not source.supports(target):
            continue
        cached = store.get(price_partition(target.region), RENEWABLE_SHARE)
        if cached is not None and cached.age(now) < interval:
            continue
        try:
            found = source.renewable_share(target, now)
            estimated = ", estimated" if found.estimated else ""
            detail = f"zone {found.zone}, hour of {iso(found.at)}{estimated}"
            provenance = QuoteProvenance(NAME, now, detail=detail)
            for region in target.regions:
                store.put(price_partition(region), RENEWABLE_SHARE, found.share, provenance)
                emit("RenewableSharePercent", round(found.share * 100, 2), {"Region": region})
                stored += 1
        except Exception as exc:  # one zone never stops the others
            failed += 1
            if len(errors) < MAX_ERRORS:
                errors.append(f"{target.zone}: {type(exc).__name__}: {exc}")
    return {"regions": stored, "failed": failed, "errors": errors}


@dataclass(frozen=True)
class ShareQuote:
    """A renewable share (0..1) and where it came from."""

    value: float
    source: str


@dataclass(frozen=True)
class CachedRenewables:
    """The fleet optimizer's renewable-share source over the signals table."""

    store: PriceStore
    max_age: float = DEFAULT_MAX_AGE

    def share(self, region: str, now: float) -> float | None:
        """The cached share (0..1) of ``region``, or None when unknown or older than max_age."""
        found = self.quote(region, now)
        return None if found is None else found.value

    def quote(self, region: str, now: float) -> ShareQuote | None:
        """The cached share with its provenance, or None when unknown or older than max_age."""
        cached = self.store.get(price_partition(region), RENEWABLE_SHARE)
        if cached is None or cached.age(now) > self.max_age:
            return None
        detail = cached.provenance.detail
        source = f"{cached.provenance.source} ({detail})" if detail else cached.provenance.source
        return ShareQuote(float(cached.payload), source)


@cache
def _profiles() -> dict[str, Any]:
    return data_document("renewables.json", PROFILE_FORMAT_VERSION)


def profile_regions() -> list[str]:
    """Regions that have a built-in renewable-share profile, sorted."""
    return sorted(_profiles()["regions"])


def profile_share(region: str, now: float) -> ShareQuote | None:
    """The built-in profile's share of ``region`` for the UTC month and hour of ``now`` (an
    estimate), or None when the Region's zone has no profile."""
    doc = _profiles()
    entry = doc["regions"].get(region)
    if entry is None:
        return None
    at = datetime.fromtimestamp(now, UTC)
    percent = float(entry["month_hour"][at.month - 1][at.hour])
    source = (
        f"profile (estimate): zone {entry['zone']}, median of {at:%B} at {at.hour:02d}:00 UTC "
        f"in {doc['year']}"
    )
    return ShareQuote(percent / 100, source)


@dataclass(frozen=True)
class ProfileRenewables:
    """Shares from ``live`` (the cache, when there is one), else the built-in profile."""

    live: CachedRenewables | None = field(default=None)

    def quote(self, region: str, now: float) -> ShareQuote | None:
        """The live share if known, else the profile's estimate, else None (unknown)."""
        found = self.live.quote(region, now) if self.live is not None else None
        return found if found is not None else profile_share(region, now)
