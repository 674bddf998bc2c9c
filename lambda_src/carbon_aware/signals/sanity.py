"""Data sanity: keep only points a decision can trust, and log why the others were dropped.

A point is rejected when its value is missing, not a number, negative or absurd (above
:data:`MAX_INTENSITY` gCO2e/kWh), when its time is unreadable, repeated, too old (``oldest``) or
too far ahead (``newest``). Rejections are logged once per reason with a count and an example.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from carbon_aware.engine.timeutil import iso, parse_iso
from carbon_aware.signals.errors import BadResponse, NoData

log = logging.getLogger(__name__)

MAX_INTENSITY = 2000.0


@dataclass(frozen=True)
class Cleaned:
    """Accepted points, sorted by time, and the rejection counts by reason."""

    times: list[float]
    values: list[float]
    rejected: dict[str, int]


def clean(
    provider: str,
    zone: str,
    points: Iterable[tuple[object, object]],
    *,
    scale: float = 1.0,
    oldest: float | None = None,
    newest: float | None = None,
) -> Cleaned:
    """Validate ``(ISO datetime, value)`` pairs; values are multiplied by ``scale`` first.

    Raises :class:`NoData` when there were no points at all and :class:`BadResponse` when every
    point was rejected.
    """
    accepted: dict[float, float] = {}
    rejected: Counter[str] = Counter()
    examples: dict[str, str] = {}
    seen_any = False
    for when, raw in points:
        seen_any = True
        reason, t, value = _check(when, raw, scale, oldest, newest)
        if reason is None and t in accepted:
            reason = "repeated time"
        if reason is not None:
            rejected[reason] += 1
            examples.setdefault(reason, f"{when!r} -> {raw!r}")
            continue
        accepted[t] = value
    for reason, count in rejected.items():
        log.warning(
            "%s %s: rejected %d point(s): %s (e.g. %s)",
            provider,
            zone,
            count,
            reason,
            examples[reason],
        )
    if not seen_any:
        raise NoData(provider, f"{zone}: empty data")
    if not accepted:
        summary = ", ".join(f"{n} {reason}" for reason, n in sorted(rejected.items()))
        raise BadResponse(provider, f"{zone}: no usable points ({summary})")
    times = sorted(accepted)
    return Cleaned(times, [accepted[t] for t in times], dict(rejected))


def _check(
    when: object, raw: object, scale: float, oldest: float | None, newest: float | None
) -> tuple[str | None, float, float]:
    if not isinstance(when, str):
        return "missing datetime", math.nan, math.nan
    try:
        t = parse_iso(when).timestamp()
    except ValueError:
        return "unreadable datetime", math.nan, math.nan
    if raw is None or isinstance(raw, bool):
        return "missing value", t, math.nan
    try:
        value = float(raw) * scale  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "not a number", t, math.nan
    if not math.isfinite(value):
        return "not a number", t, value
    if value < 0:
        return "negative", t, value
    if value > MAX_INTENSITY:
        return f"absurd (> {MAX_INTENSITY:g} g/kWh; wrong units?)", t, value
    if oldest is not None and t < oldest:
        return f"stale (before {iso(oldest)})", t, value
    if newest is not None and t > newest:
        return f"in the future (after {iso(newest)})", t, value
    return None, t, value
