"""Submitted workloads: the API's JSON schema, field-level validation, and the engine view.

A submission is the jobs-JSON shape (see the README) without ``submitted_at`` (the service sets it),
plus ``strategy``, ``strategy_options`` and the ``target`` (or per-region ``targets``) to start.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import fastjsonschema

from carbon_aware.engine import STRATEGIES, StrategyError, Workload, WorkloadError, get_strategy
from carbon_aware.engine.strategies import BLEND_WEIGHTS, Strategy
from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.targets import TargetError, task_token_workload_id, validate_target

_NUMBER = {"type": "number"}
_REGION = {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,63}$"}

SUBMISSION_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "required": ["duration_minutes", "deadline", "home_region"],
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "duration_minutes": {"type": "number", "exclusiveMinimum": 0, "maximum": 10080},
        "deadline": {"type": "string", "minLength": 10, "maxLength": 40},
        "earliest_start": {"type": "string", "minLength": 10, "maxLength": 40},
        "home_region": _REGION,
        "regions": {"type": "array", "items": _REGION, "minItems": 1, "maxItems": 50},
        "interruptible": {"type": "boolean"},
        "min_segment_minutes": {"type": "number", "exclusiveMinimum": 0},
        "power_watts": {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000_000},
        "vcpus": {"type": "number", "minimum": 0, "maximum": 100_000},
        "memory_gb": {"type": "number", "minimum": 0, "maximum": 1_000_000},
        "gpus": {"type": "number", "minimum": 0, "maximum": 10_000},
        "gpu_type": {"type": "string", "maxLength": 16},
        "prices": {"type": "object", "maxProperties": 50},
        "use_spot": {"type": "boolean"},
        "strategy": {"type": "string", "enum": sorted(STRATEGIES)},
        "strategy_options": {
            "type": "object",
            "additionalProperties": _NUMBER,
            "maxProperties": 8,
        },
        "target": {"type": "object"},
        "targets": {"type": "object", "additionalProperties": {"type": "object"}},
    },
}


@cache
def _schema_validator() -> Callable[[Any], Any]:
    """The compiled schema, built on first use: functions that only read specs (executor,
    completion) never pay for the compile at cold start."""
    return fastjsonschema.compile(SUBMISSION_SCHEMA)


RUNTIME_FIELDS = ("strategy", "strategy_options", "target", "targets")


class SubmissionError(ValueError):
    """An invalid submission; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_submission(body: object, now: float) -> dict[str, Any]:
    """Validate a submission and return the spec to store (with ``id`` and ``submitted_at``)."""
    if not isinstance(body, Mapping):
        raise SubmissionError("body", "must be a JSON object")
    for name in sorted(set(body) - set(SUBMISSION_SCHEMA["properties"])):
        reason = "is set by the service" if name == "submitted_at" else "unknown field"
        raise SubmissionError(str(name), reason)
    try:
        _schema_validator()(dict(body))
    except fastjsonschema.JsonSchemaValueException as exc:
        field = exc.name.removeprefix("data").lstrip(".") or "body"
        raise SubmissionError(field, exc.message.removeprefix(exc.name).strip()) from None
    spec = dict(body)
    spec.setdefault("id", str(uuid.uuid4()))
    spec["submitted_at"] = iso(now)
    if "target" not in spec and "targets" not in spec:
        raise SubmissionError("target", "is required (or targets per region)")
    if "target" in spec:
        _target(spec["target"], "target")
        _one_workload_per_execution(body, spec)
    for region, target in spec.get("targets", {}).items():
        _target(target, f"targets.{region}")
        if target.get("type") == "task_token":
            raise SubmissionError(f"targets.{region}.type", "task_token is only valid as target")
    workload = workload_of(spec)
    if "target" not in spec:
        missing = [r for r in workload.regions if r not in spec["targets"]]
        if missing:
            raise SubmissionError(f"targets.{missing[0]}", "no target for an allowed region")
    strategy_of(spec)
    return spec


def _one_workload_per_execution(body: Mapping[str, Any], spec: dict[str, Any]) -> None:
    """A task-token workload's id comes from its execution, where its completion will name it."""
    if spec["target"].get("type") != "task_token":
        return
    if "id" in body:
        raise SubmissionError("id", "is derived from target.execution for a task_token target")
    spec["id"] = task_token_workload_id(spec["target"]["execution"])


def _target(target: object, field: str) -> None:
    try:
        validate_target(target, field)
    except TargetError as exc:
        name, _, message = str(exc).partition(": ")
        raise SubmissionError(name, message) from None


def workload_of(spec: Mapping[str, Any]) -> Workload:
    """The engine's view of a stored spec; runtime runs are uninterrupted (see the README)."""
    fields = {k: v for k, v in spec.items() if k not in RUNTIME_FIELDS}
    try:
        workload = Workload.from_mapping(fields)
    except WorkloadError as exc:
        raise SubmissionError(exc.field, str(exc).partition(": ")[2]) from None
    return dataclasses.replace(workload, interruptible=False)


def strategy_of(spec: Mapping[str, Any], settings: WorkloadSettings | None = None) -> Strategy:
    """The workload's strategy: its own options over the module-wide defaults in ``settings``."""
    default = settings.default_strategy if settings else "combined"
    name = spec.get("strategy", default)
    options: dict[str, float] = {}
    if settings is not None and name in BLEND_WEIGHTS:
        options.update(settings.blend_options)
        if name == settings.default_strategy and settings.carbon_weight is not None:
            options["carbon_weight"] = settings.carbon_weight
    options.update(spec.get("strategy_options", {}))
    try:
        return get_strategy(name, **options)
    except StrategyError as exc:
        raise SubmissionError("strategy_options", str(exc)) from None
