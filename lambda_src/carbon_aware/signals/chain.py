"""The fallback chain: providers in order; the first usable answer wins, later ones are not called.

Every answer keeps its provenance (provider, signal type, estimated flag, fetched_at) and the
attempts before it, so a caller can count fallbacks and report provider errors. A provider that
does not cover the target (no key for it, other signal type, not its country) is passed over
without counting as a fallback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbon_aware.signals.errors import ProviderError
from carbon_aware.signals.targets import Target

# Types only: the cache imports Provenance from here in functions that ship without numpy.
if TYPE_CHECKING:
    from carbon_aware.engine.signal import Signal
    from carbon_aware.signals.providers.base import Provider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """A provider that was asked and did not answer usably, and why."""

    provider: str
    error: str
    reason: str
    live: bool


@dataclass(frozen=True)
class Provenance:
    """Where a value came from."""

    provider: str
    signal_type: str
    estimated: bool
    fetched_at: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "provider": self.provider,
            "signal_type": self.signal_type,
            "estimated": self.estimated,
            "fetched_at": self.fetched_at,
        }


@dataclass(frozen=True)
class Answer:
    """The winning signal, its provenance and the failed attempts before it."""

    signal: Signal
    provenance: Provenance
    live: bool
    attempts: tuple[Attempt, ...] = ()

    @property
    def fallbacks(self) -> int:
        """How many providers failed (or were skipped) before this answer."""
        return len(self.attempts)


class NoAnswer(ProviderError):
    """Every provider in the chain failed or was skipped."""

    transient = False

    def __init__(self, target: Target, attempts: Sequence[Attempt]) -> None:
        self.attempts = tuple(attempts)
        detail = "; ".join(f"{a.provider}: {a.reason}" for a in attempts) or "no provider covers it"
        super().__init__("chain", f"{target.zone}: no usable answer ({detail})")


class Chain:
    """An ordered list of providers."""

    def __init__(self, providers: Sequence[Provider]) -> None:
        self.providers = tuple(providers)

    def has_live(self, target: Target) -> bool:
        """Whether a live provider of the chain covers ``target``."""
        return any(p.live and p.supports(target) for p in self.providers)

    def latest(self, target: Target, now: float) -> Answer:
        """The latest observations from the first live provider that has them."""
        return self._ask(target, now, lambda p: p.latest(target, now), {True})

    def forecast(self, target: Target, now: float, horizon: float) -> Answer:
        """A forecast from the first provider that has one (estimators last)."""
        return self._ask(target, now, lambda p: p.forecast(target, now, horizon), {True, False})

    def estimate(self, target: Target, now: float, horizon: float) -> Answer:
        """A forecast from the estimators only (no network)."""
        return self._ask(target, now, lambda p: p.forecast(target, now, horizon), {False})

    def history(self, target: Target, now: float, start: float, end: float) -> Answer:
        """Observations on ``[start, end)`` from the first live provider that has them."""
        return self._ask(target, now, lambda p: p.history(target, start, end), {True})

    def _ask(
        self,
        target: Target,
        now: float,
        call: Callable[[Provider], Signal],
        live: set[bool],
    ) -> Answer:
        attempts: list[Attempt] = []
        for provider in self.providers:
            if provider.live not in live or not provider.supports(target):
                continue
            try:
                signal = call(provider)
            except ProviderError as exc:
                attempts.append(
                    Attempt(provider.name, type(exc).__name__, exc.reason, provider.live)
                )
                log.info("%s %s: %s", provider.name, target.zone, exc.reason)
                continue
            provenance = Provenance(signal.source, str(signal.signal_type), signal.estimated, now)
            return Answer(signal, provenance, provider.live, tuple(attempts))
        raise NoAnswer(target, attempts)
