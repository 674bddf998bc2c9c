"""Every environment variable the ``monitor`` handler reads, and their validation.

API keys are never environment values: the monitor reads the *names or ARNs* of a Secrets Manager
secret or an SSM SecureString parameter and resolves them at run time
(:mod:`carbon_aware.signals.secrets`). The Electricity Maps secret holds the key as plain text;
the WattTime secret is JSON ``{"username": ..., "password": ...}``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from carbon_aware.engine.signal import SignalType
from carbon_aware.runtime.config import (
    REGIONS,
    SIGNAL_TYPE,
    SIGNALS_TABLE,
    ConfigError,
    names,
    number,
    required,
)
from carbon_aware.signals import settings as provider_settings
from carbon_aware.signals.cache import DAY, DEFAULT_FORECAST_TTL, DEFAULT_OBSERVATION_TTL
from carbon_aware.signals.catalog import ENV_VAR as REGION_CATALOG
from carbon_aware.signals.catalog import ZONES_ENV_VAR as REGION_ZONES
from carbon_aware.signals.providers.electricitymaps import EMISSION_FACTOR_TYPES
from carbon_aware.signals.refresh import PolicyError, RefreshPolicy
from carbon_aware.signals.secrets import SecretResolver
from carbon_aware.signals.settings import (
    ELECTRICITYMAPS_URL,
    UKCI_URL,
    WATTTIME_URL,
    ProviderSettings,
    SettingsError,
)

PROVIDER_CHAIN = "CARBON_AWARE_PROVIDER_CHAIN"
REFRESH_MINUTES = "CARBON_AWARE_REFRESH_MINUTES"
FORECAST_REFRESH_MINUTES = "CARBON_AWARE_FORECAST_REFRESH_MINUTES"
FORECAST_HOURS = "CARBON_AWARE_FORECAST_HOURS"
OBSERVATION_TTL_DAYS = "CARBON_AWARE_OBSERVATION_TTL_DAYS"
FORECAST_TTL_DAYS = "CARBON_AWARE_FORECAST_TTL_DAYS"
ELECTRICITYMAPS_SECRET = "CARBON_AWARE_ELECTRICITYMAPS_SECRET"
WATTTIME_SECRET = "CARBON_AWARE_WATTTIME_SECRET"
EMISSION_FACTOR_TYPE = "CARBON_AWARE_EMISSION_FACTOR_TYPE"
UKCI_REGIONS = "CARBON_AWARE_UKCI_REGIONS"
# The Price List endpoint Region (unset: no price refresh, e.g. outside the aws partition) and the
# instance types whose on-demand prices the monitor keeps fresh beside the Fargate prices.
PRICE_LIST_REGION = "CARBON_AWARE_PRICE_LIST_REGION"
PRICED_INSTANCE_TYPES = "CARBON_AWARE_PRICED_INSTANCE_TYPES"
INSTANCE_TYPE = re.compile(r"^[a-z0-9-]{1,24}\.[a-z0-9-]{1,24}$")

# Everything the monitor reads, ours first; then those Powertools and boto3 read themselves.
MONITOR_ENV = (
    REGIONS,
    SIGNALS_TABLE,
    SIGNAL_TYPE,
    PROVIDER_CHAIN,
    REFRESH_MINUTES,
    FORECAST_REFRESH_MINUTES,
    FORECAST_HOURS,
    OBSERVATION_TTL_DAYS,
    FORECAST_TTL_DAYS,
    ELECTRICITYMAPS_SECRET,
    WATTTIME_SECRET,
    EMISSION_FACTOR_TYPE,
    UKCI_REGIONS,
    PRICE_LIST_REGION,
    PRICED_INSTANCE_TYPES,
    ELECTRICITYMAPS_URL,
    WATTTIME_URL,
    UKCI_URL,
    REGION_CATALOG,
    REGION_ZONES,
)
LIBRARY_ENV = (
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_TRACE_DISABLED",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
)


@dataclass(frozen=True)
class MonitorSettings:
    """The monitor's configuration (secret references, never secret values)."""

    table: str
    regions: tuple[str, ...]
    signal_type: SignalType = SignalType.AVERAGE
    policy: RefreshPolicy = field(default_factory=RefreshPolicy)
    observation_ttl: float = DEFAULT_OBSERVATION_TTL
    forecast_ttl: float = DEFAULT_FORECAST_TTL
    chain: tuple[str, ...] | None = None
    electricitymaps_secret: str | None = None
    watttime_secret: str | None = None
    emission_factor_type: str = "lifecycle"
    ukci_regions: Mapping[str, int] = field(default_factory=dict)
    urls: Mapping[str, str] = field(default_factory=dict)
    price_list_region: str | None = None
    priced_instance_types: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MonitorSettings:
        """Read and validate; :class:`ConfigError` names the first bad variable."""
        env = os.environ if environ is None else environ
        kind = _choice(env, SIGNAL_TYPE, [t.value for t in SignalType], "average")
        factor = _choice(env, EMISSION_FACTOR_TYPE, list(EMISSION_FACTOR_TYPES), "lifecycle")
        refresh = number(env, REFRESH_MINUTES, 15) * 60
        try:
            policy = RefreshPolicy(
                interval=refresh,
                forecast_interval=number(env, FORECAST_REFRESH_MINUTES, max(60, refresh / 60)) * 60,
                horizon=number(env, FORECAST_HOURS, 48) * 3600,
            )
            chain = env.get(PROVIDER_CHAIN, "").strip()
            ukci = provider_settings.parse_ukci_regions(env.get(UKCI_REGIONS, ""), UKCI_REGIONS)
            parsed_chain = provider_settings.parse_chain(chain, PROVIDER_CHAIN) if chain else None
        except PolicyError as exc:
            raise ConfigError(
                f"refresh settings ({REFRESH_MINUTES}, {FORECAST_REFRESH_MINUTES}, "
                f"{FORECAST_HOURS}): {exc}"
            ) from None
        except SettingsError as exc:
            raise ConfigError(f"environment variable {exc}") from None
        urls = {
            key: env[name].strip()
            for key, name in (
                ("electricitymaps_url", ELECTRICITYMAPS_URL),
                ("watttime_url", WATTTIME_URL),
                ("ukci_url", UKCI_URL),
            )
            if env.get(name, "").strip()
        }
        return cls(
            table=required(env, SIGNALS_TABLE),
            regions=names(env, REGIONS),
            signal_type=SignalType(kind),
            policy=policy,
            observation_ttl=number(env, OBSERVATION_TTL_DAYS, DEFAULT_OBSERVATION_TTL / DAY) * DAY,
            forecast_ttl=number(env, FORECAST_TTL_DAYS, 2) * DAY,
            chain=parsed_chain,
            electricitymaps_secret=env.get(ELECTRICITYMAPS_SECRET, "").strip() or None,
            watttime_secret=env.get(WATTTIME_SECRET, "").strip() or None,
            emission_factor_type=factor,
            ukci_regions=ukci,
            urls=urls,
            price_list_region=env.get(PRICE_LIST_REGION, "").strip() or None,
            priced_instance_types=_instance_types(env),
        )

    def provider_settings(self, secrets: SecretResolver) -> ProviderSettings:
        """Provider settings with the keys resolved from Secrets Manager / SSM."""
        key = secrets.get(self.electricitymaps_secret) if self.electricitymaps_secret else None
        user = password = None
        if self.watttime_secret:
            user, password = secrets.get_fields(self.watttime_secret, "username", "password")
        return ProviderSettings(
            signal_type=self.signal_type,
            electricitymaps_key=key,
            watttime_username=user,
            watttime_password=password,
            emission_factor_type=self.emission_factor_type,
            ukci_regions=self.ukci_regions,
            chain=self.chain,
            **self.urls,
        )


def _choice(env: Mapping[str, str], name: str, allowed: list[str], default: str) -> str:
    value = env.get(name, "").strip() or default
    if value not in allowed:
        raise ConfigError(f"environment variable {name} must be one of {', '.join(allowed)}")
    return value


def _instance_types(env: Mapping[str, str]) -> tuple[str, ...]:
    found = tuple(t.strip() for t in env.get(PRICED_INSTANCE_TYPES, "").split(",") if t.strip())
    bad = [t for t in found if not INSTANCE_TYPE.match(t)]
    if bad:
        raise ConfigError(
            f"environment variable {PRICED_INSTANCE_TYPES}: {bad[0]!r} is not an instance type "
            "(family.size, e.g. m7g.large)"
        )
    return found
