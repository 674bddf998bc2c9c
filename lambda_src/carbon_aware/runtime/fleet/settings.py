"""Fleet settings from ``CARBON_AWARE_FLEETS`` (rendered by Terraform; see the contract C2).

Each fleet is parsed on its own: a broken fleet is reported with its error (naming the variable,
the fleet and the field) and never stops the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.fleet_policy import FleetPolicy, FleetPolicyError
from carbon_aware.runtime.config import (
    FLEET_TABLE,
    FLEETS,
    PLACEMENT_SCORE_DAILY_BUDGET,
    SIGNALS_TABLE,
    ConfigError,
    required,
)

DEFAULT_PLACEMENT_SCORE_DAILY_BUDGET = 40
#: Optional fields passed to FleetPolicy as they are (its defaults apply when absent).
_POLICY_FIELDS = (
    "hysteresis",
    "dwell_minutes",
    "max_step",
    "move_cost_minutes",
    "lookahead_hours",
    "renewable_threshold",
)
_FIELDS = {
    *_POLICY_FIELDS,
    "regions",
    "groups",
    "instance_types",
    "min_total",
    "max_total",
    "desired_total",
    "min_share",
    "max_share",
    "strategy",
    "scaling_tiers",
    "scaling_policy_name",
}


@dataclass(frozen=True)
class FleetConfig:
    """One fleet: its policy, Auto Scaling group per region, instance types and desired total."""

    policy: FleetPolicy
    groups: Mapping[str, str]
    instance_types: tuple[str, ...]
    desired_total: int
    scaling_policy_name: str

    @property
    def name(self) -> str:
        """The fleet's name."""
        return self.policy.name


@dataclass(frozen=True)
class FleetSettings:
    """Every configured fleet (or its configuration error) and the tables."""

    fleets: Mapping[str, FleetConfig]
    errors: Mapping[str, str]
    fleet_table: str
    signals_table: str
    placement_score_daily_budget: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FleetSettings:
        """Read the environment; ConfigError names a missing or malformed variable."""
        env = os.environ if environ is None else environ
        fleets, errors = parse_fleets(env.get(FLEETS, ""))
        raw_budget = env.get(PLACEMENT_SCORE_DAILY_BUDGET, "").strip()
        try:
            budget = int(raw_budget) if raw_budget else DEFAULT_PLACEMENT_SCORE_DAILY_BUDGET
        except ValueError:
            budget = -1
        if budget < 0:
            raise ConfigError(
                f"environment variable {PLACEMENT_SCORE_DAILY_BUDGET} must be an integer >= 0, "
                f"got {raw_budget!r}"
            )
        return cls(
            fleets=fleets,
            errors=errors,
            fleet_table=required(env, FLEET_TABLE) if fleets or errors else "",
            signals_table=env.get(SIGNALS_TABLE, "").strip(),
            placement_score_daily_budget=budget,
        )


def parse_fleets(raw: str) -> tuple[dict[str, FleetConfig], dict[str, str]]:
    """Fleets by name, and errors by fleet name for those that do not parse."""
    if not raw.strip():
        return {}, {}
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {FLEETS} must be JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"environment variable {FLEETS} must be a JSON object of fleets")
    fleets: dict[str, FleetConfig] = {}
    errors: dict[str, str] = {}
    for name, spec in document.items():
        try:
            fleets[name] = parse_fleet(name, spec)
        except (ConfigError, FleetPolicyError) as exc:
            errors[name] = f"{FLEETS}[{name}]: {exc}"
    return fleets, errors


def parse_fleet(name: str, spec: object) -> FleetConfig:
    """One fleet's entry; ConfigError / FleetPolicyError name the field."""
    if not isinstance(spec, dict):
        raise ConfigError("must be an object")
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise ConfigError(f"unknown fields {unknown}")
    regions = tuple(_list(spec, "regions"))
    groups = spec.get("groups")
    if not isinstance(groups, dict) or sorted(groups) != sorted(regions):
        raise ConfigError("groups must map every region (and only those) to a group name")
    for region, group in groups.items():
        if not isinstance(group, str) or not group:
            raise ConfigError(f"groups[{region}] must be a group name")
    tiers = spec.get("scaling_tiers")
    policy_args: dict[str, Any] = {}
    if tiers is not None:
        if not isinstance(tiers, list) or not all(isinstance(t, dict) for t in tiers):
            raise ConfigError("scaling_tiers must be a list of {below, target}")
        if any(set(t) != {"below", "target"} for t in tiers):
            raise ConfigError("scaling_tiers entries must have exactly below and target")
        policy_args["scaling_tiers"] = tuple((t["below"], t["target"]) for t in tiers)
    for key in _POLICY_FIELDS:
        if key in spec:
            policy_args[key] = spec[key]
    policy = FleetPolicy(
        name=name,
        regions=regions,
        strategy=spec.get("strategy", "balanced"),
        min_total=_int(spec, "min_total"),
        max_total=_int(spec, "max_total"),
        min_share=_shares(spec, "min_share"),
        max_share=_shares(spec, "max_share"),
        **policy_args,
    )
    desired = _int(spec, "desired_total")
    if not policy.min_total <= desired <= policy.max_total:
        raise ConfigError("desired_total must be within [min_total, max_total]")
    scaling_name = spec.get("scaling_policy_name", f"{name}-carbon-target")
    if not isinstance(scaling_name, str) or not scaling_name:
        raise ConfigError("scaling_policy_name must be a non-empty string")
    return FleetConfig(
        policy=policy,
        groups=dict(groups),
        instance_types=tuple(_list(spec, "instance_types")),
        desired_total=desired,
        scaling_policy_name=scaling_name,
    )


def _list(spec: Mapping[str, Any], key: str) -> list[str]:
    value = spec.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a non-empty list of strings")
    return value


def _int(spec: Mapping[str, Any], key: str) -> int:
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{key} must be an integer >= 0, got {value!r}")
    return value


def _shares(spec: Mapping[str, Any], key: str) -> dict[str, float]:
    value = spec.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be an object of region -> fraction")
    return value
