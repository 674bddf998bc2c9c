"""The checkpointing example job, interrupted at seeded random points and resumed until done,
ends with the uninterrupted digest and loses bounded work (scripts/bench_checkpoint.py runs the
same campaign longer and prints the distributions).

Bounds asserted, with I the interval, C the longest commit and S the longest step seen:
SIGTERM loses no step (the agent commits the current state, then exit 75 within the budget);
a SIGKILL outside a write loses at most I + C + S; a SIGKILL during a write at most I + 2C + S,
so at most two intervals whenever C + S < I / 2 (plus scheduling slack).
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "bench_checkpoint", ROOT / "scripts" / "bench_checkpoint.py"
)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # its dataclasses look their module up
_spec.loader.exec_module(bench)

SETUP = bench.Setup(steps=16_000, step_work=300, interval=0.1, ballast_bytes=1 << 19)


@pytest.fixture(scope="module")
def expected() -> str:
    return bench.expected_digest(SETUP)


def assert_bounded(result, setup) -> None:
    assert not result.short, result.short
    assert len(result.interruptions) == setup.interruptions
    assert result.runs == setup.interruptions + 1
    assert {i.kind for i in result.interruptions} == set(bench.KINDS)
    commit = max(result.save_seconds)
    for i in result.interruptions:
        if i.kind == "sigterm":
            assert i.returncode == 75, i
            assert i.lost_steps == 0, i
            assert i.stop_seconds < setup.budget, i
            continue
        assert i.returncode == -signal.SIGKILL, i
        assert i.lost_seconds <= bench.lost_bound(i, result, setup), (i, commit)
        # Two intervals at most, whenever a commit takes under half an interval.
        if commit + result.max_step_seconds < setup.interval / 2:
            assert i.lost_seconds <= 2 * setup.interval, (i, commit)


def test_local_store_30_interruptions(expected):
    setup = bench.Setup(**{**SETUP.__dict__, "interruptions": 30, "seed": 11})
    with tempfile.TemporaryDirectory() as tmp:
        prefix = f"file://{tmp}/checkpoints/{bench.WORKLOAD}/"
        result = bench.campaign(setup, [prefix], bench.child_env({}), bench.verify_prefix)
    assert result.digest == expected
    assert_bounded(result, setup)


def test_s3_two_regions_9_interruptions(expected):
    setup = bench.Setup(**{**SETUP.__dict__, "interruptions": 9, "seed": 5})
    with bench.s3_prefixes() as (prefixes, env, s3):
        result = bench.campaign(
            setup, prefixes, bench.child_env(env), lambda p: bench.verify_prefix(p, s3)
        )
    assert result.digest == expected
    assert_bounded(result, setup)
    # Runs alternated between the two buckets, each resuming from the other's manifest.
    assert len(prefixes) == 2 and result.runs > 2
