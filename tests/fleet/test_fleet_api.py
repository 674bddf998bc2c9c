"""Fleet settings (C2), the fleets table (C3) and the read-only API routes on real requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.fleet.fleet_env import FLEET_TABLE, REGIONS, fleet_spec, fleets_table

from carbon_aware.runtime import wiring
from carbon_aware.runtime.config import ConfigError
from carbon_aware.runtime.fleet.repository import Conflict, FleetRepository, FleetState
from carbon_aware.runtime.fleet.settings import (
    FLEET_TABLE as FLEET_TABLE_ENV,
)
from carbon_aware.runtime.fleet.settings import (
    FLEETS,
    PLACEMENT_SCORE_DAILY_BUDGET,
    FleetSettings,
    parse_fleets,
)
from carbon_aware.runtime.handlers import api

AWS_EVENTS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "aws_events"
IAM_REQUEST = AWS_EVENTS / "apigw_http_v2_iam_authorizer_powertools_ts.json"
GROUPS = {r: f"web-{r}" for r in REGIONS}
T0 = 1_700_000_000.0


def request(path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """The real IAM-authorised HTTP API request (payload 2.0), sent to ``GET path``."""
    if not IAM_REQUEST.exists():
        pytest.skip(f"real AWS event samples not found at {AWS_EVENTS} (../shared/data is absent)")
    event = json.loads(IAM_REQUEST.read_text())
    event["rawPath"] = path
    event["requestContext"]["http"].update(method="GET", path=path)
    event["queryStringParameters"] = query
    return event


def call(path: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    response = api.app.resolve(request(path, query))
    return response["statusCode"], json.loads(response["body"])


# --- settings -------------------------------------------------------------------------------


def test_settings_parse_the_contract_shape() -> None:
    fleets, errors = parse_fleets(json.dumps({"web": fleet_spec(GROUPS, max_step=3)}))
    assert errors == {}
    config = fleets["web"]
    assert config.policy.regions == REGIONS and config.policy.max_step == 3
    assert config.policy.scaling_tiers == ((100.0, 60.0), (200.0, 75.0), (None, 90.0))
    assert config.groups == GROUPS and config.desired_total == 6
    assert config.scaling_policy_name == "carbon-target"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strategy": "greenest"}, "unknown strategy"),
        ({"groups": {"eu-west-1": "g"}}, "groups must map every region"),
        ({"desired_total": 40}, "desired_total"),
        ({"min_total": -1}, "min_total"),
        ({"colour": "green"}, "unknown fields ['colour']"),
        ({"instance_types": []}, "instance_types"),
        ({"scaling_tiers": [{"below": 100, "target": 60}]}, "bound None"),
        ({"max_share": {"eu-west-1": 2}}, r"max_share[eu-west-1]"),
        ({"dwell_minutes": -5}, "dwell_minutes"),
        ({"move_cost_minutes": -1}, "move_cost_minutes"),
        ({"lookahead_hours": 49}, "lookahead_hours"),
    ],
)
def test_a_bad_fleet_is_reported_by_name_and_field_and_others_still_parse(
    change: dict, message: str
) -> None:
    raw = json.dumps({"bad": {**fleet_spec(GROUPS), **change}, "good": fleet_spec(GROUPS)})
    fleets, errors = parse_fleets(raw)
    assert list(fleets) == ["good"]
    assert errors["bad"].startswith(f"{FLEETS}[bad]: ")
    assert message in errors["bad"]


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match=FLEETS):
        FleetSettings.from_env({FLEETS: "[1, 2]", FLEET_TABLE_ENV: "t"})
    with pytest.raises(ConfigError, match=FLEET_TABLE_ENV):
        FleetSettings.from_env({FLEETS: json.dumps({"web": fleet_spec(GROUPS)})})
    with pytest.raises(ConfigError, match=PLACEMENT_SCORE_DAILY_BUDGET):
        FleetSettings.from_env({PLACEMENT_SCORE_DAILY_BUDGET: "lots"})
    assert FleetSettings.from_env({}).fleets == {}
    assert FleetSettings.from_env({}).placement_score_daily_budget == 40


# --- repository -----------------------------------------------------------------------------


def test_state_writes_are_conditional_and_decisions_expire(moto_aws: None) -> None:
    repo = fleets_table()
    first = repo.save_state(FleetState("web", {"eu-west-1": 2}, T0))
    assert repo.state("web") == first and first.version == 1
    with pytest.raises(Conflict):
        repo.save_state(FleetState("web", {"eu-west-1": 3}))  # version 0: someone stored one
    repo.save_state(first)
    with pytest.raises(Conflict):
        repo.save_state(first)  # stale version
    key = repo.record({"fleet": "web", "reason": "r1"}, T0)
    with pytest.raises(Conflict):
        repo.record({"fleet": "web", "reason": "again"}, T0)
    repo.record({"fleet": "web", "reason": "r2"}, T0 + 300)
    assert [d["reason"] for d in repo.decisions("web")] == ["r2", "r1"]
    item = boto3.client("dynamodb", region_name="eu-west-1").get_item(
        TableName=FLEET_TABLE, Key={"fleet": {"S": "web"}, "sk": {"S": key}}
    )["Item"]
    assert key == "decision#2023-11-14T22:13:20.000000Z"
    assert int(item["expires_at"]["N"]) == int(T0 + repo.retention)


# --- API ------------------------------------------------------------------------------------


@pytest.fixture
def fleet_api(moto_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FleetRepository]:
    fleets = {"web": fleet_spec(GROUPS), "broken": fleet_spec(GROUPS, strategy="x")}
    monkeypatch.setenv(FLEETS, json.dumps(fleets))
    monkeypatch.setenv(FLEET_TABLE_ENV, FLEET_TABLE)
    wiring.reset()
    repo = fleets_table()
    repo.save_state(FleetState("web", {"eu-west-1": 6}, T0, {"eu-west-1": 75.0}, T0))
    for step in range(3):
        repo.record({"fleet": "web", "reason": f"run {step}"}, T0 + step * 300)
    yield repo
    wiring.reset()


def test_get_fleets_lists_states_and_configuration_errors(fleet_api: FleetRepository) -> None:
    status, body = call("/fleets")
    assert status == 200
    web, broken = body["fleets"]
    assert web["name"] == "web" and web["state"]["allocation"] == {"eu-west-1": 6}
    assert web["strategy"] == "carbon_first" and web["groups"] == GROUPS
    assert broken["name"] == "broken" and "unknown strategy" in broken["error"]


def test_get_fleet_and_its_decisions_newest_first(fleet_api: FleetRepository) -> None:
    status, body = call("/fleets/web")
    assert status == 200
    assert body["latest_decision"]["reason"] == "run 2"
    assert body["state"]["scaling_targets"] == {"eu-west-1": 75.0}
    status, body = call("/fleets/web/decisions", {"limit": "2"})
    assert status == 200
    assert [d["reason"] for d in body["decisions"]] == ["run 2", "run 1"]


@pytest.mark.parametrize(
    ("path", "query", "status", "field"),
    [
        ("/fleets/nope", None, 404, "fleet"),
        ("/fleets/nope/decisions", None, 404, "fleet"),
        ("/fleets/broken", None, 404, "fleet"),
        ("/fleets/web/decisions", {"limit": "0"}, 400, "limit"),
        ("/fleets/web/decisions", {"limit": "abc"}, 400, "limit"),
    ],
)
def test_unknown_fleets_and_bad_limits_are_rejected(
    fleet_api: FleetRepository, path: str, query: dict | None, status: int, field: str
) -> None:
    got, body = call(path, query)
    assert (got, body["errors"][0]["field"]) == (status, field)
