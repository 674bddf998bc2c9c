"""`make demo`'s local stack, small: the real handlers on moto server and a virtual clock."""

from __future__ import annotations

import json

import pytest
from tests.cli.conftest import LocalDemo


def test_local_stack_runs_workloads_to_completion_and_reports(local_demo: LocalDemo) -> None:
    tmp_path, report, out = local_demo.out, local_demo.report, local_demo.printed
    assert report == tmp_path / "report.html" and report.stat().st_size > 1000
    assert "final states: SUCCEEDED 6" in out
    records = json.loads((tmp_path / "workloads.json").read_text())
    for record in records:
        result = record["result"]
        assert result["emissions_g"] > 0 and result["baseline_g"] > 0
        assert [h["to"] for h in record["history"]][-1] == "SUCCEEDED"
    # The driver ran on until every window was observed: each success got its oracle from the
    # sweep, and the monthly report's realised fraction of the oracle covers them all.
    assert all("oracle_g" in r["result"] for r in records)
    monthly = json.loads((tmp_path / "monthly" / "summary.json").read_text())
    assert monthly["oracle_workloads"] == 7 and 0 < monthly["oracle_fraction"] <= 1
    assert "carbon efficiency (SLI): " in out
    # Handlers ran on the virtual clock: the demo's June 2025 dates, not today.
    assert records[0]["spec"]["submitted_at"].startswith("2025-06-0")
    assert any(png.name.startswith("report_") for png in tmp_path.glob("*.png"))
    # The side cases took the runtime's other paths.
    cases = {c["case"]: c for c in json.loads((tmp_path / "side_cases.json").read_text())}
    assert cases["demo-rejected"]["status"] == "REJECTED"
    assert cases["demo-rejected"]["errors"][0]["field"] == "regions[1]"
    assert cases["demo-pipeline"]["status"] == "SUCCEEDED"
    assert cases["demo-pipeline"]["workload_id"].startswith("sfn-")
    lost = cases["demo-lost"]
    assert lost["status"] == "TIMED_OUT" and lost["result"]["ended_at_estimated"] is True
    cancelled = cases["demo-cancelled"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["result"]["emissions_g"] > 0
    assert cancelled["result"]["duration_seconds"] < 120 * 60
    # The interruptible job: interrupted in its first segment, resumed from its checkpoint in
    # the other Region, its grams summed over its segments.
    moved = cases["demo-interruptible"]
    assert moved["status"] == "SUCCEEDED"
    assert len(moved["result"]["regions"]) == 2 and moved["result"]["segments"] >= 2
    assert "interrupted ->" in out and "resumed from a checkpoint" in out
    assert "intake: 3 of 11 submissions arrived as events" in out
    # The spot fleet: the optimizer ran every 30 minutes, launch before drain kept the fleet's
    # minimum, the dirtiest Region (eu-west-1) was drained to its min_share, and the placement
    # scores were called once an hour (cached for an hour, within the daily budget).
    fleet = json.loads((tmp_path / "fleet.json").read_text())
    assert fleet["runs"] == 48 and fleet["moves"] >= 1
    assert all(sum(run["capacity"].values()) >= 6 for run in fleet["runs_detail"])
    assert fleet["first"]["eu-west-1"] > fleet["last"]["eu-west-1"] == 2
    assert fleet["placement_score_calls_per_day"] == [24]
    # Every run after the first accounted its interval: grams, the home-Region baseline, dollars.
    assert fleet["accounted"] == fleet["runs"] - 1 and fleet["emissions_g"] > 0
    assert fleet["saved_g"] == pytest.approx(fleet["baseline_g"] - fleet["emissions_g"])
    assert fleet["cost_usd"] > 0 and f"{fleet['accounted']} intervals accounted" in out
    assert (tmp_path / "fleet_capacity.png").stat().st_size > 1000
    # The emulator and the handlers' environment are gone afterwards.
    assert local_demo.environ_after == local_demo.environ_before
