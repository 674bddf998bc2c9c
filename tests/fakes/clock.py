"""A clock that only moves when told to (or when code under test sleeps)."""

from __future__ import annotations

import threading

from carbon_aware.engine.timeutil import parse_iso, to_seconds

T0 = to_seconds(parse_iso("2025-03-06T12:00:00Z"))


class FakeClock:
    """``now()`` starts at :data:`T0`; ``sleep`` advances it instantly and is recorded."""

    def __init__(self, start: float = T0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
