"""``carbon-aware fleet plan|status``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fleet.fleet_env import FLEET_TABLE, REGIONS, fleet_spec, fleets_table

from carbon_aware.cli.main import main
from carbon_aware.runtime.fleet.repository import FleetState

GROUPS = {r: f"web-{r}" for r in REGIONS}


def write(tmp_path: Path, name: str, payload: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    return path


def test_plan_decides_offline_and_launches_before_draining(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleets = write(tmp_path, "fleets.json", {"web": fleet_spec(GROUPS, desired_total=4)})
    inputs = write(
        tmp_path,
        "inputs.json",
        {
            "eu-central-1": {
                "carbon_forecast": [400, 400],
                "spot_price": 0.05,
                "placement_score": 9,
                "desired": 4,
            },
            "eu-west-1": {"carbon_forecast": [90, 95], "spot_price": 0.05, "placement_score": 9},
            "eu-west-2": {"carbon_forecast": [300], "spot_price": 0.05, "placement_score": 9},
        },
    )
    args = ["fleet", "plan", "--fleets", str(fleets), "--fleet", "web", "--inputs", str(inputs)]
    assert main([*args, "--now", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["allocation"] == {"eu-central-1": 0, "eu-west-1": 4, "eu-west-2": 0}
    assert out["applied"] == {"eu-central-1": 4, "eu-west-1": 4, "eu-west-2": 0}
    assert main([*args, "--now", "600", "--last-change-at", "0"]) == 0
    held = json.loads(capsys.readouterr().out)
    assert held["allocation"]["eu-central-1"] == 4 and "dwell" in held["reason"]
    assert main([*args[:-2], "--inputs", str(fleets), "--now", "0"]) == 2
    assert main([*args[:4], "--fleet", "nope", *args[6:], "--now", "0"]) == 2
    assert "no fleet 'nope'" in capsys.readouterr().err


def test_status_prints_state_and_decisions(
    moto_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = fleets_table()
    repo.save_state(FleetState("web", {"eu-west-1": 3}, 10.0))
    repo.record({"fleet": "web", "reason": "first"}, 10.0)
    assert main(["fleet", "status", "--table", FLEET_TABLE, "--fleet", "web"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"]["allocation"] == {"eu-west-1": 3}
    assert [d["reason"] for d in out["decisions"]] == ["first"]
