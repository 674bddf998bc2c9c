"""Fleet routes of the api function (payload 2.0), read-only.

GET /fleets                      every configured fleet with its stored state (or its error).
GET /fleets/{fleet}              one fleet: configuration, state and latest decision; 404 unknown.
GET /fleets/{fleet}/decisions    newest decisions first, ``?limit=`` 1..100 (default 20).
"""

from __future__ import annotations

from typing import Any

from carbon_aware.runtime import wiring
from carbon_aware.runtime.fleet.settings import FleetConfig
from carbon_aware.runtime.http_api import Request, Response, Router, error

MAX_DECISIONS = 100


def register(app: Router) -> None:
    """Add the fleet routes to ``app``."""
    app.route("GET", "/fleets")(list_fleets)
    app.route("GET", "/fleets/{fleet}")(get_fleet)
    app.route("GET", "/fleets/{fleet}/decisions")(list_decisions)


def describe(config: FleetConfig) -> dict[str, Any]:
    """A fleet's configuration as the API shows it."""
    policy = config.policy
    return {
        "name": config.name,
        "regions": list(policy.regions),
        "groups": dict(config.groups),
        "instance_types": list(config.instance_types),
        "strategy": policy.strategy,
        "min_total": policy.min_total,
        "max_total": policy.max_total,
        "desired_total": config.desired_total,
        "min_share": dict(policy.min_share),
        "max_share": dict(policy.max_share),
        "hysteresis": policy.hysteresis,
        "dwell_minutes": policy.dwell_minutes,
        "max_step": policy.max_step,
        "renewable_threshold": policy.renewable_threshold,
        "scaling_tiers": [{"below": b, "target": t} for b, t in policy.scaling_tiers],
    }


def list_fleets(request: Request) -> Response:
    """Every fleet with its state; misconfigured fleets with their error."""
    settings = wiring.fleet_settings()
    fleets = [
        {**describe(config), "state": wiring.fleet_repository().state(name).to_dict()}
        for name, config in sorted(settings.fleets.items())
    ]
    fleets += [{"name": n, "error": why} for n, why in sorted(settings.errors.items())]
    return Response(200, {"fleets": fleets})


def get_fleet(request: Request, fleet: str) -> Response:
    """One fleet with its state and latest decision."""
    config = wiring.fleet_settings().fleets.get(fleet)
    if config is None:
        return error(404, "fleet", "no such fleet")
    repository = wiring.fleet_repository()
    latest = repository.decisions(fleet, limit=1)
    return Response(
        200,
        {
            **describe(config),
            "state": repository.state(fleet).to_dict(),
            "latest_decision": latest[0] if latest else None,
        },
    )


def list_decisions(request: Request, fleet: str) -> Response:
    """The fleet's newest decisions."""
    if fleet not in wiring.fleet_settings().fleets:
        return error(404, "fleet", "no such fleet")
    raw = request.query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DECISIONS:
        return error(400, "limit", f"must be an integer from 1 to {MAX_DECISIONS}")
    decisions = wiring.fleet_repository().decisions(fleet, limit=int(raw))
    return Response(200, {"decisions": decisions})
