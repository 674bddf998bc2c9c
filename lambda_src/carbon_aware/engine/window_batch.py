"""Many uninterrupted-run decisions at once: the exact search of :mod:`windows`, batched.

A backtest decides thousands of jobs on one signal set. Deciding them one at a time spends most of
its time in per-call numpy overhead on tables of a few dozen cells. Here the jobs that share a set
of region columns are decided together: each job's candidate starts (the same set as
:func:`~carbon_aware.engine.windows.candidate_starts`, sorted, padded with ``inf``) form one row of
a matrix, and the run integrals, coverage and tie-breaks of
:func:`~carbon_aware.engine.windows.best_cell` are evaluated elementwise with the same float
operations, so every decision is bit-identical to the one-at-a-time search.

Only the plain lowest-integral strategies (``time_shift``, ``combined``) on non-interruptible jobs
are batched; anything else (and any job without a finite cell, whose reason the one-at-a-time path
words) is left to ``strategy.place``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from carbon_aware.engine.placement import Placement, Segment
from carbon_aware.engine.signal import SECONDS_PER_HOUR, SignalMatrix, SignalSet
from carbon_aware.engine.strategies import Combined, Strategy, TimeShift
from carbon_aware.engine.windows import TIE_TOLERANCE
from carbon_aware.engine.workload import Workload

# Cells (jobs x candidate starts x regions) evaluated per array operation.
CHUNK_CELLS = 1 << 18


def batchable(strategy: Strategy) -> bool:
    """Whether :func:`place_batch` decides for this strategy (the lowest integral wins)."""
    return type(strategy) in (TimeShift, Combined)


def place_batch(
    workloads: Sequence[Workload], signals: SignalSet, strategy: Strategy
) -> list[Placement | None]:
    """The placement of each workload, or None where ``strategy.place`` must decide it."""
    out: list[Placement | None] = [None] * len(workloads)
    if not batchable(strategy):
        return out
    only_home = strategy.only_home
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, job in enumerate(workloads):
        allowed = (job.home_region,) if only_home else job.regions
        regions = tuple(sorted({r for r in allowed if r in signals}))
        if job.interruptible or not regions or job.latest_start < job.start_after:
            continue
        groups[regions].append(i)
    matrix = signals.matrix
    for regions, members in groups.items():
        cols = np.array([matrix.index[r] for r in regions], dtype=np.intp)
        for chunk in _chunks(matrix, members, workloads, len(regions)):
            jobs = [workloads[i] for i in chunk]
            decided = _decide(matrix, regions, cols, jobs, strategy)
            for i, placement in zip(chunk, decided, strict=True):
                out[i] = placement
    return out


def _chunks(
    matrix: SignalMatrix, members: list[int], workloads: Sequence[Workload], width: int
) -> list[list[int]]:
    """Members sorted by their candidate count, cut so that each chunk stays near CHUNK_CELLS."""
    earliest = np.array([workloads[i].start_after for i in members])
    latest = np.array([workloads[i].latest_start for i in members])
    duration = np.array([workloads[i].duration for i in members])
    span = np.searchsorted(matrix.grid, latest + duration) - np.searchsorted(matrix.grid, earliest)
    order = np.argsort(span, kind="stable")
    chunks: list[list[int]] = []
    current: list[int] = []
    for k in order.tolist():
        row = (2 * int(span[k]) + 4) * width  # the widest row so far (sorted)
        if current and row * (len(current) + 1) > CHUNK_CELLS:
            chunks.append(current)
            current = []
        current.append(members[k])
    if current:
        chunks.append(current)
    return chunks


def _starts(grid: np.ndarray, jobs: list[Workload]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted candidate starts per job (rows, ``inf``-padded) and each job's duration."""
    earliest = np.array([j.start_after for j in jobs])
    latest = np.array([j.latest_start for j in jobs])
    duration = np.array([j.duration for j in jobs])
    size = grid.size
    lo = np.searchsorted(grid, earliest)
    hi = np.searchsorted(grid, latest)
    lo_s = np.searchsorted(grid, earliest + duration)
    hi_s = np.searchsorted(grid, latest + duration)
    padded = np.append(grid, np.inf)
    hi += (hi < size) & (padded[np.minimum(hi, size)] == latest)
    hi_s += (hi_s < size) & (padded[np.minimum(hi_s, size)] == latest + duration)
    single = latest <= earliest
    n1 = np.where(single, 0, hi - lo)
    n2 = np.where(single, 0, hi_s - lo_s)
    k1 = np.arange(int(n1.max(initial=0)))
    k2 = np.arange(int(n2.max(initial=0)))
    first = np.where(k1 < n1[:, None], padded[np.minimum(lo[:, None] + k1, size)], np.inf)
    second = np.where(
        k2 < n2[:, None], padded[np.minimum(lo_s[:, None] + k2, size)] - duration[:, None], np.inf
    )
    ends = np.where(single, np.inf, latest)
    starts = np.concatenate((earliest[:, None], ends[:, None], first, second), axis=1)
    starts.sort(axis=1)
    return starts, duration


def _cumulative(matrix: SignalMatrix, cols: np.ndarray, x: np.ndarray) -> np.ndarray:
    """:meth:`SignalMatrix.cumulative_at` for a matrix of instants: ``x.shape + (len(cols),)``."""
    idx = np.searchsorted(matrix.grid, x, side="right") - 1
    np.clip(idx, 0, matrix.grid.size - 2, out=idx)
    base = matrix.cumulative[idx[..., None], cols]
    off = x != matrix.grid[idx]
    if off.any():
        rows = idx[off]
        base[off] += matrix.values[rows[:, None], cols] * (x[off] - matrix.grid[rows])[:, None]
    return base


def _decide(
    matrix: SignalMatrix,
    regions: tuple[str, ...],
    cols: np.ndarray,
    jobs: list[Workload],
    strategy: Strategy,
) -> list[Placement | None]:
    starts, duration = _starts(matrix.grid, jobs)
    real = np.isfinite(starts)
    starts = np.where(real, starts, starts[:, :1])  # padding: evaluated, then masked
    ends = starts + duration[:, None]
    total = _cumulative(matrix, cols, ends)
    total -= _cumulative(matrix, cols, starts)
    total *= 1.0 / SECONDS_PER_HOUR
    covered = (starts[..., None] >= matrix.lo[cols]) & (ends[..., None] <= matrix.hi[cols])
    covered &= real[..., None]
    total[~covered] = np.inf
    n = len(jobs)
    flat = total.reshape(n, -1)
    best = flat.min(axis=1)
    found = np.isfinite(best)
    limit = best + TIE_TOLERANCE * np.maximum(1.0, np.abs(np.where(found, best, 0.0)))
    tied = total <= limit[:, None, None]
    row = np.argmax(tied.any(axis=2), axis=1)
    tied_row = tied[np.arange(n), row]
    index = {r: c for c, r in enumerate(regions)}
    home = np.array([index.get(j.home_region, -1) for j in jobs])
    home_tied = (home >= 0) & tied_row[np.arange(n), np.maximum(home, 0)]
    col = np.where(home_tied, home, np.argmax(tied_row, axis=1))
    chosen_start = starts[np.arange(n), row].tolist()
    chosen = total[np.arange(n), row, col].tolist()
    out: list[Placement | None] = []
    for job, ok, start, c, integral in zip(
        jobs, found.tolist(), chosen_start, col.tolist(), chosen, strict=True
    ):
        if not ok:
            out.append(None)
            continue
        segment = Segment(regions[c], start, start + job.duration)
        out.append(strategy._placement(job, [segment], integral * job.power_watts / 1000.0))
    return out
