"""blue_green: move a stateless service's traffic from one region's deployment to another's.

A service (``var.migrations.services``) runs in each of its regions on an Auto Scaling group
behind one Route 53 weighted record set per region (same name and type, its own set identifier,
optionally a Route 53 health check). Launch before drain, always: preparing raises the target
group to the source's capacity and waits for ``healthy_checks`` consecutive healthy checks of
the target (all its instances InService and healthy and, if the region has one, its Route 53
health check passing), one check per poll. migrating shifts the weights in ``traffic_steps``
(percent of the traffic on the target), ``step_wait_seconds`` apart, checking the target before
each step; each step is persisted once written (a crash re-writes the same absolute weights).
The target failing a check rolls the migration back. completing waits the
``deregistration_delay_seconds`` after the last shift, checks the target once more, then lowers
the source to its group's minimum (never below it) and waits for it to drain.

Rollback restores the source first: its desired capacity back to what it was, then (once it is
healthy) the weights back to what they were, then, after the deregistration delay, the target
back to its original capacity. Rollback always rewrites the original weights, so a shift a
crash left unrecorded is undone too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.runtime.migrations.orchestrator import DEFAULT_POLL_SECONDS
from carbon_aware.runtime.migrations.repository import Migration
from carbon_aware.runtime.migrations.states import DEFAULT_TIMEOUTS, MigrationState
from carbon_aware.runtime.migrations.strategies import (
    Outcome,
    SpecError,
    StepFailed,
    check_basis,
    check_move,
    net_grams,
    overhead_grams,
)
from carbon_aware.runtime.migrations.strategies.groups import Group, read_group, set_desired

KIND = "blue_green"
_FIELDS = {
    "kind",
    "service",
    "source",
    "target",
    "healthy_checks",
    "traffic_steps",
    "step_wait_seconds",
    "deregistration_delay_seconds",
    "basis",
}
DEFAULTS: Mapping[str, Any] = {
    "healthy_checks": 3,
    "traffic_steps": [10, 50, 100],
    "step_wait_seconds": 60.0,
    "deregistration_delay_seconds": 300.0,
}
# Route 53 is global; its API is served from us-east-1.
ROUTE53_REGION = "us-east-1"
# Route 53 considers an endpoint healthy when more than 18 % of its checkers say so.
HEALTHY_SHARE = 0.18


@dataclass(frozen=True)
class Endpoint:
    """The service in one region: its Auto Scaling group, the set identifier of its weighted
    record, and optionally its Route 53 health check."""

    group: str
    set_identifier: str
    health_check_id: str | None = None


@dataclass(frozen=True)
class Service:
    """A service's weighted record set (hosted zone, name, type) and its regions."""

    zone_id: str
    record_name: str
    record_type: str
    regions: Mapping[str, Endpoint]


def parse_services(raw: Any) -> dict[str, Service]:
    """Services from their JSON form; ValueError names the first missing or malformed field."""
    if not isinstance(raw, Mapping):
        raise ValueError("must be an object of services")
    out = {}
    for name, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"{name}: must be an object")
        fields = {}
        for key in ("zone_id", "record_name"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ValueError(f"{name}.{key}: must be a non-empty string")
            fields[key] = entry[key]
        regions = entry.get("regions")
        if not isinstance(regions, Mapping) or len(regions) < 2:
            raise ValueError(f"{name}.regions: must name at least two regions")
        endpoints = {}
        for region, e in regions.items():
            where = f"{name}.regions.{region}"
            if not isinstance(e, Mapping):
                raise ValueError(f"{where}: must be an object")
            for key in ("group", "set_identifier"):
                if not isinstance(e.get(key), str) or not e[key]:
                    raise ValueError(f"{where}.{key}: must be a non-empty string")
            check = e.get("health_check_id")
            if check is not None and (not isinstance(check, str) or not check):
                raise ValueError(f"{where}.health_check_id: must be a non-empty string or null")
            endpoints[region] = Endpoint(e["group"], e["set_identifier"], check)
        out[name] = Service(
            fields["zone_id"],
            fields["record_name"].rstrip(".").lower(),
            str(entry.get("record_type") or "A"),
            endpoints,
        )
    return out


def check_parameters(request: Mapping[str, Any]) -> dict[str, Any]:
    """healthy_checks, traffic_steps, step_wait_seconds, deregistration_delay_seconds (each
    defaulted); :class:`SpecError` names a bad one."""
    out = {k: request.get(k, v) for k, v in DEFAULTS.items()}
    checks = out["healthy_checks"]
    if isinstance(checks, bool) or not isinstance(checks, int) or checks < 1:
        raise SpecError("healthy_checks: must be an integer >= 1")
    steps = out["traffic_steps"]
    if (
        not isinstance(steps, list)
        or not steps
        or any(isinstance(s, bool) or not isinstance(s, int) or not 0 < s <= 100 for s in steps)
        or steps != sorted(set(steps))
        or steps[-1] != 100
    ):
        raise SpecError(
            "traffic_steps: must be increasing integer percents in 1..100 ending at 100"
        )
    for name in ("step_wait_seconds", "deregistration_delay_seconds"):
        value = out[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"{name}: must be a number of seconds")
        if not math.isfinite(value) or value < 0:
            raise SpecError(f"{name}: must be seconds >= 0")
        out[name] = float(value)
    return out


@dataclass(frozen=True)
class BlueGreen:
    """The strategy for stateless services (see the module docstring); ``client(service,
    region)`` builds AWS clients; ``timeouts`` and ``poll_seconds`` are the orchestrator's (a
    shift that cannot finish within them is refused at start)."""

    services: Mapping[str, Service]
    client: Callable[[str, str], Any]
    timeouts: Mapping[MigrationState, float] = field(default_factory=lambda: DEFAULT_TIMEOUTS)
    poll_seconds: float = DEFAULT_POLL_SECONDS
    kind: str = KIND

    def check(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Normalised spec: service, source, target, the shift's parameters, the basis."""
        regions = {name: list(service.regions) for name, service in self.services.items()}
        service, source, target = check_move(request, KIND, _FIELDS, "service", regions)
        parameters = check_parameters(request)
        self._fits(parameters)
        return {
            "service": service,
            "source": source,
            "target": target,
            **parameters,
            "basis": check_basis(request),
        }

    def _fits(self, parameters: Mapping[str, Any]) -> None:
        """The checks fit in preparing's timeout, the steps in migrating's (one poll at least
        between two of them, and one to enter the state)."""
        poll = self.poll_seconds
        checks = (parameters["healthy_checks"] + 1) * poll
        if checks >= self.timeouts[MigrationState.PREPARING]:
            raise SpecError(
                f"healthy_checks: {parameters['healthy_checks']} checks {poll:g} s apart need "
                f"{checks:g} s, the preparing timeout is "
                f"{self.timeouts[MigrationState.PREPARING]:g} s"
            )
        steps = parameters["traffic_steps"]
        shift = (len(steps) + 1) * max(poll, parameters["step_wait_seconds"])
        if shift >= self.timeouts[MigrationState.MIGRATING]:
            # Blame the wait when it sets the pace, else the number of steps (one poll each).
            name = (
                "step_wait_seconds" if parameters["step_wait_seconds"] > poll else "traffic_steps"
            )
            raise SpecError(
                f"{name}: {len(steps)} traffic steps and their waits need {shift:g} s, "
                f"the migrating timeout is {self.timeouts[MigrationState.MIGRATING]:g} s"
            )

    def subject(self, spec: Mapping[str, Any]) -> str:
        """One live migration per service."""
        return f"service:{spec['service']}"

    def validate(self, m: Migration, now: float) -> Outcome:
        """Both groups and weighted records exist, the source carries traffic, the target group
        can take the source's capacity, health checks exist; originals recorded."""
        service = self._service(m)
        source, target = m.spec["source"], m.spec["target"]
        src, tgt = self._group(m, source), self._group(m, target)
        weights = {r: int(self._record(service, r)["Weight"]) for r in (source, target)}
        if weights[source] == 0:
            raise StepFailed(f"{source}'s record has weight 0: it carries no traffic to move")
        goal = max(tgt.desired, src.desired)
        if goal > tgt.max_size:
            raise StepFailed(f"{target} group max size {tgt.max_size} < {goal}")
        for region in (source, target):
            self._health_check(service, region)
        return Outcome(
            True,
            {
                "original": {
                    source: {"desired": src.desired, "weight": weights[source]},
                    target: {"desired": tgt.desired, "weight": weights[target]},
                },
                "goal": goal,
                "floor": src.min_size,
            },
            f"{m.spec['service']} from {source} ({src.desired}) to {target} ({tgt.desired})",
        )

    def prepare(self, m: Migration, now: float) -> Outcome:
        """Launch first: raise the target to the source's capacity; then count consecutive
        healthy checks of the target, one per step."""
        target, goal = m.spec["target"], m.data["goal"]
        if self._group(m, target).desired < goal:
            self._set(m, target, goal)
        why = self._unhealthy(m, target)
        streak = 0 if why else m.data.get("healthy_streak", 0) + 1
        data = {"launched_at": m.data.get("launched_at", now), "healthy_streak": streak}
        needed = m.spec["healthy_checks"]
        if streak >= needed:
            return Outcome(True, data, f"{target} healthy {needed} checks in a row")
        return Outcome(False, data, why or f"{target} healthy {streak}/{needed} checks")

    def migrate(self, m: Migration, now: float) -> Outcome:
        """Shift the next step of traffic to the target once the last one has had its wait and
        the target is still healthy; done a wait after the last step."""
        target, steps = m.spec["target"], m.spec["traffic_steps"]
        why = self._unhealthy(m, target)
        if why:
            raise StepFailed(f"{target} failed its health check during the shift: {why}")
        done = m.data.get("step", 0)
        waited = done == 0 or now - m.data["shifted_at"] >= m.spec["step_wait_seconds"]
        if not waited:
            return Outcome(False, note=f"{steps[done - 1]}% on {target}, waiting")
        if done == len(steps):
            return Outcome(True, note=f"all traffic on {target}")
        percent = steps[done]
        self._weigh(m, {m.spec["source"]: 100 - percent, target: percent})
        return Outcome(
            False, {"step": done + 1, "shifted_at": now}, f"{percent}% of traffic on {target}"
        )

    def complete(self, m: Migration, now: float) -> Outcome:
        """After the deregistration delay, lower the source to its minimum (the target checked
        once more before: until then a failing target still rolls back)."""
        source, floor = m.spec["source"], m.data["floor"]
        if "released_at" not in m.data:
            if now - m.data["shifted_at"] < m.spec["deregistration_delay_seconds"]:
                return Outcome(False, note=f"{source} deregistering")
            why = self._unhealthy(m, m.spec["target"])
            if why:
                raise StepFailed(f"{m.spec['target']} failed before the source drained: {why}")
        src = self._group(m, source)
        if src.desired > floor:
            self._set(m, source, floor)
        data = {"released_at": m.data.get("released_at", now)}
        if src.healthy > floor:
            return Outcome(False, data, f"{source} draining: {src.healthy} > {floor}")
        return Outcome(True, data, f"{source} drained to {floor}")

    def rollback(self, m: Migration, now: float) -> Outcome:
        """Source capacity back, then its traffic, then (after the deregistration delay) the
        target's capacity back."""
        original = m.data.get("original")
        if not original:
            return Outcome(True, note="nothing was changed")
        source, target = m.spec["source"], m.spec["target"]
        timed_out = m.deadline is not None and now >= m.deadline
        if "restored_at" not in m.data:
            src = self._group(m, source)
            if src.desired < original[source]["desired"]:
                self._set(m, source, original[source]["desired"])
            if src.healthy < original[source]["desired"] and not timed_out:
                return Outcome(False, note=f"{source} healthy {src.healthy}")
            self._weigh(m, {r: original[r]["weight"] for r in (source, target)})
            return Outcome(False, {"restored_at": now}, f"traffic back on {source}")
        if now - m.data["restored_at"] < m.spec["deregistration_delay_seconds"] and not timed_out:
            return Outcome(False, note=f"{target} deregistering")
        if self._group(m, target).desired > original[target]["desired"]:
            self._set(m, target, original[target]["desired"])
        return Outcome(True, note=f"{source} restored, {target} back to its capacity")

    def grams(self, m: Migration) -> dict[str, Any]:
        """The source's instances moved, with the target's time beside them as the overhead."""
        overlap = m.data.get("released_at", 0.0) - m.data.get("launched_at", 0.0)
        return net_grams(m.spec.get("basis"), self._units(m), overlap)

    def rollback_grams(self, m: Migration, now: float) -> dict[str, Any]:
        """The launched target's time beside the source, if it was launched."""
        overlap = now - m.data["launched_at"] if "launched_at" in m.data else 0.0
        return overhead_grams(m.spec.get("basis"), self._units(m), overlap)

    def _units(self, m: Migration) -> int:
        return int(m.data.get("original", {}).get(m.spec["source"], {}).get("desired", 0))

    def _service(self, m: Migration) -> Service:
        service = self.services.get(m.spec["service"])
        if service is None:
            raise StepFailed(f"service {m.spec['service']} is no longer configured")
        return service

    def _group(self, m: Migration, region: str) -> Group:
        name = self._service(m).regions[region].group
        return read_group(self.client("autoscaling", region), name, region)

    def _set(self, m: Migration, region: str, desired: int) -> None:
        name = self._service(m).regions[region].group
        set_desired(self.client("autoscaling", region), name, desired)

    def _unhealthy(self, m: Migration, region: str) -> str:
        """Why ``region`` fails a check now ('' when healthy): fewer healthy InService instances
        than the goal, or its Route 53 health check failing."""
        goal = m.data["goal"]
        group = self._group(m, region)
        if group.healthy < goal or group.desired < goal:
            return f"{region} healthy {group.healthy}/{goal} (desired {group.desired})"
        passing = self._health_check(self._service(m), region)
        if passing is not None and passing <= HEALTHY_SHARE:
            return f"{region} Route 53 health check passing on {passing:.0%} of checkers"
        return ""

    def _health_check(self, service: Service, region: str) -> float | None:
        """The share of checkers reporting the region's health check healthy (None: no check)."""
        check = service.regions[region].health_check_id
        if check is None:
            return None
        try:
            observed = self._route53().get_health_check_status(HealthCheckId=check)[
                "HealthCheckObservations"
            ]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchHealthCheck":
                raise StepFailed(f"{region}: no Route 53 health check {check}") from None
            raise
        passing = [o for o in observed if o["StatusReport"]["Status"].startswith("Success")]
        return len(passing) / len(observed) if observed else 0.0

    def _record(self, service: Service, region: str) -> dict[str, Any]:
        """The region's weighted record as Route 53 holds it."""
        identifier = service.regions[region].set_identifier
        listed = self._route53().list_resource_record_sets(
            HostedZoneId=service.zone_id,
            StartRecordName=service.record_name,
            StartRecordType=service.record_type,
        )["ResourceRecordSets"]
        for record in listed:
            if (
                record["Name"].rstrip(".").lower() == service.record_name
                and record["Type"] == service.record_type
                and record.get("SetIdentifier") == identifier
            ):
                if "Weight" not in record:
                    raise StepFailed(f"{region}: record {identifier} is not a weighted record")
                return record
        raise StepFailed(
            f"{region}: no {service.record_type} record {service.record_name} with set "
            f"identifier {identifier} in hosted zone {service.zone_id}"
        )

    def _weigh(self, m: Migration, percents: Mapping[str, int]) -> None:
        """Write both regions' weights in one change (absolute values: safe to repeat)."""
        service = self._service(m)
        changes = []
        for region, weight in percents.items():
            record = {**self._record(service, region), "Weight": weight}
            changes.append({"Action": "UPSERT", "ResourceRecordSet": record})
        self._route53().change_resource_record_sets(
            HostedZoneId=service.zone_id,
            ChangeBatch={"Comment": f"carbon-aware migration {m.migration_id}", "Changes": changes},
        )

    def _route53(self) -> Any:
        return self.client("route53", ROUTE53_REGION)
