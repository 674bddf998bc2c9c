"""The carbon report's ledger: views never mixed, bad records flagged, coverage, valuation,
reconciliation with the AWS carbon emissions export, and the export reader's dedupe."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from carbon_aware.cli.export import read_export, write_export
from carbon_aware.cli.inputs import InputError
from carbon_aware.cli.ledger import LOCATION, MARGINAL, MARKET, build_ledger
from carbon_aware.cli.main import main
from carbon_aware.cli.report_inputs import Coverage, read_ccft, read_coverage

JUNE = (date(2025, 6, 1), date(2025, 6, 30))
T0 = 1748736000.0  # 2025-06-01T00:00:00Z


def record(
    wid: str,
    *,
    region="eu-west-1",
    home="eu-west-1",
    emitted=80.0,
    baseline=100.0,
    signal_type="average",
    provider="electricitymaps",
    estimated=False,
    tags=None,
    at=T0 + 86400,
    **extra,
) -> dict:
    result = {
        "started_at": at,
        "ended_at": at + 3600,
        "duration_seconds": 3600,
        "region": region,
        "emissions_g": emitted,
        "baseline_g": baseline,
        "saved_g": baseline - emitted,
        "provider": provider,
        "provider_class": "provider",
        "signal_type": signal_type,
        "estimated": estimated,
        **extra,
    }
    return {
        "workload_id": wid,
        "status": "SUCCEEDED",
        "version": 5,
        "spec": {
            "duration_minutes": 60,
            "deadline": "2025-06-03T00:00:00Z",
            "home_region": home,
            "vcpus": 4,
            "submitted_at": "2025-06-02T00:00:00Z",
            "strategy": "combined",
            "tags": tags or {},
        },
        "decision": {"strategy": "combined"},
        "result": result,
        "updated_at": at + 3600,
    }


def test_location_marginal_and_market_views_are_never_summed_together():
    items = [
        record("a", emitted=80, baseline=100, tags={"team": "x"}),
        record("b", emitted=30, baseline=60, signal_type="marginal", tags={"team": "x"}),
    ]
    coverage = Coverage({"eu-west-1": {"default": 0.5}})
    ledger = build_ledger(items, *JUNE, coverage=coverage)
    assert ledger.views[LOCATION].total.emissions_g == 80
    assert ledger.views[MARGINAL].total.emissions_g == 30
    # Market-based: the location-based grams times the uncovered share; marginal stays out.
    assert ledger.views[MARKET].total.emissions_g == pytest.approx(40)
    assert ledger.views[MARKET].total.saved_g == pytest.approx(10)
    assert ledger.views[LOCATION].groups["team"]["x"].emissions_g == 80


def test_market_based_uses_the_month_and_each_side_its_own_region():
    coverage = Coverage({"eu-north-1": {"2025-06": 0.9, "default": 0.0}})
    items = [record("a", region="eu-north-1", home="us-east-1", emitted=50, baseline=100)]
    market = build_ledger(items, *JUNE, coverage=coverage).views[MARKET].total
    assert market.emissions_g == pytest.approx(5.0)  # ran in covered eu-north-1 in June
    assert market.baseline_g == pytest.approx(100.0)  # the baseline region has no coverage


def test_without_coverage_the_market_view_says_it_is_not_configured(tmp_path: Path):
    ledger = build_ledger([record("a")], *JUNE)
    assert MARKET not in ledger.views and not ledger.market_configured
    from carbon_aware.cli.carbon_report import write_carbon_report

    page = write_carbon_report(ledger, tmp_path).read_text()
    assert "market-based</h2><p>Not configured" in page


def test_records_mixing_signal_types_or_unaccounted_are_flagged_not_summed():
    items = [
        record("ok"),
        record("mixed", baseline_signal_type="marginal"),
        record("broken", accounting_error="no signal"),
        record("lying", emitted=10, baseline=100)
        | {"result": {**record("x")["result"], "saved_g": 5.0}},
        {"workload_id": "garbage", "status": "SUCCEEDED", "updated_at": T0 + 10},
    ]
    ledger = build_ledger(items, *JUNE)
    assert [e.workload_id for e in ledger.entries] == ["ok"]
    assert len(ledger.flagged) == 4
    assert any("mixed: mixes signal types" in f for f in ledger.flagged)
    assert any("broken: not accounted" in f for f in ledger.flagged)
    assert any("saved_g is not" in f for f in ledger.flagged)


def test_period_estimates_share_provider_mix_and_oracle_fraction():
    items = [
        record("a", emitted=80, baseline=100, oracle_g=60.0),
        record("b", emitted=20, baseline=20, estimated=True, provider="profile"),
        record("july", at=T0 + 31 * 86400),
    ]
    ledger = build_ledger(items, *JUNE)
    view = ledger.views[LOCATION]
    assert view.total.count == 2
    assert view.estimated_share == pytest.approx(20 / 100)
    assert set(view.groups["provider"]) == {"electricitymaps", "profile"}
    assert ledger.oracle_fraction == pytest.approx(20 / 40) and ledger.oracle_count == 1


def test_valuation_prices_location_based_savings_and_says_it_is_no_offset(tmp_path: Path):
    from carbon_aware.cli.carbon_report import write_carbon_report

    ledger = build_ledger([record("a", emitted=0.5e6, baseline=2.5e6)], *JUNE, price_per_tonne=80)
    assert ledger.valuation_usd == pytest.approx(160.0)  # 2 t at $80
    page = write_carbon_report(ledger, tmp_path).read_text()
    assert "$160.0000" in page and "not a carbon offset" in page and "not a purchase" in page


def test_coverage_file_errors_name_the_field(tmp_path: Path):
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps({"eu-west-1": {"2025-6": 0.5}}))
    with pytest.raises(InputError, match=r"eu-west-1\.2025-6: month must be YYYY-MM"):
        read_coverage(path)
    path.write_text(json.dumps({"eu-west-1": 1.5}))
    with pytest.raises(InputError, match=r"eu-west-1\.default: must be a fraction"):
        read_coverage(path)
    path.write_text(json.dumps({"eu-west-1": {"2025-06": 0.25, "default": 1}}))
    coverage = read_coverage(path)
    assert coverage.of("eu-west-1", "2025-06") == 0.25 and coverage.of("eu-west-1", "2025-07") == 1
    assert coverage.of("us-east-1", "2025-06") == 0.0


def write_ccft(path: Path, rows: list[dict]) -> None:
    """A carbon emissions export in the documented shape (AWS Data Exports, CARBON_EMISSIONS)."""
    columns = [
        "last_refresh_timestamp",
        "location",
        "model_version",
        "payer_account_id",
        "product_code",
        "region_code",
        "total_lbm_emissions_unit",
        "total_lbm_emissions_value",
        "total_mbm_emissions_unit",
        "total_mbm_emissions_value",
        "usage_account_id",
        "usage_period_end",
        "usage_period_start",
    ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    "last_refresh_timestamp": "2025-08-20 00:00:00Z",
                    "model_version": "v3.0.0",
                    "payer_account_id": "123456789012",
                    "usage_account_id": "123456789012",
                    "total_lbm_emissions_unit": "MTCO2e",
                    "total_mbm_emissions_unit": "MTCO2e",
                    "usage_period_end": "2025-06-30",
                    "usage_period_start": "2025-06-01",
                    **row,
                }
            )


def test_reconciliation_against_the_aws_carbon_emissions_export(tmp_path: Path):
    path = tmp_path / "ccft.csv"
    write_ccft(
        path,
        [
            {
                "region_code": "eu-west-1",
                "location": "Europe (Ireland)",
                "product_code": "AmazonEC2",
                "total_lbm_emissions_value": "0.0004",
                "total_mbm_emissions_value": "0.0001",
            },
            {
                "region_code": "eu-west-1",
                "location": "Europe (Ireland)",
                "product_code": "AWSLambda",
                "total_lbm_emissions_value": "0.0001",
                "total_mbm_emissions_value": "",
            },
            {
                "region_code": "us-east-1",
                "location": "US East (N. Virginia)",
                "product_code": "AmazonEC2",
                "total_lbm_emissions_value": "0.002",
                "total_mbm_emissions_value": "0.001",
            },
        ],
    )
    footprint = read_ccft(path)
    assert footprint[("eu-west-1", "2025-06")].location_g == pytest.approx(500.0)
    assert footprint[("eu-west-1", "2025-06")].market_g == pytest.approx(100.0)
    ledger = build_ledger([record("a", emitted=80)], *JUNE, ccft=footprint)
    rows = {(r.region, r.month): r for r in ledger.reconciliation}
    assert rows[("eu-west-1", "2025-06")].ours_location_g == 80
    assert rows[("us-east-1", "2025-06")].ours_location_g == 0  # AWS saw usage we did not place
    write_ccft(
        path,
        [
            {
                "region_code": "eu-west-1",
                "total_lbm_emissions_unit": "kgCO2e",
                "total_lbm_emissions_value": "1",
                "total_mbm_emissions_value": "1",
            }
        ],
    )
    with pytest.raises(InputError, match="total_lbm_emissions_unit must be MTCO2e"):
        read_ccft(path)


def test_export_reader_keeps_the_latest_export_of_each_record(tmp_path: Path):
    first = record("a", emitted=80)
    write_export([first], tmp_path, "wl", day_of=lambda i: T0 + 86400, exported_at=T0 + 86400)
    later = record("a", emitted=70)
    write_export(
        [later],
        tmp_path,
        "wl",
        day_of=lambda i: T0 + 90 * 86400,
        exported_at=T0 + 90 * 86400,
        event="expired",
    )
    (tmp_path / "wl" / "dt=2025-06-02" / "part-00001.jsonl").write_text("not json\n")
    items, bad = read_export(tmp_path, "wl", date(2025, 6, 1), lambda i: i["workload_id"])
    assert bad == 1 and len(items) == 1
    assert items[0]["result"]["emissions_g"] == 70 and items[0]["_event"] == "expired"
    # Partitions before the period are not read.
    items, _ = read_export(tmp_path, "wl", date(2025, 7, 1), lambda i: i["workload_id"])
    assert [i["_event"] for i in items] == ["expired"]


def test_report_command_writes_html_csv_png_from_a_local_export(tmp_path: Path, capsys):
    items = [record("a", tags={"team": "ml"}), record("b", region="eu-north-1", tags={"team": "x"})]
    write_export(
        items,
        tmp_path / "export",
        "carbon-aware-workloads",
        day_of=lambda i: i["updated_at"],
        exported_at=T0 + 2 * 86400,
    )
    out = tmp_path / "out"
    code = main(
        [
            "report",
            "--from=2025-06-01",
            "--to=2025-06-30",
            f"--export={tmp_path / 'export'}",
            f"--out={out}",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (out / "report.html").exists() and (out / "location-based_region.png").exists()
    with (out / "workloads.csv").open() as handle:
        assert [row["workload_id"] for row in csv.DictReader(handle)] == ["a", "b"]
    groups = (out / "groups.csv").read_text()
    assert "location-based,team,ml,1,80.000000,100.000000,20.000000" in groups
    # Inputs that would not take effect are refused, naming the flag.
    assert main(["report", "--from=2025-06-01", "--to=2025-06-30", f"--out={out}"]) == 2
    assert "--source export needs --export" in capsys.readouterr().err
    assert (
        main(
            [
                "report",
                "--from=2025-06-01",
                "--to=2025-06-30",
                f"--out={out}",
                f"--export={tmp_path / 'export'}",
                "--signals-table=t",
            ]
        )
        == 2
    )
    assert "--signals-table is read by --verify only" in capsys.readouterr().err


def test_export_on_s3_and_the_live_table_give_the_same_records(moto_aws, tmp_path: Path):
    import boto3

    from carbon_aware.cli.export import scan_table
    from carbon_aware.runtime.repository import _dynamo
    from carbon_aware.runtime.tables import WORKLOADS_TABLE

    items = [record("a"), record("b", emitted=10.5)]
    write_export(items, tmp_path, "wl", day_of=lambda i: i["updated_at"], exported_at=T0 + 9e5)
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(
        Bucket="exports", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    for part in tmp_path.rglob("*.jsonl"):
        key = f"carbon/{part.relative_to(tmp_path)}"
        s3.put_object(Bucket="exports", Key=key, Body=part.read_bytes())
    from_s3, bad = read_export(
        "s3://exports/carbon", "wl", date(2025, 6, 1), lambda i: i["workload_id"]
    )
    assert bad == 0
    ddb = boto3.client("dynamodb", region_name="eu-west-1")
    ddb.create_table(TableName="wl", **WORKLOADS_TABLE)
    table = boto3.resource("dynamodb", region_name="eu-west-1").Table("wl")
    for item in items:
        table.put_item(Item=_dynamo(item))
    from_table = scan_table("wl", ddb)
    key = "workload_id"
    assert sorted(i[key] for i in from_s3) == sorted(i[key] for i in from_table) == ["a", "b"]
    by_id = {i[key]: i for i in from_table}
    assert by_id["b"]["result"]["emissions_g"] == 10.5 and by_id["a"]["version"] == 5
    ledgers = [build_ledger(source, *JUNE) for source in (from_s3, from_table)]
    assert ledgers[0].views[LOCATION].total == ledgers[1].views[LOCATION].total
