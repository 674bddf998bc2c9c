"""What a signal's values mean, and the error for malformed or mixed signals.

Kept apart from :mod:`carbon_aware.engine.signal` (numpy) so that validation and accounting, which
need only these names, import no numpy.
"""

from __future__ import annotations

from enum import StrEnum

SECONDS_PER_HOUR = 3600.0


class SignalType(StrEnum):
    """What a value means: the grid's average intensity or the marginal emission rate."""

    AVERAGE = "average"
    MARGINAL = "marginal"


class SignalError(ValueError):
    """A signal is malformed, or signals that must not be compared were mixed."""
