"""Workload lifecycle: states and the transitions allowed between them.

PENDING -> SCHEDULED -> DISPATCHING -> RUNNING -> SUCCEEDED | FAILED | TIMED_OUT, and CANCELLED or
EXPIRED (deadline missed) from any non-final state. TIMED_OUT: no outcome arrived and the target
could not tell one within the run timeout past the expected end (runtime.watchdog).
SCHEDULED -> SCHEDULED is a re-plan; RUNNING -> RUNNING moves the watchdog's next look at an
overdue run; DISPATCHING -> SCHEDULED hands a workload back after a transient failure or a
dispatcher that died mid-way. RUNNING -> SCHEDULED re-places a run a spot interruption stopped
(runtime.interruptions), or lets the next segment of an interruptible workload wait for its start
after its run checkpointed or was interrupted (runtime.segments).
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """A workload's lifecycle state."""

    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    DISPATCHING = "DISPATCHING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def final(self) -> bool:
        """Whether no transition leaves this state."""
        return self in FINAL


FINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED, State.EXPIRED, State.TIMED_OUT})
LIVE = tuple(s for s in State if s not in FINAL)

_ALWAYS = {State.CANCELLED, State.EXPIRED}
ALLOWED: dict[State, frozenset[State]] = {
    State.PENDING: frozenset({State.SCHEDULED, State.FAILED, *_ALWAYS}),
    State.SCHEDULED: frozenset({State.SCHEDULED, State.DISPATCHING, *_ALWAYS}),
    State.DISPATCHING: frozenset({State.RUNNING, State.SCHEDULED, State.FAILED, *_ALWAYS}),
    State.RUNNING: frozenset(
        {State.RUNNING, State.SCHEDULED, State.SUCCEEDED, State.FAILED, State.TIMED_OUT, *_ALWAYS}
    ),
    **{s: frozenset() for s in FINAL},
}


class InvalidTransition(ValueError):
    """The lifecycle does not allow this transition."""


def check_transition(current: State, target: State) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> target`` is allowed."""
    if target not in ALLOWED[current]:
        raise InvalidTransition(f"{current} -> {target} is not allowed")
