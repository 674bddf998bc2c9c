"""Token bucket: at most ``capacity + rate * t`` requests in any window of ``t`` seconds."""

from __future__ import annotations

from carbon_aware.signals.clock import SYSTEM_CLOCK, Clock
from carbon_aware.signals.errors import Skipped


class TokenBucket:
    """A client-side rate limit for one provider endpoint family.

    To stay within a published limit of ``n`` requests per ``w`` seconds, use
    :meth:`for_limit`, which keeps ``capacity + rate * w <= n``.
    """

    def __init__(
        self,
        name: str,
        *,
        rate: float,
        capacity: float,
        clock: Clock = SYSTEM_CLOCK,
        max_wait: float = 30.0,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError(f"{name}: token bucket needs rate > 0 and capacity >= 1")
        self.name = name
        self.rate = rate
        self.capacity = capacity
        self.max_wait = max_wait
        self._clock = clock
        self._tokens = capacity
        self._updated = clock.now()

    @classmethod
    def for_limit(
        cls,
        name: str,
        requests: int,
        per_seconds: float,
        *,
        burst: int,
        clock: Clock = SYSTEM_CLOCK,
        max_wait: float = 30.0,
    ) -> TokenBucket:
        """A bucket that never exceeds ``requests`` in any window of ``per_seconds``."""
        if not 1 <= burst < requests:
            raise ValueError(f"{name}: burst must be between 1 and the limit")
        rate = (requests - burst) / per_seconds
        return cls(name, rate=rate, capacity=burst, clock=clock, max_wait=max_wait)

    def acquire(self) -> None:
        """Take one token, sleeping until one is free; :class:`Skipped` if that is too long."""
        self._refill()
        if self._tokens < 1:
            wait = (1 - self._tokens) / self.rate
            if wait > self.max_wait:
                raise Skipped(self.name, f"rate limit: would wait {wait:.1f} s")
            self._clock.sleep(wait)
            self._refill()
        self._tokens = max(self._tokens - 1, 0.0)

    def _refill(self) -> None:
        now = self._clock.now()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
