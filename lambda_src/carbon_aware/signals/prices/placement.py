"""Spot placement scores from EC2 GetSpotPlacementScores, under a daily budget.

AWS limits how many distinct configurations (instance types or requirements, Regions, target
capacity) an account may query in a rolling 24 hours: over it the call fails with
``MaxConfigLimitExceeded`` ("You have exceeded your maximum allowed Spot placement configurations.
You can retry configurations that you used within the last 24 hours, or wait for 24 hours before
specifying a new configuration"; EC2 API error codes, and the EC2 User Guide, "Spot placement
score", Limitations). AWS does not publish the number; its Spot Placement Score Tracker sample
(aws-samples/ec2-spot-placement-score-tracker, README "Important notes") puts it at about 10.

So requests are canonicalised (sorted unique instance types and Regions, target capacity rounded
up to a power of two, at most 10 Regions per call as the API allows), each configuration's result
is cached for ``max_age`` (default 1 hour: 24 calls a day per configuration), and every call first
spends one unit of a daily budget kept in the signals table (a conditional counter; default 40
calls per UTC day). When the budget is spent or AWS refuses, the last known scores of the same
configuration are served, flagged ``fallback``; a Region never scored gets the neutral score 5
(middle of AWS's 1..10 scale: neither favoured nor avoided), flagged too. ``budget_exhausted``
says the budget (ours or AWS's) stopped a call, so the caller can emit a metric.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.signals.prices.base import (
    NEUTRAL,
    PLACEMENT_SCORES,
    QuoteProvenance,
    ScoreQuote,
)
from carbon_aware.signals.prices.store import LATEST, SCORE, Cached, PriceStore

REGIONS_PER_CALL = 10
NEUTRAL_SCORE = 5
DEFAULT_DAILY_BUDGET = 40
DEFAULT_MAX_AGE = 3600.0
REFUSED = "MaxConfigLimitExceeded"


@dataclass(frozen=True)
class ScoreSet(Mapping[str, ScoreQuote]):
    """Scores by Region (a read-only mapping) and whether a budget stopped a call."""

    scores: Mapping[str, ScoreQuote]
    budget_exhausted: bool = False
    calls: int = 0
    configurations: tuple[str, ...] = field(default=())

    def __getitem__(self, region: str) -> ScoreQuote:
        return self.scores[region]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scores)

    def __len__(self) -> int:
        return len(self.scores)


def capacity_bucket(target_capacity: int) -> int:
    """``target_capacity`` rounded up to a power of two (at least 1): fewer configurations."""
    bucket = 1
    while bucket < target_capacity:
        bucket *= 2
    return bucket


def canonical_requests(
    regions: Sequence[str], instance_types: Sequence[str], target_capacity: int
) -> list[dict[str, Any]]:
    """The GetSpotPlacementScores requests covering ``regions``, in canonical form."""
    names = sorted(set(regions))
    types = sorted(set(instance_types))
    capacity = capacity_bucket(target_capacity)
    return [
        {
            "InstanceTypes": types,
            "RegionNames": names[start : start + REGIONS_PER_CALL],
            "SingleAvailabilityZone": False,
            "TargetCapacity": capacity,
            "TargetCapacityUnitType": "units",
        }
        for start in range(0, len(names), REGIONS_PER_CALL)
    ]


def configuration_key(request: Mapping[str, Any]) -> str:
    """Cache partition of one canonical request."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return SCORE + hashlib.sha256(text.encode()).hexdigest()[:32]


class PlacementScores:
    """Region scores for a fleet's instance types and capacity, cached and budgeted."""

    def __init__(
        self,
        ec2: Callable[[str], Any],
        store: PriceStore,
        *,
        call_region: str,
        daily_budget: int = DEFAULT_DAILY_BUDGET,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        if daily_budget < 0:
            raise ValueError("daily_budget must not be negative")
        self.ec2 = ec2
        self.store = store
        self.call_region = call_region
        self.daily_budget = daily_budget
        self.max_age = max_age

    def scores(
        self,
        regions: Sequence[str],
        instance_types: Sequence[str],
        target_capacity: int,
        now: float,
    ) -> ScoreSet:
        """A score per Region: fresh cache, else a budgeted call, else last known or neutral."""
        found: dict[str, ScoreQuote] = {}
        exhausted = False
        calls = 0
        keys = []
        for request in canonical_requests(regions, instance_types, target_capacity):
            key = configuration_key(request)
            keys.append(key)
            cached = self.store.get(key)
            if cached is not None and cached.age(now) < self.max_age:
                found.update(_scored(request, cached))
                continue
            if not self.store.spend(now, self.daily_budget):
                exhausted = True
                found.update(_last_known(request, cached, "daily budget spent"))
                continue
            calls += 1
            try:
                scored = self._call(request)
            except (BotoCoreError, ClientError) as exc:
                code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else ""
                exhausted = exhausted or code == REFUSED
                found.update(_last_known(request, cached, f"refused: {exc}"))
                continue
            provenance = QuoteProvenance(PLACEMENT_SCORES, now)
            self.store.put(key, LATEST, scored, provenance)
            found.update(_scored(request, Cached(scored, provenance)))
        return ScoreSet(found, exhausted, calls, tuple(keys))

    def _call(self, request: Mapping[str, Any]) -> dict[str, int]:
        pages = self.ec2(self.call_region).get_paginator("get_spot_placement_scores")
        scored: dict[str, int] = {}
        for page in pages.paginate(**request):
            for entry in page.get("SpotPlacementScores", []):
                region, score = entry.get("Region"), entry.get("Score")
                if isinstance(region, str) and isinstance(score, int) and 1 <= score <= 10:
                    scored[region] = score
        return scored


def _scored(request: Mapping[str, Any], answer: Cached) -> dict[str, ScoreQuote]:
    """A call's scores, and the neutral score for each requested Region it did not score."""
    unscored = [r for r in request["RegionNames"] if r not in answer.payload]
    return {**_from_cache(answer, fallback=False), **_neutral(unscored, "")}


def _from_cache(cached: Cached, *, fallback: bool, why: str = "") -> dict[str, ScoreQuote]:
    p = cached.provenance
    provenance = QuoteProvenance(p.source, p.fetched_at, fallback, why)
    return {r: ScoreQuote(r, int(s), provenance) for r, s in cached.payload.items()}


def _last_known(
    request: Mapping[str, Any], cached: Cached | None, why: str
) -> dict[str, ScoreQuote]:
    known = _from_cache(cached, fallback=True, why=f"last known: {why}") if cached else {}
    missing = [r for r in request["RegionNames"] if r not in known]
    return {**known, **_neutral(missing, why)}


def _neutral(regions: Sequence[str], why: str) -> dict[str, ScoreQuote]:
    detail = f"never scored{': ' + why if why else ''}"
    provenance = QuoteProvenance(NEUTRAL, 0.0, True, detail)
    return {r: ScoreQuote(r, NEUTRAL_SCORE, provenance) for r in regions}
