"""Placing many workloads at once without letting one bad workload stop the rest."""

from __future__ import annotations

from collections.abc import Iterable

from carbon_aware.engine.placement import Placement
from carbon_aware.engine.signal import SignalSet
from carbon_aware.engine.strategies import Strategy
from carbon_aware.engine.workload import Workload


def place_all(
    workloads: Iterable[Workload], signals: SignalSet, strategy: Strategy
) -> list[Placement]:
    """One placement per workload; unexpected errors become ``infeasible`` results."""
    results = []
    for workload in workloads:
        try:
            results.append(strategy.place(workload, signals))
        except (ValueError, ArithmeticError) as exc:
            results.append(Placement.infeasible(workload.id, strategy.name, f"error: {exc}"))
    return results
