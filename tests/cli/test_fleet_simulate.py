"""``fleet simulate`` end to end on small data files in the real shapes, and on the shared data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from carbon_aware.cli.fleet_data import load_fleet_data
from carbon_aware.cli.fleet_simulate import summarise
from carbon_aware.cli.main import main
from carbon_aware.engine.fleet_policy import FleetPolicy
from carbon_aware.engine.fleet_sim import (
    history_forecast,
    home_allocation,
    oracle_allocation,
    run_allocation,
    run_optimizer,
    static_allocation,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
REGIONS = ("eu-west-1", "eu-west-2", "eu-central-1")
ZONES = {"eu-west-1": "IE", "eu-west-2": "GB", "eu-central-1": "DE"}
AZ = {"eu-west-1": "euw1-az1", "eu-west-2": "euw2-az2", "eu-central-1": "euc1-az3"}


def write_data(root: Path, days: int = 10) -> Path:
    """A data directory in the shared data's layout: IE 300, GB 100 (day) / 400 (night), DE 200."""
    (root / "carbon").mkdir(parents=True)
    (root / "aws").mkdir()
    (root / "carbon/hourly_2021_2023_16zones_lifecycle.csv").write_text(
        "datetime,KR\n2021-01-01T00:00:00Z,400.00\n"
    )
    lines = ["datetime,DE,GB,IE"]
    for hour in range(days * 24):
        day, h = divmod(hour, 24)
        gb = 100.0 if 8 <= h < 20 else 400.0
        lines.append(f"2022-01-{day + 1:02d}T{h:02d}:00:00Z,200.00,{gb:.2f},300.00")
    (root / "carbon/hourly_2022_123zones_lifecycle.csv").write_text("\n".join(lines) + "\n")
    zone_map = [
        "aws_region,electricitymaps_zone,ccf_gco2e_per_kwh,alternative_zones,watttime_region"
    ]
    zone_map += [f"{r},{z},300,," for r, z in ZONES.items()]
    (root / "aws/region_zone_map.csv").write_text("\n".join(zone_map) + "\n")
    snapshot = ["az_id,instance_type,product_description,spot_price_usd_per_hour,timestamp_utc"]
    for az in AZ.values():
        snapshot.append(f"{az},m5.xlarge,Linux/UNIX,0.0700,2022-05-31T18:20:41+00:00")
        snapshot.append(f"{az},m5.xlarge,Windows,0.5000,2022-05-31T18:20:41+00:00")
    snapshot.append("euw1-az1,m5.xlarge,Linux/UNIX,0.0800,2022-05-31T20:00:00+00:00")  # latest
    (root / "aws/spot_prices_2022-05-31_snapshot.csv").write_text("\n".join(snapshot) + "\n")
    history = [
        "timestamp,region,availability_zone,instance_type,product_description,spot_price_usd_per_hour"
    ]
    for day, price in ((20, "3.0"), (21, "3.3"), (22, "2.7")):
        history.append(
            f"2019-12-{day}T00:00:00Z,eu-west-1,eu-west-1a,p3.2xlarge,Linux/UNIX,{price}"
        )
    (root / "aws/spot_price_history_gpu_2019-12_2020-02.csv").write_text("\n".join(history) + "\n")
    advisor = {
        "instance_types": {"m5.xlarge": {"emr": True, "cores": 4, "ram_gb": 16.0}},
        "spot_advisor": {
            r: {"Linux": {"m5.xlarge": {"s": 60, "r": i}}} for i, r in enumerate(ZONES)
        },
    }
    (root / "aws/spot_advisor_2025-06-28.json").write_text(json.dumps(advisor))
    return root


def run_cli(data: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(
        [
            "fleet",
            "simulate",
            "--regions",
            ",".join(REGIONS),
            "--year",
            "2022",
            "--data-dir",
            str(data),
            "--instance-types",
            "m5.xlarge",
            "--runs-per-hour",
            "1",
            "--dwell-minutes",
            "60",
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_json_gives_the_five_runs_and_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(write_data(tmp_path), "--max-share", "0.5", "--json", capsys=capsys)
    assert code == 0
    result = json.loads(out)
    assert result["static_allocation"] == {"eu-west-1": 0, "eu-west-2": 15, "eu-central-1": 15}
    assert result["placement_score"] == {"eu-west-1": 10, "eu-west-2": 8, "eu-central-1": 6}
    assert result["prices"]["eu-west-1"] == {"price": 0.08, "instance_type": "m5.xlarge"}
    assert result["hours"] == 3 * 24  # 10 days less the 7-day forecaster warm-up
    runs = result["runs"]
    assert list(runs) == ["home", "static", "oracle", "optimizer_history", "optimizer_perfect"]
    # Oracle: GB (100) and DE (200) by day, DE and IE (300) by night, half each.
    assert runs["oracle"]["grams"] < runs["static"]["grams"] < runs["home"]["grams"]
    for name in ("optimizer_history", "optimizer_perfect"):
        assert runs[name]["targets"]["minimums_held"] is True
        assert runs[name]["min_in_service"] == 30
        assert runs[name]["grams"] <= runs["home"]["grams"]


def test_simulate_prints_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(write_data(tmp_path), capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["set", "run"]
    names = ["home", "static", "oracle", "optimizer_history", "optimizer_perfect", "bound"]
    assert [line.split()[1 if i == 0 else 0] for i, line in enumerate(lines[1:7])] == names
    assert lines[1].startswith("eu-west-1/eu-west-2/eu-central-1")
    assert lines[7].endswith(
        "at most 1 move per instance-day, each move running both regions 60 min"
    )
    assert len(lines) == 8


def test_without_share_limits_the_move_budget_bound_judges_the_gap_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Three days from midnight. Static is DE (200 g/kWh): 72 x 200 = 14,400 carbon-hours per
    # instance. The oracle takes GB by day (100, 08:00-20:00): 2 moves a day. With hourly runs a
    # move also runs the source for an hour: the best day trip leaves DE at 08:00 (+200) and
    # GB at 19:00 while it is still 100 (+100), saving 11 x 100 - 300 = 800 for two moves. A
    # lone move on the last morning, staying in GB (400 from 20:00), saves 12 x 100 - 200 -
    # 4 x 200 = 200. Within 3 moves: one trip and that move, 14,400 - 1,000 = 13,400 (the
    # plan); a fleet half of whose instances make two trips (1,600 for 4 moves) averages 3
    # moves at 14,400 - 1,200 (the floor).
    code, out, _ = run_cli(write_data(tmp_path), "--json", capsys=capsys)
    assert code == 0
    runs = json.loads(out)["runs"]
    bound, static = runs["bound"], runs["static"]["grams"]
    assert bound["grams"] / static == pytest.approx(13_200 / 14_400, abs=1e-5)
    assert bound["plan_grams"] / static == pytest.approx(13_400 / 14_400, abs=1e-5)
    assert bound["plan_moves_per_instance_day"] == 1.0 == bound["moves_per_instance_day"]
    assert bound["overlap_minutes"] == 60
    assert bound["gap_closed"] == pytest.approx(1_200 / (14_400 - 10_800), abs=1e-3)
    for name in ("optimizer_history", "optimizer_perfect"):
        assert runs[name]["gap_80pct_reachable"] is False


def test_share_limits_leave_the_bound_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(write_data(tmp_path), "--max-share", "0.5", "--json", capsys=capsys)
    assert code == 0
    runs = json.loads(out)["runs"]
    assert "bound" not in runs
    assert "gap_80pct_reachable" not in runs["optimizer_history"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--year", "2023"), "2022 only"),
        (("--zone", "eu-west-1=XX"), "['XX'] are in neither carbon file"),
        (("--zone", "eu-north-1=SE"), "--zone names regions not in --regions"),
        (("--zone", "eu-west-1"), "REGION=ZONE"),
        (("--home", "us-east-1"), "--home"),
        (("--max-share", "0.2"), "max_share values add up to less than 1"),
    ],
)
def test_bad_options_give_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], message: str
) -> None:
    code, out, err = run_cli(write_data(tmp_path), *extra, capsys=capsys)
    assert code == 2
    assert message in err
    assert out == ""


shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"shared data not found at {SHARED}: the real-data checks need it"
)


@shared
@pytest.mark.parametrize(
    ("regions", "share", "static_pct", "oracle_pct"),
    [
        (("eu-west-1", "eu-west-2", "eu-central-1"), 0.5, 20.4, 24.6),
        (("us-east-1", "us-west-1", "us-west-2"), 1.0, 44.6, 53.2),
    ],
)
def test_baselines_reproduce_the_issue_figures_on_2022(
    regions: tuple[str, ...], share: float, static_pct: float, oracle_pct: float
) -> None:
    data = load_fleet_data(SHARED, regions, 2022)
    week = data.inputs.history.shape[0]  # the issue measured all of 2022: the week goes back in
    inputs = dataclasses.replace(
        data.inputs,
        start=data.inputs.start - week * 3600,
        carbon=np.vstack((data.inputs.history, data.inputs.carbon)),
        spot_price=np.vstack((data.inputs.spot_price[:week], data.inputs.spot_price)),
        history=None,
    )
    policy = FleetPolicy(
        "f", regions, "follow_the_sun", 30, 30, max_share=dict.fromkeys(regions, share)
    )
    static = static_allocation(policy, data.static_carbon, 30)
    runs = summarise(
        [
            run_allocation("home", inputs, home_allocation(inputs, regions[0], 30)),
            run_allocation("static", inputs, [static] * inputs.hours),
            run_allocation("oracle", inputs, oracle_allocation(policy, inputs.carbon, 30)),
        ]
    )
    assert runs["static"]["saving_pct"] == pytest.approx(static_pct, abs=0.05)
    assert runs["oracle"]["saving_pct"] == pytest.approx(oracle_pct, abs=0.05)


@shared
def test_no_look_ahead_optimizer_on_two_weeks_of_2023_holds_its_minimum() -> None:
    regions = ("ap-southeast-1", "ap-southeast-2", "ap-northeast-2")
    data = load_fleet_data(SHARED, regions, 2023)
    assert data.static_basis == "2022 means"
    hours = 14 * 24
    inputs = dataclasses.replace(
        data.inputs,
        carbon=data.inputs.carbon[:hours],
        spot_price=data.inputs.spot_price[:hours],
        renewable_share=data.inputs.renewable_share[:hours],
        history=data.inputs.history[-60 * 24 :],
    )
    policy = FleetPolicy(
        "f", regions, "follow_the_sun", 30, 30, max_share=dict.fromkeys(regions, 0.5)
    )
    home = run_allocation("home", inputs, home_allocation(inputs, regions[0], 30))
    oracle = run_allocation("oracle", inputs, oracle_allocation(policy, inputs.carbon, 30))
    result = run_optimizer("opt", inputs, policy, 30, history_forecast(inputs))
    assert oracle.grams <= result.grams <= home.grams
    assert result.periods_below_min == 0
    assert result.min_in_service == 30
    assert np.isclose(sum(result.mean_share.values()), 1.0)
