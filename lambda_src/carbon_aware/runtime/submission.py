"""Submitted workloads: the API's JSON schema, field-level validation, and the engine view.

A submission is the jobs-JSON shape (see the README) without ``submitted_at`` (the service sets it),
plus ``strategy``, ``strategy_options`` and the ``target`` (or per-region ``targets``) to start.
Validation happens at the door: the regions must be ones this deployment serves and the catalog
knows, and the target must be allow-listed in every region the placement may choose; a submission
that fails any check is rejected whole (nothing is stored, nothing is restricted silently).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import fastjsonschema

from carbon_aware.engine import STRATEGIES, StrategyError, Workload, WorkloadError, get_strategy
from carbon_aware.engine.strategies import BLEND_WEIGHTS, Strategy
from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.json_shape import ShapeError, check_shape
from carbon_aware.runtime.targets import (
    TargetError,
    allowed,
    resolve_target,
    target_resources,
    task_token_workload_id,
    validate_target,
)
from carbon_aware.signals.catalog import Catalog, load_catalog

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
        "min_segment_minutes": {"type": "number", "exclusiveMinimum": 0, "maximum": 10080},
        # Size of an interruptible workload's checkpoint: what a move between Regions copies.
        "checkpoint_gb": {"type": "number", "exclusiveMinimum": 0, "maximum": 5},
        "power_watts": {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000_000},
        "vcpus": {"type": "number", "minimum": 0, "maximum": 100_000},
        "memory_gb": {"type": "number", "minimum": 0, "maximum": 1_000_000},
        "gpus": {"type": "number", "minimum": 0, "maximum": 10_000},
        "gpu_type": {"type": "string", "maxLength": 16},
        "prices": {"type": "object", "maxProperties": 50},
        "use_spot": {"type": "boolean"},
        "instance_type": {"type": "string", "pattern": "^[a-z0-9-]{1,24}\\.[a-z0-9-]{1,24}$"},
        "strategy": {"type": "string", "enum": sorted(STRATEGIES)},
        "strategy_options": {
            "type": "object",
            "additionalProperties": _NUMBER,
            "maxProperties": 8,
        },
        "target": {"type": "object"},
        "targets": {"type": "object", "additionalProperties": {"type": "object"}},
        # Labels the carbon report groups by (e.g. "team"); no effect on placement.
        "tags": {
            "type": "object",
            "propertyNames": {"minLength": 1, "maxLength": 128},
            "additionalProperties": {"type": "string", "maxLength": 256},
            "maxProperties": 50,
        },
    },
}


@cache
def _schema_validator() -> Callable[[Any], Any]:
    """The compiled schema, built on first use: functions that only read specs (executor,
    completion) never pay for the compile at cold start."""
    return fastjsonschema.compile(SUBMISSION_SCHEMA)


RUNTIME_FIELDS = (
    "strategy",
    "strategy_options",
    "target",
    "targets",
    "instance_type",
    "tags",
    "checkpoint_gb",
)
# Fields that only matter to interruptible runs: rejected, not ignored, on other runs.
INTERRUPTIBLE_ONLY = ("min_segment_minutes", "checkpoint_gb")
# Targets a segment end can stop with SIGTERM (and a checkpoint budget) and start again.
STOPPABLE = ("ecs", "batch")
DEFAULT_CHECKPOINT_GB = 1.0
NO_PRICE_SOURCE = (
    "none: ranked on carbon only; submit prices, or an instance_type (an ecs target: vcpus and "
    "memory_gb) the price cache has prices for"
)
CACHED_PRICES = "cached prices (price_sources says which, per Region)"


class SubmissionError(ValueError):
    """An invalid submission; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_submission(body: object, now: float, settings: WorkloadSettings) -> dict[str, Any]:
    """Validate a submission against this deployment and return the spec to store (with ``id``
    and ``submitted_at``); :class:`SubmissionError` names the first offending field."""
    if not isinstance(body, Mapping):
        raise SubmissionError("body", "must be a JSON object")
    try:
        check_shape(body)
    except ShapeError as exc:
        raise SubmissionError(exc.field, exc.message) from None
    for name in sorted(set(body) - set(SUBMISSION_SCHEMA["properties"])):
        reason = "is set by the service" if name == "submitted_at" else "unknown field"
        raise SubmissionError(str(name), reason)
    try:
        _schema_validator()(dict(body))
    except fastjsonschema.JsonSchemaValueException as exc:
        field = exc.name.removeprefix("data").lstrip(".") or "body"
        raise SubmissionError(field, exc.message.removeprefix(exc.name).strip()) from None
    _interruptible_only(body)
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
    check_regions(spec, settings)
    strategy = strategy_of(spec, settings)
    options = spec.get("strategy_options", {})
    if "max_cost" in options and not spec.get("prices"):
        raise SubmissionError(
            "strategy_options.max_cost", "needs prices submitted with the workload"
        )
    home_only = getattr(strategy, "only_home", False)
    regions = [workload.home_region] if home_only else workload.regions
    _check_targets(spec, regions, settings)
    if workload.interruptible:
        check_interruptible(spec, regions, settings)
    return spec


def _one_workload_per_execution(body: Mapping[str, Any], spec: dict[str, Any]) -> None:
    """A task-token workload's id comes from its execution, where its completion will name it."""
    if spec["target"].get("type") != "task_token":
        return
    if "id" in body:
        raise SubmissionError("id", "is derived from target.execution for a task_token target")
    spec["id"] = task_token_workload_id(spec["target"]["execution"])


def _interruptible_only(body: Mapping[str, Any]) -> None:
    if body.get("interruptible") is True:
        return
    for name in INTERRUPTIBLE_ONLY:
        if name in body:
            raise SubmissionError(name, "applies to interruptible runs only (interruptible: true)")


def check_interruptible(spec: Mapping[str, Any], regions: Any, settings: WorkloadSettings) -> None:
    """An interruptible workload runs in segments: every Region it may run in needs a target
    that can be stopped with a checkpoint budget and started again, and a checkpoint bucket."""
    for region in regions:
        field = f"targets.{region}" if region in spec.get("targets", {}) else "target"
        target = resolve_target(spec, region)
        if target["type"] not in STOPPABLE:
            raise SubmissionError(
                f"{field}.type",
                f"an interruptible workload needs a target that can be told to checkpoint and "
                f"be stopped ({' or '.join(STOPPABLE)}); {target['type']} targets cannot",
            )
        containers = (target.get("overrides") or {}).get("containerOverrides") or []
        if target["type"] == "ecs" and not all(
            isinstance(c, Mapping) and c.get("name") for c in containers or [None]
        ):
            raise SubmissionError(
                f"{field}.overrides.containerOverrides",
                "an interruptible ecs target must name the container(s) that receive the "
                'checkpoint environment ([{"name": ...}])',
            )
        if region not in settings.checkpoint_buckets:
            raise SubmissionError(
                "interruptible",
                f"this deployment keeps no checkpoints in {region} (the module's checkpoints "
                "input); leave the Region out or run the workload uninterrupted",
            )


def _target(target: object, field: str) -> None:
    try:
        validate_target(target, field)
    except TargetError as exc:
        name, _, message = str(exc).partition(": ")
        raise SubmissionError(name, message) from None


@cache
def _catalog() -> Catalog:
    return load_catalog()


def check_regions(spec: Mapping[str, Any], settings: WorkloadSettings) -> None:
    """Every region the spec names must be served by this deployment and known to the catalog;
    :class:`SubmissionError` names the first that is not (``home_region``, ``regions[1]``)."""
    named = [("home_region", spec["home_region"])]
    named += [(f"regions[{i}]", r) for i, r in enumerate(spec.get("regions", []))]
    for field, region in named:
        if region not in settings.regions:
            served = ", ".join(settings.regions)
            raise SubmissionError(
                field, f"{region!r} is not a region this deployment serves ({served})"
            )
        if region not in _catalog():
            raise SubmissionError(field, f"{region!r} is not in the region catalog")


def _check_targets(spec: Mapping[str, Any], regions: Any, settings: WorkloadSettings) -> None:
    """The target of every region the placement may choose exists and is allow-listed."""
    for region in regions:
        field = f"targets.{region}" if region in spec.get("targets", {}) else "target"
        try:
            target = resolve_target(spec, region)
        except TargetError as exc:
            name, _, message = str(exc).partition(": ")
            raise SubmissionError(name, message) from None
        for name, arn in target_resources(target).items():
            if not allowed([arn], settings.target_allowlist):
                raise SubmissionError(
                    f"{field}.{name}",
                    f"{arn} (for region {region}) is not in the module's allow-list "
                    "(execution_targets)",
                )


def workload_of(spec: Mapping[str, Any]) -> Workload:
    """The engine's view of a stored spec (interruptible ones run in segments, runtime.segments)."""
    fields = {k: v for k, v in spec.items() if k not in RUNTIME_FIELDS}
    try:
        return Workload.from_mapping(fields)
    except WorkloadError as exc:
        raise SubmissionError(exc.field, str(exc).partition(": ")[2]) from None


def strategy_of(spec: Mapping[str, Any], settings: WorkloadSettings | None = None) -> Strategy:
    """The workload's strategy: its own options over the module-wide ones in ``settings``.

    The module-wide weights of a blended strategy apply to every workload using it; the
    module-wide ``max_cost`` only to workloads that carry prices, submitted or from the price
    cache (:func:`cost_notes` says which, or that there were none, in the decision)."""
    default = settings.default_strategy if settings else "combined"
    name = spec.get("strategy", default)
    options: dict[str, float] = {}
    if settings is not None and name in BLEND_WEIGHTS:
        options.update(settings.blend_options)
        if not spec.get("prices"):
            options.pop("max_cost", None)
        if name in settings.blend_weights:
            options["carbon_weight"] = settings.blend_weights[name]
    options.update(spec.get("strategy_options", {}))
    try:
        return get_strategy(name, **options)
    except StrategyError as exc:
        raise SubmissionError("strategy_options", str(exc)) from None


def cost_notes(
    spec: Mapping[str, Any],
    settings: WorkloadSettings,
    cached: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the decision must say about cost: its basis (``cached``: the sources of prices taken
    from the price cache), and module-wide options not applied."""
    name = spec.get("strategy", settings.default_strategy)
    module_options = sorted(settings.blend_options)
    if name not in BLEND_WEIGHTS:
        if not module_options:
            return {}
        return {
            "module_options": f"not applied: {', '.join(module_options)} apply to the blended "
            f"strategies ({', '.join(BLEND_WEIGHTS)}) only, not to {name}"
        }
    if cached:
        return {"cost_basis": CACHED_PRICES, "price_sources": dict(cached)}
    if spec.get("prices"):
        return {"cost_basis": "prices submitted with the workload"}
    notes = {"cost_basis": NO_PRICE_SOURCE}
    if "max_cost" in settings.blend_options:
        notes["cost_constraint"] = (
            "not applied: the workload has no prices and the price cache has none for it"
        )
    return notes
