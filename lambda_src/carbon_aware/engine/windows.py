"""Exact search over uninterrupted runs: every (region, start) worth considering, vectorised.

For a step signal the cumulative integral ``F`` is piecewise linear with breakpoints at the
signal's points, so ``f(s) = F(s + d) - F(s)`` is piecewise linear with breakpoints at ``t_i`` and
``t_i - d``. Its minimum (and maximum) over ``[earliest, latest]`` therefore lies at one of those
breakpoints or at an end of the interval. Evaluating exactly that candidate set gives the true
optimum.
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
    home: int | None = None

    def feasible(self) -> np.ndarray:
        """Boolean mask of covered (region, start) cells."""
        return np.isfinite(self.integral)

    def mean_intensity(self) -> np.ndarray:
        """Average gCO2e/kWh over each candidate run."""
        return self.integral * (SECONDS_PER_HOUR / self.duration)


def candidate_starts(
    grid: np.ndarray, earliest: float, latest: float, duration: float
) -> np.ndarray:
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
    home: str,
    earliest: float,
    latest: float,
    duration: float,
    *,
    only_earliest: bool = False,
) -> WindowTable:
    """Evaluate runs of ``duration`` starting in ``[earliest, latest]`` in each region.

    ``regions`` must be in the matrix's (sorted) order; ``home`` is remembered for tie-breaks.
    """
    if only_earliest or latest <= earliest:
        starts = np.array([earliest])
    else:
        starts = candidate_starts(matrix.grid, earliest, latest, duration)
    integral = matrix.run_integrals(columns(matrix, regions), starts, duration)
    home_col = list(regions).index(home) if home in regions else None
    return WindowTable(tuple(regions), starts, duration, integral, home_col)


def columns(matrix: SignalMatrix, regions: Sequence[str]) -> np.ndarray | None:
    """Matrix columns of ``regions`` (None when that is every column in order)."""
    if tuple(regions) == matrix.regions:
        return None
    return np.array([matrix.index[r] for r in regions], dtype=np.intp)


def best_cell(score: np.ndarray, home: int | None = None) -> tuple[int, int] | None:
    """(start row, region column) of the lowest finite score, or None.

    Ties (within a relative 1e-9) go to the earliest start, then the home column, then the first
    column (regions are sorted by name).
    """
    best = score.min() if score.size else np.inf
    if not np.isfinite(best):
        return None
    tied = score <= best + TIE_TOLERANCE * max(1.0, abs(float(best)))
    row = int(np.argmax(tied.any(axis=1)))
    if home is not None and tied[row, home]:
        return row, home
    return row, int(np.argmax(tied[row]))
