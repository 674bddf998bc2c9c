"""Migration settings from the environment (rendered by Terraform from ``var.migrations``)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from carbon_aware.engine.migration import MigrationError, MigrationPolicy
from carbon_aware.runtime.config import ConfigError, required
from carbon_aware.runtime.migrations.orchestrator import DEFAULT_POLL_SECONDS
from carbon_aware.runtime.migrations.states import DEFAULT_TIMEOUTS, MigrationState
from carbon_aware.runtime.migrations.strategies.blue_green import Service, parse_services

MIGRATIONS_TABLE = "CARBON_AWARE_MIGRATIONS_TABLE"
MIGRATION_TIMEOUTS = "CARBON_AWARE_MIGRATION_TIMEOUTS"
MIGRATION_POLL = "CARBON_AWARE_MIGRATION_POLL_SECONDS"
MIGRATION_POLICY = "CARBON_AWARE_MIGRATION_POLICY"
MIGRATION_AUTO = "CARBON_AWARE_MIGRATION_AUTO"
MIGRATION_LIVE = "CARBON_AWARE_MIGRATION_LIVE"
MIGRATION_SERVICES = "CARBON_AWARE_MIGRATION_SERVICES"


@dataclass(frozen=True)
class MigrationSettings:
    """The migrations table, each state's timeout, how often a waiting state is polled,
    whether the trigger pass proposes migrations (``auto``) under which policy, whether ``live``
    (pre-copy) migrations may be started, and the services blue_green can move."""

    table: str
    timeouts: Mapping[MigrationState, float] = field(default_factory=lambda: DEFAULT_TIMEOUTS)
    poll_seconds: float = DEFAULT_POLL_SECONDS
    policy: MigrationPolicy = field(default_factory=MigrationPolicy)
    auto: bool = False
    live: bool = False
    services: Mapping[str, Service] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MigrationSettings:
        """Read the environment; ConfigError names a missing or malformed variable."""
        env = os.environ if environ is None else environ
        return cls(
            required(env, MIGRATIONS_TABLE),
            _timeouts(env.get(MIGRATION_TIMEOUTS, "")),
            _poll(env),
            _policy(env.get(MIGRATION_POLICY, "")),
            _flag(env, MIGRATION_AUTO),
            _flag(env, MIGRATION_LIVE),
            _services(env.get(MIGRATION_SERVICES, "")),
        )


def _timeouts(raw: str) -> dict[MigrationState, float]:
    if not raw.strip():
        return dict(DEFAULT_TIMEOUTS)
    try:
        given = json.loads(raw)
    except ValueError:
        given = None
    if not isinstance(given, dict):
        raise ConfigError(f"environment variable {MIGRATION_TIMEOUTS} must be a JSON object")
    out = dict(DEFAULT_TIMEOUTS)
    for name, seconds in given.items():
        try:
            state = MigrationState(name)
        except ValueError:
            state = None
        if state not in DEFAULT_TIMEOUTS:
            raise ConfigError(
                f"{MIGRATION_TIMEOUTS}[{name}]: not a timed state "
                f"({', '.join(str(s) for s in DEFAULT_TIMEOUTS)})"
            )
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise ConfigError(f"{MIGRATION_TIMEOUTS}[{name}]: must be seconds > 0")
        out[state] = float(seconds)
    return out


def _poll(env: Mapping[str, str]) -> float:
    raw = env.get(MIGRATION_POLL, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_POLL_SECONDS
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"environment variable {MIGRATION_POLL} must be seconds > 0, got {raw!r}")
    return value


def _policy(raw: str) -> MigrationPolicy:
    if not raw.strip():
        return MigrationPolicy()
    try:
        given = json.loads(raw)
    except ValueError:
        given = None
    if not isinstance(given, dict):
        raise ConfigError(f"environment variable {MIGRATION_POLICY} must be a JSON object")
    known = {f.name for f in fields(MigrationPolicy)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(f"{MIGRATION_POLICY}[{unknown[0]}]: unknown policy field")
    try:
        return MigrationPolicy(**given)
    except MigrationError as exc:
        raise ConfigError(f"{MIGRATION_POLICY}: {exc}") from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value not in {"", "true", "false"}:
        raise ConfigError(f"environment variable {name} must be true or false")
    return value == "true"


def _services(raw: str) -> dict[str, Service]:
    if not raw.strip():
        return {}
    try:
        return parse_services(json.loads(raw))
    except ValueError as exc:  # JSONDecodeError is one
        raise ConfigError(f"{MIGRATION_SERVICES}: {exc}") from None
