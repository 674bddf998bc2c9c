"""``carbon-aware signals``: fetch against fake APIs, backfill into moto (in-process and server)."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto.server import ThreadedMotoServer

from carbon_aware.cli.main import main
from carbon_aware.signals.settings import ELECTRICITYMAPS_URL, UKCI_URL, WATTTIME_URL
from fakes.clock import FakeClock
from fakes.providers import EM_KEY
from fakes.server import Reply

KEYS = {"region", "zone", "provider", "signal_type", "estimated", "carbon_intensity", "datetime"}


@pytest.fixture
def clock():
    return FakeClock(time.time())  # the CLI runs on the real clock


@pytest.fixture
def apis(em_server, wt_server, neso_server, monkeypatch):
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", EM_KEY)
    monkeypatch.setenv(ELECTRICITYMAPS_URL, f"{em_server.url}/v3")
    monkeypatch.setenv(WATTTIME_URL, wt_server.url)
    monkeypatch.setenv(UKCI_URL, neso_server.url)
    monkeypatch.delenv("WATTTIME_USERNAME", raising=False)
    monkeypatch.delenv("WATTTIME_PASSWORD", raising=False)
    return em_server, neso_server


def run(args, capsys):
    code = main(["signals", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_fetch_json_with_provenance_and_forecast(apis, capsys):
    code, out, _ = run(["fetch", "--regions", "eu-west-1,us-east-1,us-east-2", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert [r["region"] for r in rows] == ["eu-west-1", "us-east-1", "us-east-2"]
    assert all(set(r) >= KEYS for r in rows)
    assert {r["provider"] for r in rows} == {"electricitymaps"}
    assert rows[1]["zone"] == rows[2]["zone"] == "US-MIDA-PJM"
    assert len(rows[0]["forecast"]) == 24 and not rows[0]["estimated"]
    assert len(apis[0].requests) == 4  # latest + forecast for 2 zones, not 3 regions


def test_fetch_exits_0_when_it_had_to_fall_back(apis, capsys):
    em, _ = apis
    em.script("/v3", *[Reply(500, headers={"Retry-After": "0"})] * 12)
    code, out, _ = run(["fetch", "--regions", "eu-west-1,eu-west-2", "--json"], capsys)
    assert code == 0
    rows = {r["region"]: r for r in json.loads(out)}
    assert rows["eu-west-2"]["provider"] == "ukci"
    assert rows["eu-west-1"]["forecast_provider"] == "profile"
    assert rows["eu-west-1"]["estimated"]
    assert rows["eu-west-1"]["fallbacks"] == ["electricitymaps: HTTP 500"]


def test_fetch_text_names_provider_and_forecast(apis, capsys):
    code, out, _ = run(["fetch", "--regions", "eu-west-2", "--provider", "ukci"], capsys)
    assert code == 0
    assert out.startswith("eu-west-2 [GB] ")
    assert "from ukci (average)" in out and "forecast ukci: " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fetch", "--regions", "eu-west-9"], "--regions: unknown region 'eu-west-9'"),
        (["fetch", "--regions", ","], "--regions: list at least one AWS region"),
        (["fetch", "--regions", "eu-west-1", "--hours", "100"], "--hours: must be more than 0"),
        (
            ["fetch", "--regions", "us-west-1", "--provider", "watttime"],
            "--provider watttime: set WATTTIME_USERNAME and WATTTIME_PASSWORD",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(apis, capsys, args, message):
    code, out, err = run(args, capsys)
    assert code == 2 and out == ""
    assert err.startswith("carbon-aware: error: ") and message in err
    assert err.count("\n") == 1


def test_backfill_provider_history_in_process(apis, moto_aws, capsys):
    code, out, _ = run(
        [
            "backfill",
            "--table",
            "signals",
            "--create-table",
            "--regions",
            "eu-central-1",
            "--days",
            "2",
        ],
        capsys,
    )
    assert code == 0
    assert out == "DE: 48 observations from electricitymaps\n"
    items = boto3.client("dynamodb").scan(TableName="signals")["Items"]
    assert sum(i["sk"]["S"].startswith("obs#") for i in items) == 48


def test_backfill_csv_through_aws_endpoint_url(tmp_path, monkeypatch, capsys):
    csv = tmp_path / "signals.csv"
    csv.write_text(
        "datetime,eu-west-1,DE\n2025-03-06T00:00:00Z,300,400\n2025-03-06T01:00:00Z,310,410\n"
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{server._server.server_port}"
        for name, value in {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }.items():
            monkeypatch.setenv(name, value)
        code, out, _ = run(
            ["backfill", "--table", "signals", "--create-table", "--signals", str(csv)], capsys
        )
        assert code == 0
        assert out.splitlines() == [
            "DE: 2 observations into DE (average)",
            "eu-west-1: 2 observations into IE (average)",
        ]
        client = boto3.client("dynamodb", endpoint_url=endpoint)
        items = client.query(
            TableName="signals",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "average#IE"}},
        )["Items"]
        assert [float(i["value"]["N"]) for i in items] == [300.0, 310.0]
        assert {i["provider"]["S"] for i in items} == {"file:signals.csv"}
    finally:
        server.stop()


@pytest.fixture
def watttime_env(wt_server, monkeypatch):
    from fakes.providers import WT_PASSWORD, WT_USER

    monkeypatch.setenv(WATTTIME_URL, wt_server.url)
    monkeypatch.setenv("WATTTIME_USERNAME", WT_USER)
    monkeypatch.setenv("WATTTIME_PASSWORD", WT_PASSWORD)
    return wt_server


def test_backfill_forecasts_writes_what_backtest_reads(watttime_env, tmp_path, capsys):
    from carbon_aware.cli.forecast_file import read_forecast_file
    from fakes.providers import intensity

    out = tmp_path / "issued.csv"
    args = ["backfill", "--regions", "us-west-1", "--signal-type", "marginal", "--days", "2"]
    code, printed, err = run([*args, "--forecasts", str(out)], capsys)
    assert code == 0, err
    forecasts = read_forecast_file(out, "marginal")
    assert len(forecasts) == 48 and {f.region for f in forecasts} == {"us-west-1"}
    # One request per day, each with the WattTime region, after one login.
    assert watttime_env.paths("/v3/forecast/historical") == ["/v3/forecast/historical"] * 2
    asked = [r for r in watttime_env.requests if r.path == "/v3/forecast/historical"]
    assert {r.query["region"] for r in asked} == {"CAISO_NORTH"}
    first = forecasts[0]
    t = float(first.signal.times[5])
    assert first.signal.values[5] == pytest.approx(intensity("CAISO_NORTH", t), abs=1e-3)
    assert first.issued_at == first.signal.start and len(first.signal.times) == 288
    assert "48 forecasts for us-west-1" in printed


def test_backfill_forecasts_reports_a_plan_without_historical_forecasts(
    watttime_env, tmp_path, capsys
):
    watttime_env.script(
        "/v3/forecast/historical",
        Reply(403, {"error": "Unauthorized", "message": "not in your plan"}),
    )
    out = tmp_path / "issued.csv"
    args = ["backfill", "--regions", "us-west-1", "--signal-type", "marginal", "--days", "1"]
    code, _, err = run([*args, "--forecasts", str(out)], capsys)
    assert code == 1 and "HTTP 403" in err and "not in your plan" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--signal-type", "average"], "--signal-type: historical forecasts come from WattTime"),
        (["--signal-type", "marginal", "--table", "t"], "--table: not used with --forecasts"),
        (["--signal-type", "marginal", "--provider", "electricitymaps"], "watttime only"),
        (["--signal-type", "marginal", "--days", "31"], "--days: must be more than 0"),
        (
            ["--signal-type", "marginal", "--observation-ttl-days", "90"],
            "--observation-ttl-days: not used with --forecasts",
        ),
    ],
)
def test_backfill_forecasts_rejects_options_it_would_not_use(
    watttime_env, tmp_path, capsys, extra, message
):
    args = ["backfill", "--regions", "us-west-1", "--forecasts", str(tmp_path / "f.csv")]
    code, _, err = run([*args, *extra], capsys)
    assert code == 2 and message in err
