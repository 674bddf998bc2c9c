"""Interruptible work: the lowest-carbon path of segments over (time slot, region).

Time after the earliest start is cut into slots of ``slot`` seconds (``min_segment`` divided into at
most 15-minute pieces, coarsened for very large problems). A dynamic programme over
``(units done, region, run length)`` picks which slots to run in which region so that every segment
lasts at least ``min_segment``, the job ends by its deadline, and each move to another region costs
``migration_penalty_g``. An infinite penalty keeps the job in one region (pauses allowed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carbon_aware.engine.placement import Segment
from carbon_aware.engine.signal import SignalMatrix
from carbon_aware.engine.windows import columns

MAX_SLOT_PIECE = 900.0
MAX_CELLS = 3_000_000
EPS = 1e-9


@dataclass(frozen=True)
class SegmentPlan:
    """Segments found by the programme, their emissions, and the objective (plus penalties)."""

    segments: tuple[Segment, ...]
    emissions_g: float
    objective_g: float


def _slot_length(min_segment: float, duration: float, horizon: float, regions: int) -> float:
    pieces = max(1, math.ceil(min_segment / MAX_SLOT_PIECE - EPS))
    while True:
        slot = min_segment / pieces
        units = math.ceil(duration / slot - EPS)
        cells = (horizon / slot) * (units + 1) * regions * (pieces + 1)
        if cells <= MAX_CELLS or pieces == 1:
            return slot
        pieces = math.ceil(pieces / 2)


def _min_other(x: np.ndarray, penalty: float) -> np.ndarray:
    """For each column r: min over columns q != r of ``x[:, q] + penalty``."""
    if x.shape[1] == 1 or math.isinf(penalty):
        return np.full(x.shape, np.inf)
    order = np.argsort(x, axis=1, kind="stable")
    first = np.take_along_axis(x, order[:, :1], axis=1)
    second = np.take_along_axis(x, order[:, 1:2], axis=1)
    own_is_first = np.arange(x.shape[1])[None, :] == order[:, :1]
    return np.where(own_is_first, second, first) + penalty


def plan_segments(
    matrix: SignalMatrix,
    regions: Sequence[str],
    earliest: float,
    deadline: float,
    duration: float,
    min_segment: float,
    power_watts: float,
    migration_penalty_g: float = math.inf,
) -> SegmentPlan | None:
    """Cheapest segmented schedule, or None when no schedule meets the deadline with the data."""
    n_regions = len(regions)
    slot = _slot_length(min_segment, duration, deadline - earliest, n_regions)
    units = math.ceil(duration / slot - EPS)
    last_unit = duration - (units - 1) * slot
    n_slots = math.floor((deadline - earliest - last_unit) / slot + EPS) + 1
    if n_slots < units:
        return None
    m = min(round(min_segment / slot), units)
    m_final = min(max(math.ceil((min_segment - last_unit) / slot - EPS) + 1, 1), units)
    cap = max(m, m_final)

    cols = columns(matrix, regions)
    slot_starts = earliest + slot * np.arange(n_slots)
    grams_per_unit = power_watts / 1000.0
    full = matrix.run_integrals(cols, slot_starts, slot) * grams_per_unit
    full[slot_starts + slot > deadline + EPS] = np.inf
    part = matrix.run_integrals(cols, slot_starts, last_unit) * grams_per_unit

    inf = np.inf
    run = np.full((units + 1, n_regions, cap + 1), inf)
    idle = np.full((units + 1, n_regions + 1), inf)
    idle[0, n_regions] = 0.0
    best = (inf, -1, -1, -1)
    trail = []
    for j in range(n_slots):
        cost = np.empty((units, n_regions))
        cost[:-1] = full[j]
        cost[-1] = part[j]

        can_stop_l = m + np.argmin(run[:, :, m:], axis=2)
        can_stop = np.take_along_axis(run, can_stop_l[:, :, None], axis=2)[:, :, 0]

        stay_idle = idle[:, :n_regions] <= can_stop
        new_idle = idle.copy()
        new_idle[:, :n_regions] = np.where(stay_idle, idle[:, :n_regions], can_stop)

        # Starting a segment in r: resume after idling in r (or first start), or move from q != r.
        same = np.minimum(idle[:, :n_regions], idle[:, n_regions : n_regions + 1])
        same_src = np.where(
            idle[:, :n_regions] <= idle[:, n_regions : n_regions + 1],
            np.arange(n_regions)[None, :],
            n_regions,
        )
        moved_idle = _min_other(idle[:, :n_regions], migration_penalty_g)
        moved_run = _min_other(can_stop, migration_penalty_g)
        options = np.stack([same, moved_idle, moved_run])
        kind = np.argmin(options, axis=0)
        start = np.take_along_axis(options, kind[None], axis=0)[0]

        new_run = np.full_like(run, inf)
        if cap > 1:
            new_run[1:, :, 1] = start[:-1] + cost
            new_run[1:, :, 2:cap] = run[:-1, :, 1 : cap - 1] + cost[:, :, None]
            into_cap = run[:-1, :, cap - 1]
        else:
            into_cap = start[:-1]
        keep_cap = run[:-1, :, cap]
        from_cap = keep_cap < into_cap
        new_run[1:, :, cap] = np.where(from_cap, keep_cap, into_cap) + cost

        done = new_run[units, :, m_final:]
        if done.size and done.min() < best[0] - EPS:
            r, dl = np.unravel_index(np.argmin(done), done.shape)
            best = (float(done.min()), j, int(r), int(dl) + m_final)
        new_run[units] = inf

        trail.append((stay_idle, can_stop_l, same_src, kind, from_cap, run, idle))
        run, idle = new_run, new_idle

    if not math.isfinite(best[0]):
        return None
    used = _backtrack(trail, best[1:], units, n_regions, cap)
    emitted = sum(part[j, r] if n == len(used) - 1 else full[j, r] for n, (j, r) in enumerate(used))
    return SegmentPlan(_merge(used, regions, slot_starts, slot, last_unit), float(emitted), best[0])


def _backtrack(
    trail: list, finish: tuple[int, int, int], units: int, n_regions: int, cap: int
) -> list[tuple[int, int]]:
    """Slots run, as (slot index, region index), walking the recorded decisions backwards."""
    j, r, length = finish
    state = ("run", units, r, length)
    used = []
    while j >= 0:
        stay_idle, can_stop_l, same_src, kind, from_cap, prev_run, prev_idle = trail[j]
        if state[0] == "idle":
            _, k, q = state
            if q == n_regions or stay_idle[k, q]:
                state = ("idle", k, q)
            else:
                state = ("run", k, q, int(can_stop_l[k, q]))
            j -= 1
            continue
        _, k, r, length = state
        used.append((j, r))
        if length == cap and from_cap[k - 1, r]:
            state = ("run", k - 1, r, cap)
        elif length > 1:
            state = ("run", k - 1, r, length - 1)
        else:
            state = _segment_source(k - 1, r, kind, same_src, can_stop_l, prev_run, prev_idle)
        j -= 1
    used.reverse()
    return used


def _segment_source(
    k: int,
    r: int,
    kind: np.ndarray,
    same_src: np.ndarray,
    can_stop_l: np.ndarray,
    prev_run: np.ndarray,
    prev_idle: np.ndarray,
) -> tuple:
    """The state a new segment in region ``r`` (with ``k`` units done before it) came from."""
    choice = kind[k, r]
    others = [q for q in range(kind.shape[1]) if q != r]
    if choice == 0:
        return ("idle", k, int(same_src[k, r]))
    if choice == 1:
        q = min(others, key=lambda q: prev_idle[k, q])
        return ("idle", k, q)
    stops = np.take_along_axis(prev_run, can_stop_l[:, :, None], axis=2)[:, :, 0]
    q = min(others, key=lambda q: stops[k, q])
    return ("run", k, q, int(can_stop_l[k, q]))


def _merge(
    used: list[tuple[int, int]],
    regions: Sequence[str],
    slot_starts: np.ndarray,
    slot: float,
    last_unit: float,
) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    for n, (j, r) in enumerate(used):
        start = float(slot_starts[j])
        end = start + (last_unit if n == len(used) - 1 else slot)
        prev = segments[-1] if segments else None
        if prev and prev.region == regions[r] and abs(prev.end - start) < EPS:
            segments[-1] = Segment(prev.region, prev.start, end)
        else:
            segments.append(Segment(regions[r], start, end))
    return tuple(segments)
