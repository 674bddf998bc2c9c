"""Refresh orchestration: keep the cache fresh with as few provider calls as possible.

Stale-while-revalidate: readers only read the cache; this refresh (the ``monitor`` Lambda on a
schedule) revalidates it. Quota economy, per refresh:

- regions are grouped into deduplicated zones (:mod:`.targets`): one target per zone;
- each zone gets **at most one** provider call in the normal case: the forecast when it is due
  (every ``forecast_interval``, default hourly, the rate providers republish at), otherwise the
  latest observation, and only once the provider can have a newer point than the cached one
  (Electricity Maps is hourly, NESO half-hourly, WattTime 5-minutely). A failing provider hands
  over to the next live one in the chain, which is the only case with more calls;
- a zone attempted less than half an interval ago is skipped, so overlapping invocations (the
  scheduler's and the spot optimizer's schedules, retries) do not double the calls;
- when every live provider fails, a live forecast younger than ``keep_live_forecast`` keeps being
  served; only older ones are replaced by a labelled estimate (history forecaster or profile).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.signals.cache import SignalCache
from carbon_aware.signals.chain import Answer, Attempt, Chain, NoAnswer
from carbon_aware.signals.clock import Clock
from carbon_aware.signals.providers.base import HOUR
from carbon_aware.signals.targets import Target

log = logging.getLogger(__name__)

MIN_INTERVAL = 5 * 60.0
MAX_INTERVAL = 60 * 60.0
MAX_HORIZON = 72 * HOUR


class PolicyError(ValueError):
    """A refresh setting is out of range; the message names it."""


@dataclass(frozen=True)
class RefreshPolicy:
    """How often to refresh, how far ahead to forecast, and how long a live forecast is served."""

    interval: float = 15 * 60.0
    forecast_interval: float = HOUR
    horizon: float = 48 * HOUR
    keep_live_forecast: float = 6 * HOUR

    def __post_init__(self) -> None:
        if not MIN_INTERVAL <= self.interval <= MAX_INTERVAL:
            raise PolicyError(f"interval must be 5 to 60 minutes, got {self.interval / 60:g}")
        if self.forecast_interval < self.interval:
            raise PolicyError("forecast_interval must not be shorter than interval")
        if not 0 < self.horizon <= MAX_HORIZON:
            raise PolicyError(f"horizon must be 1 to 72 hours, got {self.horizon / HOUR:g}")


@dataclass
class ZoneState:
    """What the last refreshes of one zone did (stored in the cache as JSON)."""

    attempted_at: float | None = None
    forecast_at: float | None = None
    live_forecast_at: float | None = None
    observed_until: float | None = None
    degraded: bool = False
    provider: str | None = None
    failures: int = 0
    last_error: str | None = None

    @classmethod
    def of(cls, record: dict[str, Any] | None) -> ZoneState:
        """From a stored record (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (record or {}).items() if k in names})

    def due(self, now: float, policy: RefreshPolicy, *, live: bool) -> str | None:
        """``"forecast"``, ``"latest"`` or None (nothing to fetch now).

        A zone never observed asks for its latest value first (the value now, which a forecast
        starting at the next hour lacks); ``live`` says whether any live provider covers it.
        """
        slack = policy.interval / 2
        if self.attempted_at is not None and now - self.attempted_at < slack:
            return None
        latest = live and (self.observed_until is None or now >= self.observed_until)
        if latest and self.observed_until is None and not self.degraded:
            return "latest"
        if self.degraded or self.forecast_at is None:
            return "forecast"
        if now - self.forecast_at >= policy.forecast_interval - slack:
            return "forecast"
        return "latest" if latest else None


@dataclass(frozen=True)
class ZoneResult:
    """One zone's refresh: what was fetched, the answer, and what went wrong."""

    target: Target
    action: str | None
    answer: Answer | None = None
    kept_live: bool = False
    error: str | None = None
    attempts: tuple[Attempt, ...] = field(default=())


def refresh(
    targets: Sequence[Target],
    *,
    chain: Chain,
    cache: SignalCache,
    clock: Clock,
    policy: RefreshPolicy,
    force: bool = False,
) -> list[ZoneResult]:
    """Refresh every target that is due (all of them with ``force``); never raises per zone."""
    try:
        states = cache.states(t.key for t in targets)
    except (BotoCoreError, ClientError) as exc:
        log.error("cannot read refresh state: %s", exc)
        states = {}
    results = []
    for target in targets:
        state = ZoneState.of(states.get(target.key))
        now = clock.now()
        action = "forecast" if force else state.due(now, policy, live=chain.has_live(target))
        if action is None:
            results.append(ZoneResult(target, None))
            continue
        results.append(_refresh_zone(target, action, state, now, chain, cache, policy))
    return results


def _refresh_zone(
    target: Target,
    action: str,
    state: ZoneState,
    now: float,
    chain: Chain,
    cache: SignalCache,
    policy: RefreshPolicy,
) -> ZoneResult:
    state.attempted_at = now
    answer, kept_live, error = None, False, None
    try:
        if action == "forecast":
            answer = chain.forecast(target, now, policy.horizon)
            kept_live = _store_forecast(target, answer, state, now, cache, policy)
        else:
            answer = chain.latest(target, now)
            cache.put_observations(target.zone, answer.signal, answer.provenance)
            state.observed_until = answer.signal.end
        attempts = answer.attempts
    except NoAnswer as exc:
        attempts, error = exc.attempts, exc.reason
        state.degraded = True
        if state.forecast_at is None:  # never leave a zone without a (labelled) forecast
            answer = chain.estimate(target, now, policy.horizon)
            _store_forecast(target, answer, state, now, cache, policy)
    except (BotoCoreError, ClientError) as exc:
        attempts, error = answer.attempts if answer else (), f"cache write failed: {exc}"
    failed = [a for a in attempts if a.live]
    state.failures = state.failures + 1 if failed or error else 0
    state.last_error = error or (f"{failed[-1].provider}: {failed[-1].reason}" if failed else None)
    if answer is not None:
        state.provider = answer.provenance.provider
    try:
        cache.put_state(target.key, dataclasses.asdict(state), now)
    except (BotoCoreError, ClientError) as exc:
        error = error or f"cache write failed: {exc}"
    if error:
        log.warning("%s: %s", target.key, error)
    return ZoneResult(target, action, answer, kept_live, error, attempts)


def _store_forecast(
    target: Target,
    answer: Answer,
    state: ZoneState,
    now: float,
    cache: SignalCache,
    policy: RefreshPolicy,
) -> bool:
    """Write the forecast unless it is an estimate and a recent live one is still served."""
    state.forecast_at = now
    if answer.live:
        state.live_forecast_at, state.degraded = now, False
    else:
        state.degraded = any(a.live for a in answer.attempts)
        live_at = state.live_forecast_at
        if state.degraded and live_at is not None and now - live_at < policy.keep_live_forecast:
            return True
    cache.put_forecast(target.zone, target.signal_type, answer.signal, answer.provenance)
    return False
