"""Migration routes of the api function (payload 2.0).

GET  /migrations                     newest first, ``?limit=`` 1..100 (default 20).
GET  /migrations/{id}                one migration with its history and grams; 404 unknown.
POST /migrations                     start: ``{"kind", ...strategy fields, "dry_run"?}``; a dry run
                                     validates against AWS and writes nothing (200), a start is
                                     stepped by the migrations function (202); 409 when the
                                     subject already migrates, 400 naming a bad field.
POST /migrations/{id}/cancel         cancel (pending, validating) or roll back (preparing,
                                     migrating); 409 once completing or over.
"""

from __future__ import annotations

import json
from typing import Any

from carbon_aware.runtime import wiring
from carbon_aware.runtime.config import ConfigError
from carbon_aware.runtime.http_api import Request, Response, Router, error
from carbon_aware.runtime.migrations.orchestrator import AlreadyMigrating, CannotCancel

# Built lazily by wiring.migrations(): imported here so this function's bundle carries them.
from carbon_aware.runtime.migrations.strategies import (  # noqa: F401
    SpecError,
    blue_green,
    checkpoint_restore,
    drain_and_shift,
)

MAX_LISTED = 100


def register(app: Router) -> None:
    """Add the migration routes to ``app``."""
    app.route("GET", "/migrations")(list_migrations)
    app.route("GET", "/migrations/{migration_id}")(get_migration)
    app.route("POST", "/migrations")(start_migration)
    app.route("POST", "/migrations/{migration_id}/cancel")(cancel_migration)


def _unconfigured(exc: Exception) -> Response:
    return error(503, "migrations", f"migrations are not configured: {exc}")


def list_migrations(request: Request) -> Response:
    """The newest migrations."""
    raw = request.query.get("limit", "20")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LISTED:
        return error(400, "limit", f"must be an integer in 1..{MAX_LISTED}")
    try:
        repo = wiring.migration_repository()
    except ConfigError as exc:
        return _unconfigured(exc)
    return Response(200, {"migrations": [m.to_dict() for m in repo.recent(int(raw))]})


def get_migration(request: Request, migration_id: str) -> Response:
    """One migration."""
    try:
        m = wiring.migration_repository().get(migration_id)
    except ConfigError as exc:
        return _unconfigured(exc)
    if m is None:
        return error(404, "migration_id", "no such migration")
    return Response(200, m.to_dict())


def start_migration(request: Request) -> Response:
    """Start a migration, or with ``dry_run`` only validate it."""
    try:
        body: Any = json.loads(request.body or "")
    except ValueError:
        return error(400, "body", "must be a JSON object")
    if not isinstance(body, dict):
        return error(400, "body", "must be a JSON object")
    dry_run = body.pop("dry_run", False)
    if not isinstance(dry_run, bool):
        return error(400, "dry_run", "must be true or false")
    try:
        orchestrator = wiring.migrations()
        answer = orchestrator.start(body, wiring.clock().now(), dry_run=dry_run)
    except ConfigError as exc:
        return _unconfigured(exc)
    except SpecError as exc:
        field, _, message = str(exc).partition(": ")
        return error(400, field, message or str(exc))
    except AlreadyMigrating as exc:
        return error(409, "subject", str(exc))
    return Response(200 if dry_run else 202, answer)


def cancel_migration(request: Request, migration_id: str) -> Response:
    """Cancel one migration."""
    try:
        m = wiring.migrations().cancel(migration_id, wiring.clock().now(), "cancelled via the API")
    except ConfigError as exc:
        return _unconfigured(exc)
    except KeyError:
        return error(404, "migration_id", "no such migration")
    except CannotCancel as exc:
        return error(409, "state", str(exc))
    return Response(200, m.to_dict())
