"""Migration lifecycle: states, the transitions allowed between them, and each state's timeout.

pending -> validating -> preparing -> migrating -> completing -> completed. From preparing and
migrating a failure, a timeout or a cancel goes to rolling_back -> rolled_back (the source is
restored, whatever the target got is released). Validation that rejects the migration ends it
failed before anything was touched; pending and validating can be cancelled outright.
completing is retried until done (its steps are idempotent), never timed out into a rollback;
it rolls back only when its strategy finds the switch cannot be made before anything of the
source was released (checkpoint_restore: the source run gone; blue_green: the target failing its
check before the source is lowered). rolling_back is retried until done.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class MigrationState(StrEnum):
    """A migration's lifecycle state."""

    PENDING = "pending"
    VALIDATING = "validating"
    PREPARING = "preparing"
    MIGRATING = "migrating"
    COMPLETING = "completing"
    COMPLETED = "completed"
    ROLLING_BACK = "rolling_back"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """Whether no transition leaves this state."""
        return self in FINAL


S = MigrationState
FINAL = frozenset({S.COMPLETED, S.ROLLED_BACK, S.FAILED, S.CANCELLED})
LIVE = tuple(s for s in S if s not in FINAL)
ALLOWED: Mapping[MigrationState, frozenset[MigrationState]] = {
    S.PENDING: frozenset({S.VALIDATING, S.CANCELLED}),
    S.VALIDATING: frozenset({S.PREPARING, S.FAILED, S.CANCELLED}),
    S.PREPARING: frozenset({S.MIGRATING, S.ROLLING_BACK}),
    S.MIGRATING: frozenset({S.COMPLETING, S.ROLLING_BACK}),
    S.COMPLETING: frozenset({S.COMPLETED, S.ROLLING_BACK}),
    S.ROLLING_BACK: frozenset({S.ROLLED_BACK}),
    **{s: frozenset() for s in FINAL},
}
# The state a finished step moves to.
NEXT: Mapping[MigrationState, MigrationState] = {
    S.PENDING: S.VALIDATING,
    S.VALIDATING: S.PREPARING,
    S.PREPARING: S.MIGRATING,
    S.MIGRATING: S.COMPLETING,
    S.COMPLETING: S.COMPLETED,
    S.ROLLING_BACK: S.ROLLED_BACK,
}
# Seconds a migration may stay in a state; past it validating fails, preparing and migrating
# roll back, the others are stepped again (their work is idempotent and must finish).
DEFAULT_TIMEOUTS: Mapping[MigrationState, float] = {
    S.PENDING: 300.0,
    S.VALIDATING: 300.0,
    S.PREPARING: 900.0,
    S.MIGRATING: 1800.0,
    S.COMPLETING: 1800.0,
    S.ROLLING_BACK: 1800.0,
}
# States whose timeout rolls the migration back.
ROLL_BACK_ON_TIMEOUT = frozenset({S.PREPARING, S.MIGRATING})
# States whose timeout fails the migration (nothing was touched yet).
FAIL_ON_TIMEOUT = frozenset({S.VALIDATING})
# States whose strategy failure (StepFailed) rolls the migration back.
ROLL_BACK_ON_FAILURE = frozenset({S.PREPARING, S.MIGRATING, S.COMPLETING})


class InvalidTransition(ValueError):
    """The lifecycle does not allow this transition."""


def check_transition(current: MigrationState, target: MigrationState) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> target`` is allowed."""
    if target not in ALLOWED[current]:
        raise InvalidTransition(f"{current} -> {target} is not allowed")
