"""Circuit breaker: stop calling a provider that keeps failing, and try again after a cool-down."""

from __future__ import annotations

from enum import StrEnum

from carbon_aware.signals.clock import SYSTEM_CLOCK, Clock


class BreakerState(StrEnum):
    """Closed: calls go through. Open: calls are skipped. Half-open: one trial call."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; one trial call after ``reset_after`` s."""

    def __init__(
        self,
        name: str,
        *,
        threshold: int = 5,
        reset_after: float = 300.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.reset_after = reset_after
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> BreakerState:
        """The current state."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock.now() - self._opened_at >= self.reset_after:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a call may go out now (in half-open, the trial call re-arms the timer)."""
        state = self.state
        if state is BreakerState.HALF_OPEN:
            self._opened_at = self._clock.now()
        return state is not BreakerState.OPEN

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        self._failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        """A call failed: open the circuit at the threshold (or again after a failed trial)."""
        self._failures += 1
        if self._failures >= self.threshold:
            self._opened_at = self._clock.now()
