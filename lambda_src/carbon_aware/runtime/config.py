"""Every environment variable the Lambda handlers read, in one place.

Terraform sets exactly these (a drift test compares ``FUNCTION_ENV`` with the module). Secrets are
never passed as values: only the names/ARNs of Secrets Manager secrets or SSM parameters. The
region catalog reads its own two (:mod:`carbon_aware.signals.catalog`: the CSV override and the
``CARBON_AWARE_REGION_ZONES`` zone overrides).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

WORKLOADS_TABLE = "CARBON_AWARE_WORKLOADS_TABLE"
IDEMPOTENCY_TABLE = "CARBON_AWARE_IDEMPOTENCY_TABLE"
REGIONS = "CARBON_AWARE_REGIONS"
HOME_REGION = "CARBON_AWARE_HOME_REGION"
DEFAULT_STRATEGY = "CARBON_AWARE_DEFAULT_STRATEGY"
REPLAN_THRESHOLD = "CARBON_AWARE_REPLAN_THRESHOLD"
SCHEDULE_GROUP = "CARBON_AWARE_SCHEDULE_GROUP"
SCHEDULER_ROLE_ARN = "CARBON_AWARE_SCHEDULER_ROLE_ARN"
EXECUTOR_ARN = "CARBON_AWARE_EXECUTOR_ARN"
SCHEDULER_ARN = "CARBON_AWARE_SCHEDULER_ARN"
TARGET_ALLOWLIST = "CARBON_AWARE_TARGET_ALLOWLIST"
DEAD_LETTER_QUEUE_URL = "CARBON_AWARE_DLQ_URL"
DISPATCH_TIMEOUT = "CARBON_AWARE_DISPATCH_TIMEOUT_SECONDS"
# A RUNNING workload past its expected end: when its target is asked (grace) and when it times
# out (run timeout); runtime.watchdog.
RUNNING_GRACE = "CARBON_AWARE_RUNNING_GRACE_SECONDS"
RUN_TIMEOUT = "CARBON_AWARE_RUN_TIMEOUT_SECONDS"
NAME_PREFIX = "CARBON_AWARE_NAME_PREFIX"
WORKLOAD_TTL_DAYS = "CARBON_AWARE_WORKLOAD_TTL_DAYS"
# Customer managed KMS key of the one-time schedules the scheduler creates (EventBridge Scheduler).
SCHEDULE_KMS_KEY_ARN = "CARBON_AWARE_SCHEDULE_KMS_KEY_ARN"
REJECTS_QUEUE_URL = "CARBON_AWARE_REJECTS_QUEUE_URL"
# Interruptible runs (runtime.segments): the checkpoint bucket and KMS key of each Region
# ({region: name}, {region: key ARN}), the checkpoint budget and the inter-Region transfer price.
CHECKPOINT_BUCKETS = "CARBON_AWARE_CHECKPOINT_BUCKETS"
CHECKPOINT_KMS_KEYS = "CARBON_AWARE_CHECKPOINT_KMS_KEYS"
CHECKPOINT_BUDGET = "CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS"
TRANSFER_PRICE = "CARBON_AWARE_TRANSFER_USD_PER_GB"
# ECS StopTask waits at most 120 s (a container's stopTimeout on Fargate) before SIGKILL.
MAX_CHECKPOINT_BUDGET = 120.0
# Inter-Region data transfer between most AWS Regions (USD per GB), the modal price of the AWS
# transfer price table; a deployment sets its own with the module's transfer_usd_per_gb.
DEFAULT_TRANSFER_USD_PER_GB = 0.02
# The carbon cache: the monitor fills it; planning and accounting read it (runtime.wiring).
SIGNALS_TABLE = "CARBON_AWARE_SIGNALS_TABLE"
SIGNAL_TYPE = "CARBON_AWARE_SIGNAL_TYPE"
STRATEGY_WEIGHTS = "CARBON_AWARE_STRATEGY_WEIGHTS"
# Spot fleets (runtime.fleet.settings): the fleet_optimizer reads all three; the api function
# reads the fleets and their table.
FLEETS = "CARBON_AWARE_FLEETS"
FLEET_TABLE = "CARBON_AWARE_FLEET_TABLE"
PLACEMENT_SCORE_DAILY_BUDGET = "CARBON_AWARE_PLACEMENT_SCORE_DAILY_BUDGET"
SWEEPER_WORKERS = "CARBON_AWARE_SWEEPER_WORKERS"
CARBON_PRICE = "CARBON_AWARE_CARBON_PRICE_USD_PER_TON"
MAX_CARBON = "CARBON_AWARE_MAX_CARBON_INTENSITY"
MAX_COST = "CARBON_AWARE_MAX_COST_PER_HOUR"
# Module-wide options of the blended strategies (carbon_first, balanced, cost_first).
BLENDED_STRATEGIES = ("carbon_first", "balanced", "cost_first")
MAX_SWEEPER_WORKERS = 32
BLEND_OPTIONS = {
    CARBON_PRICE: "carbon_price_usd_per_tonne",
    MAX_CARBON: "max_carbon",
    MAX_COST: "max_cost",
}


class ConfigError(ValueError):
    """A required environment variable is missing or malformed; the message names it."""


def required(environ: Mapping[str, str], name: str) -> str:
    """The variable's value; ConfigError naming it when missing or empty."""
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def number(environ: Mapping[str, str], name: str, default: float) -> float:
    """A positive number from the environment, or ``default``."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"environment variable {name} must be positive")
    return value


def optional_number(environ: Mapping[str, str], name: str) -> float | None:
    """A positive number, or None when the variable is unset or empty."""
    if not environ.get(name, "").strip():
        return None
    return number(environ, name, 0.0)


def names(environ: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list (at least one entry)."""
    items = tuple(p.strip() for p in required(environ, name).split(",") if p.strip())
    if not items:
        raise ConfigError(f"environment variable {name} must list at least one entry")
    return items


@dataclass(frozen=True)
class WorkloadSettings:
    """What the api, intake, scheduler, executor and completion handlers need."""

    workloads_table: str
    regions: tuple[str, ...]
    home_region: str
    default_strategy: str = "combined"
    replan_threshold: float = 0.05
    schedule_group: str = "default"
    scheduler_role_arn: str = ""
    executor_arn: str = ""
    scheduler_arn: str = ""
    target_allowlist: tuple[str, ...] = ()
    dead_letter_queue_url: str = ""
    dispatch_timeout: float = 900.0
    running_grace: float = 3600.0
    run_timeout: float = 21600.0
    idempotency_table: str = ""
    name_prefix: str = "carbon-aware"
    blend_options: Mapping[str, float] = field(default_factory=dict)
    blend_weights: Mapping[str, float] = field(default_factory=dict)
    sweeper_workers: int = 4
    workload_ttl_days: float = 90.0
    schedule_kms_key_arn: str = ""
    rejects_queue_url: str = ""
    checkpoint_buckets: Mapping[str, str] = field(default_factory=dict)
    checkpoint_kms_keys: Mapping[str, str] = field(default_factory=dict)
    checkpoint_budget: float = MAX_CHECKPOINT_BUDGET
    transfer_usd_per_gb: float = DEFAULT_TRANSFER_USD_PER_GB

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WorkloadSettings:
        """Read the settings; ConfigError names the first bad variable."""
        env = os.environ if environ is None else environ
        allow = env.get(TARGET_ALLOWLIST, "[]") or "[]"
        try:
            allowlist = json.loads(allow)
        except json.JSONDecodeError:
            raise ConfigError(f"environment variable {TARGET_ALLOWLIST} must be JSON") from None
        if not isinstance(allowlist, list) or not all(isinstance(a, str) for a in allowlist):
            raise ConfigError(f"environment variable {TARGET_ALLOWLIST} must be a list of ARNs")
        regions = names(env, REGIONS)
        running_grace = number(env, RUNNING_GRACE, 3600.0)
        run_timeout = number(env, RUN_TIMEOUT, 21600.0)
        if run_timeout < running_grace:
            raise ConfigError(f"{RUN_TIMEOUT} must not be shorter than {RUNNING_GRACE}")
        blend = {option: optional_number(env, name) for name, option in BLEND_OPTIONS.items()}
        return cls(
            workloads_table=required(env, WORKLOADS_TABLE),
            regions=regions,
            home_region=env.get(HOME_REGION, "").strip() or regions[0],
            default_strategy=_default_strategy(env),
            replan_threshold=number(env, REPLAN_THRESHOLD, 0.05),
            schedule_group=env.get(SCHEDULE_GROUP, "").strip() or "default",
            scheduler_role_arn=env.get(SCHEDULER_ROLE_ARN, "").strip(),
            executor_arn=env.get(EXECUTOR_ARN, "").strip(),
            scheduler_arn=env.get(SCHEDULER_ARN, "").strip(),
            target_allowlist=tuple(allowlist),
            dead_letter_queue_url=env.get(DEAD_LETTER_QUEUE_URL, "").strip(),
            dispatch_timeout=number(env, DISPATCH_TIMEOUT, 900.0),
            running_grace=running_grace,
            run_timeout=run_timeout,
            idempotency_table=env.get(IDEMPOTENCY_TABLE, "").strip(),
            name_prefix=env.get(NAME_PREFIX, "").strip() or "carbon-aware",
            blend_options={k: v for k, v in blend.items() if v is not None},
            blend_weights=_blend_weights(env),
            sweeper_workers=_workers(env),
            workload_ttl_days=number(env, WORKLOAD_TTL_DAYS, 90.0),
            schedule_kms_key_arn=env.get(SCHEDULE_KMS_KEY_ARN, "").strip(),
            rejects_queue_url=env.get(REJECTS_QUEUE_URL, "").strip(),
            checkpoint_buckets=_region_map(env, CHECKPOINT_BUCKETS),
            checkpoint_kms_keys=_region_map(env, CHECKPOINT_KMS_KEYS),
            checkpoint_budget=_budget(env),
            transfer_usd_per_gb=_transfer_price(env),
        )


def _default_strategy(env: Mapping[str, str]) -> str:
    return env.get(DEFAULT_STRATEGY, "").strip() or "combined"


def _region_map(env: Mapping[str, str], name: str) -> dict[str, str]:
    """A JSON object of strings keyed by Region (empty when unset)."""
    raw = env.get(name, "").strip() or "{}"
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"environment variable {name} must be JSON") from None
    if not isinstance(entries, dict) or not all(isinstance(v, str) and v for v in entries.values()):
        raise ConfigError(f"environment variable {name} must map Regions to non-empty strings")
    return entries


def _budget(env: Mapping[str, str]) -> float:
    budget = number(env, CHECKPOINT_BUDGET, MAX_CHECKPOINT_BUDGET)
    if budget > MAX_CHECKPOINT_BUDGET:
        raise ConfigError(
            f"environment variable {CHECKPOINT_BUDGET} must be at most {MAX_CHECKPOINT_BUDGET:g}"
        )
    return budget


def _transfer_price(env: Mapping[str, str]) -> float:
    raw = env.get(TRANSFER_PRICE, "").strip()
    if raw in ("", "0", "0.0"):
        return 0.0 if raw else DEFAULT_TRANSFER_USD_PER_GB
    return number(env, TRANSFER_PRICE, DEFAULT_TRANSFER_USD_PER_GB)


def _blend_weights(env: Mapping[str, str]) -> dict[str, float]:
    """Carbon weight per blended strategy from ``{"balanced": {"carbon": 0.6, "cost": 0.4}}``."""
    raw = env.get(STRATEGY_WEIGHTS, "").strip() or "{}"
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"environment variable {STRATEGY_WEIGHTS} must be JSON") from None
    if not isinstance(entries, dict):
        raise ConfigError(f"environment variable {STRATEGY_WEIGHTS} must be a JSON object")
    weights = {}
    for name, entry in entries.items():
        where = f"environment variable {STRATEGY_WEIGHTS}: {name}"
        if name not in BLENDED_STRATEGIES:
            raise ConfigError(f"{where}: not one of {', '.join(BLENDED_STRATEGIES)}")
        pair = entry if isinstance(entry, dict) else {}
        carbon, cost = pair.get("carbon"), pair.get("cost")
        if set(pair) != {"carbon", "cost"} or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and 0 <= w <= 1
            for w in (carbon, cost)
        ):
            raise ConfigError(f"{where}: must be {{carbon, cost}}, each between 0 and 1")
        if abs(carbon + cost - 1.0) > 1e-6:
            raise ConfigError(f"{where}: carbon and cost must sum to 1")
        weights[name] = float(carbon)
    return weights


def _workers(env: Mapping[str, str]) -> int:
    raw = env.get(SWEEPER_WORKERS, "").strip() or "4"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_SWEEPER_WORKERS:
        raise ConfigError(
            f"environment variable {SWEEPER_WORKERS} must be a whole number from 1 to "
            f"{MAX_SWEEPER_WORKERS}, got {raw!r}"
        )
    return int(raw)
