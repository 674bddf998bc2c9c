"""The token bucket keeps every window within the published limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_aware.signals.errors import Skipped
from carbon_aware.signals.ratelimit import TokenBucket
from fakes.clock import FakeClock


def take(bucket: TokenBucket, clock: FakeClock, n: int) -> list[float]:
    times = []
    for _ in range(n):
        bucket.acquire()
        times.append(clock.now())
    return times


def test_burst_then_steady_rate():
    clock = FakeClock()
    bucket = TokenBucket("p", rate=2.0, capacity=3, clock=clock)
    times = take(bucket, clock, 7)
    start = times[0]
    assert [t - start for t in times] == pytest.approx([0, 0, 0, 0.5, 1.0, 1.5, 2.0])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=120))
def test_watttime_limit_holds_in_every_five_minute_window(gaps):
    clock = FakeClock()
    bucket = TokenBucket.for_limit("watttime", 3000, 300, burst=20, clock=clock, max_wait=1e9)
    times = []
    for gap in gaps:
        clock.advance(gap)
        times.extend(take(bucket, clock, 40))
    for i, t in enumerate(times):
        in_window = sum(1 for u in times[i:] if u < t + 300)
        assert in_window <= 3000


def test_refuses_to_wait_longer_than_max_wait():
    clock = FakeClock()
    bucket = TokenBucket("p", rate=0.01, capacity=1, clock=clock, max_wait=10)
    bucket.acquire()
    with pytest.raises(Skipped, match=r"rate limit: would wait 100\.0 s"):
        bucket.acquire()


def test_for_limit_rejects_a_burst_as_large_as_the_limit():
    with pytest.raises(ValueError, match="burst"):
        TokenBucket.for_limit("p", 100, 300, burst=100)
