"""Batched decisions equal one-at-a-time decisions bit for bit, and so do their backtests."""

from __future__ import annotations

import numpy as np
import pytest

from carbon_aware.engine import Signal, SignalSet, Workload, get_strategy
from carbon_aware.engine.backtest import run_backtest
from carbon_aware.engine.window_batch import place_batch

T0 = 1_700_000_000.0
MIN = 60.0


def irregular_signals(rng: np.random.Generator) -> SignalSet:
    """Four regions with mixed 5..90 minute steps, different spans and repeated values (ties)."""
    signals = []
    for name in ("a", "b", "c", "d"):
        first = float(rng.integers(0, 600))
        steps = rng.choice([5, 15, 30, 60, 90], size=int(rng.integers(60, 200)))
        times = T0 + MIN * (first + np.concatenate(([0], np.cumsum(steps))))
        values = rng.choice([100.0, 200.0, 250.5, 300.0], size=times.size - 1)
        signals.append(Signal.from_points(name, times[:-1], values, end=float(times[-1])))
    return SignalSet.of(signals)


def random_jobs(rng: np.random.Generator, count: int) -> list[Workload]:
    """Jobs at any second, some out of the data, some with no slack, some interruptible."""
    jobs = []
    names = ["a", "b", "c", "d", "zz"]
    for i in range(count):
        submitted = T0 + float(rng.uniform(-3600, 200 * 60 * 30))
        duration = float(rng.choice([60, 600, 3600, 5400, 7 * 3600])) + float(rng.integers(0, 90))
        slack = float(rng.choice([0.0, 1.0, 1800.0, 6 * 3600.0, 30 * 3600.0]))
        regions = tuple(rng.choice(names, size=int(rng.integers(1, 5)), replace=False))
        home = str(rng.choice([*regions, "a"]))
        jobs.append(
            Workload(
                f"j{i}",
                submitted,
                duration,
                submitted + duration + slack,
                home,
                tuple(str(r) for r in regions),
                float(rng.uniform(10, 900)),
                interruptible=bool(rng.random() < 0.1),
            )
        )
    return jobs


@pytest.mark.parametrize("name", ["time_shift", "combined"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_equals_one_at_a_time(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    signals, jobs = irregular_signals(rng), random_jobs(rng, 400)
    strategy = get_strategy(name)
    batched = place_batch(jobs, signals, strategy)
    decided = 0
    for job, placement in zip(jobs, batched, strict=True):
        if placement is not None:
            decided += 1
            assert placement == strategy.place(job, signals), job
    assert decided > 120  # many jobs are batched; the rest fall back to strategy.place


def test_unbatched_strategies_are_left_to_place() -> None:
    rng = np.random.default_rng(4)
    signals, jobs = irregular_signals(rng), random_jobs(rng, 20)
    assert place_batch(jobs, signals, get_strategy("carbon_time")) == [None] * len(jobs)


@pytest.mark.parametrize("name", ["time_shift", "combined", "carbon_time"])
def test_backtest_equals_one_at_a_time_backtest(name: str) -> None:
    """The perfect-forecast backtest (batched) equals one fed the actual series job by job."""
    rng = np.random.default_rng(5)
    signals, jobs = irregular_signals(rng), random_jobs(rng, 300)
    strategy = get_strategy(name)
    batched = run_backtest(jobs, signals, strategy).to_dict()
    one_by_one = run_backtest(jobs, signals, strategy, lambda job: signals, forecast_name="perfect")
    assert batched == one_by_one.to_dict()
    assert batched["summary"]["placed"] > 100
