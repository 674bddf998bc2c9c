"""Grams of many spans at once, identical to :func:`~carbon_aware.engine.accounting.emissions_g`.

A backtest accounts three runs per job (baseline, decision, oracle) on the actual series. The spans
of one region are walked together, piece by piece, with the same float operations in the same
order as the one-span walk, so every figure equals the pure-Python accounting exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from carbon_aware.engine.placement import Segment, Span
from carbon_aware.engine.signal import SECONDS_PER_HOUR, SignalSet


def span_grams(
    spans: Sequence[Segment | Span], powers: Sequence[float], actual: SignalSet
) -> list[float | str]:
    """Grams of each span at its power on ``actual``, or the accounting error's message."""
    out: list[float | str] = [""] * len(spans)
    by_region: dict[str, list[int]] = defaultdict(list)
    for i, span in enumerate(spans):
        by_region[span.region].append(i)
    for region, members in by_region.items():
        if region not in actual:
            for i in members:
                out[i] = f"no actual data for region {region}"
            continue
        signal = actual[region]
        start = np.array([spans[i].start for i in members])
        end = np.array([spans[i].end for i in members])
        power = np.array([powers[i] for i in members])
        covered = (signal.times[0] <= start) & (start <= end) & (end <= signal.end)
        total, stepped = _integrals(signal.times, signal.values, signal.end, start, end, covered)
        grams = total / SECONDS_PER_HOUR * power / 1000.0
        message = f"{region}: signal does not cover the interval"
        # The one-span walk returns a numpy scalar when it stepped onto one of the signal's points
        # and a Python float otherwise; they round differently (numpy's round is not Python's),
        # so the type is kept too.
        for k, i in enumerate(members):
            if not covered[k]:
                out[i] = message
            else:
                out[i] = grams[k] if stepped[k] else float(grams[k])
    return out


def _integrals(
    times: np.ndarray,
    values: np.ndarray,
    stop: float,
    start: np.ndarray,
    end: np.ndarray,
    covered: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``value * width`` over the pieces of each covered ``[start, end)``, in order, and
    whether a piece ended on one of the signal's points (rather than at ``end`` or ``stop``)."""
    total = np.zeros(start.size)
    stepped = np.zeros(start.size, dtype=bool)
    nxt = np.append(times[1:], stop)
    live = np.flatnonzero(covered & (start < end))
    idx = np.searchsorted(times, start[live], side="right") - 1
    at = start[live]
    while live.size:
        following, finish = nxt[idx], end[live]
        until = np.minimum(following, finish)
        total[live] += values[idx] * (until - at)
        stepped[live] |= (following <= finish) & (idx + 1 < times.size)
        going = until < finish
        live, idx, at = live[going], idx[going] + 1, until[going]
    return total, stepped
