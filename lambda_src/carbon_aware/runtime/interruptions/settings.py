"""The interruptions function's settings, from its environment (interruptions.tf)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carbon_aware.runtime.config import ConfigError

REBALANCE_ACTION = "CARBON_AWARE_REBALANCE_ACTION"
UNAVAILABLE_SECONDS = "CARBON_AWARE_UNAVAILABLE_SECONDS"
CHECKPOINT_DOCUMENT = "CARBON_AWARE_CHECKPOINT_DOCUMENT"
FLEET_OPTIMIZER_ARN = "CARBON_AWARE_FLEET_OPTIMIZER_ARN"
MAX_REPLACEMENTS = "CARBON_AWARE_MAX_REPLACEMENTS"
WIRING = "CARBON_AWARE_INTERRUPTION_WIRING"

REBALANCE_ACTIONS = ("ignore", "prepare", "replace")


@dataclass(frozen=True)
class InterruptionSettings:
    """What to do on a rebalance recommendation, how long a mark lasts, how to reach workloads."""

    rebalance_action: str = "prepare"
    unavailable_seconds: float = 3600.0
    checkpoint_document: str = ""
    fleet_optimizer_arn: str = ""
    max_replacements: int = 3
    wiring: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> InterruptionSettings:
        """Read the environment; ConfigError names the variable that is wrong."""
        env = os.environ if environ is None else environ
        action = env.get(REBALANCE_ACTION, "prepare").strip()
        if action not in REBALANCE_ACTIONS:
            raise ConfigError(
                f"{REBALANCE_ACTION} must be one of {REBALANCE_ACTIONS}, got {action!r}"
            )
        return cls(
            rebalance_action=action,
            unavailable_seconds=_number(env, UNAVAILABLE_SECONDS, 3600),
            checkpoint_document=env.get(CHECKPOINT_DOCUMENT, "").strip(),
            fleet_optimizer_arn=env.get(FLEET_OPTIMIZER_ARN, "").strip(),
            max_replacements=int(_number(env, MAX_REPLACEMENTS, 3)),
            wiring=_json(env, WIRING),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"{name} must be a number >= 0, got {raw!r}")
    return value


def _json(env: Mapping[str, str], name: str) -> Mapping[str, Any]:
    raw = env.get(name, "").strip()
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object")
    return value
