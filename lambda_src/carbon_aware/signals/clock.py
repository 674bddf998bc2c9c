"""Wall-clock time and sleeping behind one small interface, so tests can run on a fake clock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Current POSIX time and a way to wait."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        """POSIX seconds."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (nothing when not positive)."""
        if seconds > 0:
            time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
