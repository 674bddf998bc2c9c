"""Building real provider chains against the fake servers."""

from __future__ import annotations

from typing import Any

from carbon_aware.engine.signal import SignalType
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.http import RetryPolicy, Timeouts
from carbon_aware.signals.settings import Providers, ProviderSettings, build_providers
from carbon_aware.signals.targets import Target, plan_targets
from fakes.clock import FakeClock
from fakes.providers import EM_KEY, WT_PASSWORD, WT_USER

FAST = Timeouts(connect=0.5, read=0.3)
RETRY = RetryPolicy(attempts=3, base_delay=0.5, max_delay=4.0, max_retry_after=30.0)


def settings(
    em: Any = None,
    wt: Any = None,
    neso: Any = None,
    *,
    signal_type: SignalType = SignalType.AVERAGE,
    **extra: Any,
) -> ProviderSettings:
    """Settings pointing at whichever fake servers are given (keys only for those)."""
    urls: dict[str, Any] = {"ukci_url": neso.url if neso else "http://127.0.0.1:9"}
    if em is not None:
        urls |= {"electricitymaps_url": f"{em.url}/v3", "electricitymaps_key": EM_KEY}
    if wt is not None:
        urls |= {
            "watttime_url": wt.url,
            "watttime_username": WT_USER,
            "watttime_password": WT_PASSWORD,
        }
    return ProviderSettings(signal_type=signal_type, **urls, **extra)


def providers(config: ProviderSettings, clock: FakeClock, **kwargs: Any) -> Providers:
    """The real chain for ``config`` with short timeouts."""
    return build_providers(config, clock=clock, timeouts=FAST, retry=RETRY, **kwargs)


def target(region: str, signal_type: SignalType = SignalType.AVERAGE) -> Target:
    """The target of one catalog region."""
    (only,) = plan_targets([region], load_catalog(), signal_type)
    return only
