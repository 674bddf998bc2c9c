"""Exact search over uninterrupted runs: every (region, start) worth considering, vectorised.

For a step signal the cumulative integral ``F`` is piecewise linear with breakpoints at the signal's
points, so ``f(s) = F(s + d) - F(s)`` is piecewise linear with breakpoints at ``t_i`` and ``t_i - d``.
Its minimum (and maximum) over ``[earliest, latest]`` therefore lies at one of those breakpoints or at
an end of the interval. Evaluating exactly that candidate set gives the true optimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carbon_aware.engine.signal import SECONDS_PER_HOUR, SignalMatrix

TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class WindowTable:
    """Integral of intensity (g/kWh x h) for each candidate start (row) and region (column).

    ``inf`` marks starts where the region's data does not cover the whole run.
    """

    regions: tuple[str, ...]
    starts: np.ndarray
    duration: float
    integral: np.ndarray

    def feasible(self) -> np.ndarray:
        """Boolean mask of covered (region, start) cells."""
        return np.isfinite(self.integral)

    def mean_intensity(self) -> np.ndarray:
        """Average gCO2e/kWh over each candidate run."""
        return self.integral * (SECONDS_PER_HOUR / self.duration)


def ordered_regions(home: str, regions: Sequence[str]) -> list[str]:
    """Tie-break order: home region first, then by name."""
    rest = sorted(r for r in regions if r != home)
    return [home, *rest] if home in regions else rest


def candidate_starts(grid: np.ndarray, earliest: float, latest: float, duration: float) -> np.ndarray:
    """Sorted starts in ``[earliest, latest]`` where ``f`` can change slope, plus both ends."""
    lo, hi, lo_shifted, hi_shifted = np.searchsorted(
        grid, (earliest, latest, earliest + duration, latest + duration)
    )
    hi += hi < grid.size and grid[hi] == latest
    hi_shifted += hi_shifted < grid.size and grid[hi_shifted] == latest + duration
    return np.unique(
        np.concatenate(((earliest, latest), grid[lo:hi], grid[lo_shifted:hi_shifted] - duration))
    )


def window_table(
    matrix: SignalMatrix,
    regions: Sequence[str],
    earliest: float,
    latest: float,
    duration: float,
    *,
    only_earliest: bool = False,
) -> WindowTable:
    """Evaluate runs of ``duration`` starting in ``[earliest, latest]`` in each region."""
    if only_earliest or latest <= earliest:
        starts = np.array([earliest])
    else:
        starts = candidate_starts(matrix.grid, earliest, latest, duration)
    return WindowTable(
        tuple(regions),
        starts,
        duration,
        matrix.run_integrals(columns(matrix, regions), starts, duration),
    )


def columns(matrix: SignalMatrix, regions: Sequence[str]) -> np.ndarray | None:
    """Matrix columns of ``regions`` (None when that is every column in order)."""
    if tuple(regions) == matrix.regions:
        return None
    return np.array([matrix.index[r] for r in regions], dtype=np.intp)


def best_cell(score: np.ndarray) -> tuple[int, int] | None:
    """(start row, region column) of the lowest finite score; ties: earliest start, then column."""
    best = score.min() if score.size else np.inf
    if not np.isfinite(best):
        return None
    tied = score <= best + TIE_TOLERANCE * max(1.0, abs(float(best)))
    # Rows are sorted by start, columns by (home, name): the first tied cell in row-major order.
    row, col = np.unravel_index(np.argmax(tied), tied.shape)
    return int(row), int(col)
