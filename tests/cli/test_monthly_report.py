"""The demo's month of records, exported and reported: every gram recomputes within 0.1 %."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from tests.cli.conftest import LocalDemo

from carbon_aware.cli.export import read_export
from carbon_aware.cli.main import main
from carbon_aware.cli.report_cmd import EXIT_UNVERIFIED

# The demo's 6 workloads and its side cases that are stored (the rejected event never is): the
# pipeline step, the lost run, the cancelled run and the interruptible job (its grams per
# segment) all carry grams that must recompute.
STORED = 6 + 4


@pytest.fixture
def demo(local_demo: LocalDemo) -> Path:
    return local_demo.out


def test_demo_month_recomputes_from_the_signals_table_within_a_tenth_of_a_percent(demo: Path):
    summary = json.loads((demo / "monthly" / "summary.json").read_text())
    assert (summary["from"], summary["to"]) == ("2025-06-01", "2025-06-30")
    verification = summary["verification"]
    assert verification["checked"] == STORED == summary["views"]["location-based"]["workloads"]
    assert verification["matched"] == STORED and verification["mismatches"] == []
    assert verification["largest_relative_error"] <= 0.001
    # The export holds the records as stored, one line per workload, dated by their end.
    items, bad = read_export(
        demo / "export", "carbon-aware-workloads", date(2025, 6, 1), lambda i: i["workload_id"]
    )
    assert bad == 0 and len(items) == STORED
    assert all(i["_event"] == "final" for i in items)
    assert sorted(i["status"] for i in items) == ["CANCELLED", *["SUCCEEDED"] * 8, "TIMED_OUT"]


def test_demo_export_recomputes_again_from_the_files_alone(demo: Path, tmp_path: Path, capsys):
    records = json.loads((demo / "workloads.json").read_text())
    # No provider keys in the demo: every run was accounted on the built-in profiles, which is
    # what --verify reads without a signals table.
    assert {r["result"]["provider"] for r in records} == {"profile"}
    code = main(
        [
            "report",
            "--from=2025-06-01",
            "--to=2025-06-30",
            f"--export={demo / 'export'}",
            f"--out={tmp_path}",
            "--verify",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert f"verified: {STORED}/{STORED} workloads" in capsys.readouterr().out
    # Doctor one record's grams in the export by 0.2 %: the verification refuses it.
    part = next((demo / "export" / "carbon-aware-workloads").rglob("*.jsonl"))
    lines = part.read_text().splitlines()
    item = json.loads(lines[0])
    item["result"]["emissions_g"] *= 1.002
    item["result"]["saved_g"] = item["result"]["baseline_g"] - item["result"]["emissions_g"]
    doctored = tmp_path / "export" / part.relative_to(demo / "export")
    doctored.parent.mkdir(parents=True)
    doctored.write_text("\n".join([json.dumps(item), *lines[1:]]) + "\n")
    code = main(
        [
            "report",
            "--from=2025-06-01",
            "--to=2025-06-30",
            f"--export={tmp_path / 'export'}",
            f"--out={tmp_path / 'again'}",
            "--verify",
        ]
    )
    assert code == EXIT_UNVERIFIED
    assert f"{item['workload_id']}: emissions_g" in capsys.readouterr().err


def test_demo_report_has_separate_views_team_tags_and_the_valuation_statement(demo: Path):
    page = (demo / "monthly" / "report.html").read_text()
    assert "<h2>location-based</h2>" in page and "<h2>market-based</h2>" in page
    assert "not a carbon offset" in page
    groups = (demo / "monthly" / "groups.csv").read_text().splitlines()
    teams = [row for row in groups if row.startswith("location-based,team,")]
    assert {row.split(",")[2] for row in teams} == {"analytics", "ml-training", "platform"}
    assert (demo / "monthly" / "location-based_region.png").stat().st_size > 1000
    # The demo report links the monthly report and shows the dashboard panels.
    demo_page = (demo / "report.html").read_text()
    assert 'href="monthly/report.html"' in demo_page
    assert 'src="dashboard_panels.png"' in demo_page
    assert (demo / "dashboard_panels.png").stat().st_size > 10000


def test_demo_fleet_decisions_carry_grams_that_recompute_and_a_doctored_one_is_refused(
    demo: Path, tmp_path: Path, capsys
):
    fleet = json.loads((demo / "fleet.json").read_text())
    summary = json.loads((demo / "monthly" / "summary.json").read_text())
    totals = summary["fleets"][fleet["fleet"]]
    # Every run but the first accounted the interval since the one before it.
    assert totals["decisions"] == fleet["runs"] and totals["accounted"] == fleet["runs"] - 1
    assert totals["emissions_g"] == pytest.approx(fleet["emissions_g"]) and totals["cost_usd"] > 0
    assert totals["saved_g"] == pytest.approx(totals["baseline_g"] - totals["emissions_g"])
    page = (demo / "monthly" / "report.html").read_text()
    assert f"<td>{fleet['fleet']}</td><td>{fleet['runs']}</td>" in page
    out, _ = verify(demo / "export", tmp_path / "clean", capsys)
    assert f"verified: {fleet['runs'] - 1}/{fleet['runs'] - 1} fleet decisions" in out

    # Doctor one decision's grams by 0.2 %: its recomputation on the stored intensities refuses it.
    export = tmp_path / "export"
    shutil.copytree(demo / "export", export)
    part = next((export / "carbon-aware-fleets").rglob("*.jsonl"))
    lines = [json.loads(line) for line in part.read_text().splitlines()]
    item = next(i for i in lines if "emissions_g" in json.loads(i["decision"]))
    decision = json.loads(item["decision"])
    decision["emissions_g"] *= 1.002
    item["decision"] = json.dumps(decision)
    part.write_text("".join(json.dumps(i) + "\n" for i in lines))
    _, err = verify(export, tmp_path / "doctored", capsys, EXIT_UNVERIFIED)
    assert f"fleet {fleet['fleet']} at {decision['footprint']['end']}: emissions_g" in err


def verify(export: Path, out: Path, capsys, expected: int = 0) -> tuple[str, str]:
    """The report of the demo's month from ``export`` with --verify; what it printed."""
    period = ["--from=2025-06-01", "--to=2025-06-30"]
    code = main(["report", *period, f"--export={export}", f"--out={out}", "--verify"])
    printed = capsys.readouterr()
    assert code == expected, printed.err
    return printed.out, printed.err
