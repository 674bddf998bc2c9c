"""Proves the pipeline is wired: every Region's rule targets the interruptions bus, the bus rule
targets the queue, and the queue policy lets exactly that rule send. A misnamed queue or a lost
target otherwise disables interruption handling without a sound; the handler runs this check on
its first invocation and on its daily self-check event, emits ``InterruptionPipelineBroken`` and
fails the self-check event loudly.

The wiring (``CARBON_AWARE_INTERRUPTION_WIRING``, interruptions.tf): ``queue_url``, ``queue_arn``,
``bus``, ``bus_arn``, ``bus_rule``, ``bus_rule_arn`` and ``regional_rules`` (Region -> rule name).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError


def problems(
    wiring: Mapping[str, Any], events: Callable[[str], Any], sqs: Any, home: str
) -> list[str]:
    """What is not wired; empty when everything is."""
    if not wiring:
        return ["no wiring configured"]
    found: list[str] = []
    for region, rule in sorted(wiring["regional_rules"].items()):
        found += _targets(events(region), rule, None, wiring["bus_arn"], f"{region} rule {rule}")
    found += _targets(
        events(home),
        wiring["bus_rule"],
        wiring["bus"],
        wiring["queue_arn"],
        f"bus rule {wiring['bus_rule']}",
    )
    try:
        raw = sqs.get_queue_attributes(QueueUrl=wiring["queue_url"], AttributeNames=["Policy"])
    except ClientError as exc:
        return [*found, f"queue {wiring['queue_url']}: {exc}"]
    policy = json.loads(raw.get("Attributes", {}).get("Policy") or "{}")
    if not any(_allows(s, wiring["bus_rule_arn"]) for s in policy.get("Statement", [])):
        found.append(f"queue policy does not let {wiring['bus_rule_arn']} send")
    return found


def _targets(client: Any, rule: str, bus: str | None, arn: str, where: str) -> list[str]:
    try:
        args = {"Rule": rule, **({"EventBusName": bus} if bus else {})}
        targets = client.list_targets_by_rule(**args)["Targets"]
    except ClientError as exc:
        return [f"{where}: {exc}"]
    return [] if any(t["Arn"] == arn for t in targets) else [f"{where} does not target {arn}"]


def _allows(statement: Mapping[str, Any], rule_arn: str) -> bool:
    principal = statement.get("Principal", {})
    service = principal.get("Service") if isinstance(principal, Mapping) else None
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions or []
    source = json.dumps(statement.get("Condition", {}))
    return (
        statement.get("Effect") == "Allow"
        and service == "events.amazonaws.com"
        and any(a in ("sqs:SendMessage", "sqs:*") for a in actions)
        and f'"{rule_arn}"' in source
    )
