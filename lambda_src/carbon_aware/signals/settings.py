"""Provider settings and building the fallback chain from them (shared by the CLI and the monitor).

Default chain, per region: Electricity Maps if a key is configured -> WattTime if credentials are
configured and the signal type is ``marginal`` -> UK NESO (GB regions) -> history forecaster (when
a cache is available) -> built-in profile. Providers that cannot serve a region or the signal type
(Electricity Maps and NESO are ``average``, WattTime ``marginal``) are passed over for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from carbon_aware.engine.signal import SignalType
from carbon_aware.signals.breaker import CircuitBreaker
from carbon_aware.signals.cache import DEFAULT_OBSERVATION_TTL
from carbon_aware.signals.chain import Chain
from carbon_aware.signals.clock import Clock
from carbon_aware.signals.http import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    HttpClient,
    RetryPolicy,
    Timeouts,
)
from carbon_aware.signals.providers import electricitymaps, ukci, watttime
from carbon_aware.signals.providers.base import Provider
from carbon_aware.signals.providers.estimates import (
    BuiltinProfile,
    HistoryForecaster,
    ObservationSource,
)
from carbon_aware.signals.ratelimit import TokenBucket

ELECTRICITYMAPS_URL = "CARBON_AWARE_ELECTRICITYMAPS_URL"
WATTTIME_URL = "CARBON_AWARE_WATTTIME_URL"
UKCI_URL = "CARBON_AWARE_UKCI_URL"
PROVIDERS = ("electricitymaps", "watttime", "ukci", "history", "profile")


class SettingsError(ValueError):
    """Provider settings that cannot work; the message names the setting."""


@dataclass(frozen=True)
class ProviderSettings:
    """Keys, base URLs and chain order. Keys never appear in ``repr``."""

    signal_type: SignalType = SignalType.AVERAGE
    electricitymaps_key: str | None = field(default=None, repr=False)
    watttime_username: str | None = None
    watttime_password: str | None = field(default=None, repr=False)
    electricitymaps_url: str = electricitymaps.DEFAULT_URL
    watttime_url: str = watttime.DEFAULT_URL
    ukci_url: str = ukci.DEFAULT_URL
    emission_factor_type: str = "lifecycle"
    ukci_regions: Mapping[str, int] = field(default_factory=dict)
    chain: tuple[str, ...] | None = None

    @property
    def has_watttime(self) -> bool:
        """Whether WattTime credentials are configured."""
        return bool(self.watttime_username and self.watttime_password)

    def chain_names(self, *, with_history: bool) -> list[str]:
        """The chain order: explicit, or the default for the configured keys and signal type."""
        if self.chain is not None:
            names = list(self.chain)
        else:
            names = ["electricitymaps"] if self.electricitymaps_key else []
            if self.has_watttime and self.signal_type is SignalType.MARGINAL:
                names.append("watttime")
            names += ["ukci", "history", "profile"]
        if not with_history:
            names = [n for n in names if n != "history"]
        return names


@dataclass(frozen=True)
class Providers:
    """A built chain and the HTTP clients behind it (their request counts)."""

    chain: Chain
    clients: tuple[HttpClient, ...]
    #: Electricity Maps when configured: the source of renewable shares.
    renewables: electricitymaps.ElectricityMaps | None = None

    @property
    def calls(self) -> int:
        """HTTP requests sent so far by every provider."""
        return sum(c.calls for c in self.clients)


def parse_chain(text: str, setting: str) -> tuple[str, ...]:
    """A comma-separated provider order; unknown or repeated names raise :class:`SettingsError`."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise SettingsError(f"{setting}: list at least one provider")
    for name in names:
        if name not in PROVIDERS:
            raise SettingsError(
                f"{setting}: unknown provider {name!r} (known: {', '.join(PROVIDERS)})"
            )
    if len(set(names)) != len(names):
        raise SettingsError(f"{setting}: a provider is listed twice")
    return names


def parse_ukci_regions(text: str, setting: str) -> dict[str, int]:
    """``eu-west-2=13,...``: AWS region to NESO region id (1 to 17)."""
    mapping: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        region, _, number = item.partition("=")
        if not number.strip().isdigit() or not 1 <= int(number) <= 17:
            raise SettingsError(f"{setting}: {item!r} is not <aws-region>=<NESO region id 1-17>")
        mapping[region.strip()] = int(number)
    return mapping


def build_providers(
    settings: ProviderSettings,
    *,
    clock: Clock,
    observations: ObservationSource | None = None,
    history_lookback: float = DEFAULT_OBSERVATION_TTL,
    history_peers: Sequence[str] = (),
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> Providers:
    """The chain for ``settings``; ``observations`` (the cache) enables the history forecaster,
    which reads ``history_lookback`` seconds of them (what the cache keeps) for the zone and for
    the ``history_peers`` zones (the other configured zones, candidate neighbours)."""
    clients: list[HttpClient] = []

    def client(name: str, url: str, bucket: TokenBucket, breaker: CircuitBreaker) -> HttpClient:
        made = HttpClient(
            name, url, bucket=bucket, breaker=breaker, clock=clock, timeouts=timeouts, retry=retry
        )
        clients.append(made)
        return made

    def breaker(name: str) -> CircuitBreaker:
        return CircuitBreaker(name, clock=clock)

    providers: list[Provider] = []
    renewables = None
    for name in settings.chain_names(with_history=observations is not None):
        if name == "electricitymaps":
            if not settings.electricitymaps_key:
                raise SettingsError("electricitymaps is in the chain but no API key is set")
            bucket = TokenBucket.for_limit(name, 100, 60, burst=10, clock=clock)
            renewables = electricitymaps.ElectricityMaps(
                client(name, settings.electricitymaps_url, bucket, breaker(name)),
                settings.electricitymaps_key,
                emission_factor_type=settings.emission_factor_type,
            )
            providers.append(renewables)
        elif name == "watttime":
            if not settings.has_watttime:
                raise SettingsError("watttime is in the chain but no username/password is set")
            shared = breaker(name)
            data = TokenBucket.for_limit(name, 3000, 300, burst=20, clock=clock)
            login = TokenBucket.for_limit(f"{name} login", 100, 300, burst=5, clock=clock)
            providers.append(
                watttime.WattTime(
                    client(name, settings.watttime_url, data, shared),
                    client(name, settings.watttime_url, login, shared),
                    str(settings.watttime_username),
                    str(settings.watttime_password),
                    clock=clock,
                )
            )
        elif name == "ukci":
            bucket = TokenBucket.for_limit(name, 60, 60, burst=10, clock=clock)
            providers.append(
                ukci.UkCarbonIntensity(
                    client(name, settings.ukci_url, bucket, breaker(name)),
                    regional=settings.ukci_regions,
                )
            )
        elif name == "history" and observations is not None:
            providers.append(
                HistoryForecaster(observations, lookback=history_lookback, peers=history_peers)
            )
        elif name == "profile":
            providers.append(BuiltinProfile())
    return Providers(Chain(providers), tuple(clients), renewables)
