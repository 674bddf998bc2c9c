"""The surface of migrations: the api routes (list, start with a dry run first, get, cancel),
fields rejected naming them, the CLI's start request, and the demo's four migrations."""

from __future__ import annotations

import argparse
import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.runtime.events import http
from tests.runtime.migrations.migration_env import FLEET, SERVICE, SOURCE, TARGET, Env, create_env

from carbon_aware.cli.demo_migrations import run_migration_demo
from carbon_aware.cli.migrations import request_of
from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.handlers import api
from carbon_aware.runtime.migrations.settings import MIGRATION_SERVICES, MIGRATIONS_TABLE

SHIFT = {"kind": "drain_and_shift", "fleet": FLEET, "source": SOURCE, "target": TARGET, "count": 1}
MOVE = {"kind": "blue_green", "service": SERVICE, "source": SOURCE, "target": TARGET}


@pytest.fixture
def env(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    env = create_env([1_800_000_000.0], {}, {})
    monkeypatch.setenv(MIGRATIONS_TABLE, "migrations")
    monkeypatch.setenv(config.FLEETS, json.dumps({FLEET: env.fleet_spec}))
    monkeypatch.setenv(config.FLEET_TABLE, "fleets")
    monkeypatch.setenv(MIGRATION_SERVICES, json.dumps(env.services))
    monkeypatch.delenv(config.WORKLOADS_TABLE, raising=False)
    wiring.reset()
    yield env
    wiring.reset()


def call(method: str, path: str, body: object = None, query: dict | None = None) -> tuple:
    # Through the api function's router (its IAM grants for migrations are not in the module yet).
    response = api.app.resolve(http(method, path, body, query=query))
    return response["statusCode"], json.loads(response["body"])


def test_start_dry_run_first_then_start_get_list_and_cancel(env: Env) -> None:
    status, plan = call("POST", "/migrations", {**SHIFT, "dry_run": True})
    assert status == 200 and plan["ok"] and plan["plan"]["goal"] == {SOURCE: 3, TARGET: 3}
    assert call("GET", "/migrations")[1] == {"migrations": []}
    status, started = call("POST", "/migrations", SHIFT)
    assert status == 202 and started["state"] == "pending"
    assert call("POST", "/migrations", SHIFT)[0] == 409
    status, got = call("GET", f"/migrations/{started['id']}")
    assert status == 200 and got["subject"] == f"fleet:{FLEET}"
    assert [m["id"] for m in call("GET", "/migrations", query={"limit": "5"})[1]["migrations"]] == [
        started["id"]
    ]
    status, cancelled = call("POST", f"/migrations/{started['id']}/cancel")
    assert status == 200 and cancelled["state"] == "cancelled"
    assert call("POST", f"/migrations/{started['id']}/cancel")[0] == 409
    assert call("GET", "/migrations/nope")[0] == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SHIFT, "count": "two"}, "count"),
        ({**SHIFT, "dry_run": "yes"}, "dry_run"),
        ({**SHIFT, "surprise": 1}, "surprise"),
        ({"kind": "blue_green", "source": SOURCE, "target": TARGET}, "service"),
        ({**MOVE, "target": None}, "target"),
        ({**MOVE, "traffic_steps": [50]}, "traffic_steps"),
        ({**MOVE, "healthy_checks": True}, "healthy_checks"),
        ({"kind": "checkpoint_restore", "workload_id": "w", "target": TARGET}, "kind"),
        ([1, 2], "body"),
    ],
)
def test_a_bad_field_is_a_400_naming_it(env: Env, body: object, field: str) -> None:
    status, answer = call("POST", "/migrations", body)
    assert status == 400 and answer["errors"][0]["field"] == field
    assert call("GET", "/migrations")[1] == {"migrations": []}


def test_a_blue_green_dry_run_plans_and_a_start_is_stepped(env: Env) -> None:
    status, plan = call("POST", "/migrations", {**MOVE, "dry_run": True})
    assert status == 200 and plan["ok"], plan
    assert plan["plan"]["original"] == {
        SOURCE: {"desired": 4, "weight": 100},
        TARGET: {"desired": 0, "weight": 0},
    }
    assert plan["spec"]["traffic_steps"] == [10, 50, 100]  # the defaults, as they will apply
    status, started = call("POST", "/migrations", MOVE)
    assert status == 202 and started["subject"] == f"service:{SERVICE}"


def test_the_cli_sends_only_the_flags_given() -> None:
    unset = dict.fromkeys(
        (
            "fleet",
            "source",
            "count",
            "workload_id",
            "service",
            "healthy_checks",
            "traffic_steps",
            "step_wait_seconds",
            "deregistration_delay_seconds",
        )
    )
    args = argparse.Namespace(
        **{**unset, "kind": "checkpoint_restore", "workload_id": "train-1"},
        target=TARGET,
        basis='{"hours": 2}',
    )
    assert request_of(args) == {
        "kind": "checkpoint_restore",
        "workload_id": "train-1",
        "target": TARGET,
        "basis": {"hours": 2},
    }
    args = argparse.Namespace(
        **{**unset, "kind": "blue_green", "service": "api", "source": SOURCE},
        target=TARGET,
        basis=None,
    )
    args.traffic_steps, args.healthy_checks = "20,100", 2
    assert request_of(args) == {
        "kind": "blue_green",
        "service": "api",
        "source": SOURCE,
        "target": TARGET,
        "healthy_checks": 2,
        "traffic_steps": [20, 100],
    }


def test_the_demo_shows_every_strategy_end_to_end_and_a_rollback(tmp_path: Path) -> None:
    lines = run_migration_demo(tmp_path)
    endings = [
        line.split(";")[0].rsplit(" -> ", 1)[-1]
        for line in lines
        if " -> completing" in line or "rolling_back" in line
    ]
    assert endings == ["completed", "completed", "completed", "rolled_back", "completed"], lines
    # blue_green: the weights go 100/0 -> 90/10 -> 50/50 -> 0/100, the target launched first.
    shares = [line.split("weights ")[1] for line in lines if " weights " in line]
    moved = [w.split(" desired")[0] for w in shares]
    assert list(dict.fromkeys(moved)) == [
        "{'eu-west-1': 100, 'eu-north-1': 0}",
        "{'eu-west-1': 90, 'eu-north-1': 10}",
        "{'eu-west-1': 50, 'eu-north-1': 50}",
        "{'eu-west-1': 0, 'eu-north-1': 100}",
    ], lines
    for weights, desired in (map(ast.literal_eval, w.split(" desired ")) for w in shares):
        assert not weights["eu-north-1"] or desired["eu-north-1"] == 4, lines
    assert "saved net" in "\n".join(lines)
    rolled_back = lines.index(next(line for line in lines if "(rolled back" in line))
    assert lines[rolled_back + 2].endswith("checkpoint objects in eu-north-1: 0"), lines
    # Each moved workload then ends in the target, accounted in both Regions.
    finished = [line for line in lines if line.startswith("  then SUCCEEDED: eu-west-1 ")]
    assert len(finished) == 2 and all(" + eu-north-1 " in line for line in finished), lines
    assert any("pre-copy round(s), then paused" in line for line in lines), lines
    # The finished migrations are exported for the monthly report, in their final states.
    (part,) = (tmp_path / "carbon-aware-migrations").glob("dt=*/part-*.jsonl")
    exported = [json.loads(line) for line in part.read_text().splitlines()]
    assert sorted(m["state"] for m in exported) == [
        "completed",
        "completed",
        "completed",
        "completed",
        "rolled_back",
    ]
