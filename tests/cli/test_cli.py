"""The CLI end to end: real files in, JSON out; bad input gives one clear line and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from carbon_aware.cli.main import main

WIDE = """datetime,eu-west-1,eu-north-1
2023-01-01T00:00:00Z,300,40
2023-01-01T01:00:00Z,100,40
2023-01-01T02:00:00Z,200,40
2023-01-01T03:00:00Z,300,40
2023-01-01T04:00:00Z,300,40
"""

JOBS = [
    {
        "id": "a",
        "submitted_at": "2023-01-01T00:00:00Z",
        "duration_minutes": 60,
        "deadline": "2023-01-01T04:00:00Z",
        "home_region": "eu-west-1",
        "power_watts": 1000,
    },
    {
        "id": "b",
        "submitted_at": "2023-01-01T00:00:00Z",
        "duration_minutes": 120,
        "deadline": "2023-01-01T05:00:00Z",
        "home_region": "eu-west-1",
        "regions": ["eu-west-1", "eu-north-1"],
        "vcpus": 8,
        "memory_gb": 32,
    },
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    signals = tmp_path / "signals.csv"
    signals.write_text(WIDE)
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps(JOBS))
    return {"signals": signals, "jobs": jobs, "dir": tmp_path}


def run(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_prints_the_placement(files: dict, capsys: pytest.CaptureFixture) -> None:
    one = files["dir"] / "one.json"
    one.write_text(json.dumps(JOBS[0]))
    code, out, _ = run(
        ["plan", "--workload", one, "--signals", files["signals"], "--strategy", "time_shift"],
        capsys,
    )
    assert code == 0
    placement = json.loads(out)
    assert placement["status"] == "placed"
    assert placement["segments"] == [
        {"region": "eu-west-1", "start": "2023-01-01T01:00:00Z", "end": "2023-01-01T02:00:00Z"}
    ]
    assert placement["emissions_g"] == 100.0


def test_backtest_writes_output_json_and_report(files: dict, capsys: pytest.CaptureFixture) -> None:
    output, report = files["dir"] / "r.json", files["dir"] / "r.html"
    args = ["backtest", "--signals", files["signals"], "--jobs", files["jobs"]]
    code, out, _ = run(
        [*args, "--strategy", "combined", "--output", output, "--report", report], capsys
    )
    assert code == 0
    result = json.loads(output.read_text())
    assert set(result["summary"]) >= {
        "jobs",
        "placed",
        "infeasible",
        "baseline_g",
        "placed_g",
        "oracle_g",
        "savings_pct",
        "oracle_savings_pct",
        "fraction_of_oracle",
    }
    a = next(j for j in result["jobs"] if j["id"] == "a")
    assert (a["status"], a["baseline_g"], a["emissions_g"], a["oracle_g"]) == (
        "placed",
        300,
        100,
        100,
    )
    b = next(j for j in result["jobs"] if j["id"] == "b")
    assert b["segments"][0]["region"] == "eu-north-1"
    assert result["summary"]["fraction_of_oracle"] == 1.0
    assert json.loads(out) == result["summary"]
    page = report.read_text()
    assert "eu-north-1" in page and "r_summary.png" in page
    assert (files["dir"] / "r_summary.png").stat().st_size > 1000


def test_long_csv_is_equivalent_to_wide(files: dict, capsys: pytest.CaptureFixture) -> None:
    long = files["dir"] / "long.csv"
    lines = ["carbon_intensity,region,datetime"]
    for row in WIDE.splitlines()[1:]:
        when, west, north = row.split(",")
        lines += [f"{west},eu-west-1,{when}", f"{north},eu-north-1,{when}"]
    long.write_text("\n".join(lines) + "\n")
    outputs = []
    for signals in (files["signals"], long):
        out = files["dir"] / f"{signals.stem}.json"
        code, _, _ = run(
            ["backtest", "--signals", signals, "--jobs", files["jobs"], "--output", out], capsys
        )
        assert code == 0
        outputs.append(json.loads(out.read_text())["jobs"])
    assert outputs[0] == outputs[1]


BAD_INPUTS = [
    (
        "signals.csv",
        "datetime,eu-west-1\n2023-01-01T00:00:00Z,abc\n",
        None,
        ":2: column eu-west-1: not a number",
    ),
    (
        "signals.csv",
        "datetime,eu-west-1\n2023-01-01T00:00:00Z,\n",
        None,
        "missing value (gap in the signal)",
    ),
    (
        "signals.csv",
        "datetime,eu-west-1\nnot-a-date,1\n",
        None,
        ":2: column datetime: not ISO-8601",
    ),
    (
        "signals.csv",
        "datetime,eu-west-1\n2023-01-01T00:00:00Z,1\n2023-01-02T00:00:00Z,1\n",
        None,
        ":3: eu-west-1: gap in the signal",
    ),
    ("signals.csv", "when,eu-west-1\n2023-01-01T00:00:00Z,1\n", None, ":1: header must be"),
    ("jobs.json", None, '[{"id": "x",', "invalid JSON"),
    (
        "jobs.json",
        None,
        json.dumps([{**JOBS[0], "duration_minutes": -1}]),
        "job 0 (a): field duration_minutes: must be positive",
    ),
    (
        "jobs.json",
        None,
        json.dumps([{**JOBS[0], "deadline": "2023-01-01T00:10:00Z"}]),
        "field deadline",
    ),
    (
        "jobs.json",
        None,
        json.dumps([{**JOBS[0], "home_region": "us-east-1"}]),
        "field home_region: unknown region 'us-east-1'",
    ),
]


@pytest.mark.parametrize(("name", "csv_text", "jobs_text", "message"), BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_exit_2(
    files: dict,
    capsys: pytest.CaptureFixture,
    name: str,
    csv_text: str,
    jobs_text: str,
    message: str,
) -> None:
    if csv_text is not None:
        files["signals"].write_text(csv_text)
    if jobs_text is not None:
        files["jobs"].write_text(jobs_text)
    out = files["dir"] / "out.json"
    code, stdout, err = run(
        ["backtest", "--signals", files["signals"], "--jobs", files["jobs"], "--output", out],
        capsys,
    )
    assert code == 2
    assert stdout == ""
    assert err.count("\n") == 1 and err.startswith("carbon-aware: error: ")
    assert name in err and message in err
    assert not out.exists()


def test_console_script_has_no_traceback_on_bad_input(files: dict) -> None:
    files["jobs"].write_text("{")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "carbon_aware.cli.main",
            "backtest",
            "--signals",
            str(files["signals"]),
            "--jobs",
            str(files["jobs"]),
            "--output",
            str(files["dir"] / "o"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "invalid JSON" in proc.stderr


def test_help_lists_every_command(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("plan", "backtest", "regions", "demo"):
        assert command in out
