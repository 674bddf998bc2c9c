"""``backtest --forecast-file``: issued forecasts (long CSV, WattTime and Electricity Maps JSON),
the latest issued at or before each decision, and bad input named by line or field."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from carbon_aware.cli.forecast_file import read_forecast_file, write_long_csv
from carbon_aware.cli.inputs import InputError
from carbon_aware.cli.main import main
from carbon_aware.engine.timeutil import parse_seconds

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "api_examples"

# Actual: 04:00 is the cleanest hour, 02:00 the second cleanest.
ACTUAL = """datetime,r
2023-01-01T00:00:00Z,300
2023-01-01T01:00:00Z,300
2023-01-01T02:00:00Z,200
2023-01-01T03:00:00Z,300
2023-01-01T04:00:00Z,100
2023-01-01T05:00:00Z,300
2023-01-01T06:00:00Z,300
"""


def forecast_rows(issued: str, cheap: str) -> list[str]:
    """A forecast issued at ``issued`` for 00:00-06:00 that puts the cleanest hour at ``cheap``."""
    return [
        f"{issued},2023-01-01T{h:02d}:00:00Z,r,{50 if f'{h:02d}' == cheap else 400}"
        for h in range(7)
    ]


def job(job_id: str, submitted: str) -> dict:
    return {
        "id": job_id,
        "submitted_at": submitted,
        "duration_minutes": 60,
        "deadline": "2023-01-01T06:00:00Z",
        "home_region": "r",
        "power_watts": 1000,
    }


def backtest(tmp_path: Path, jobs: list[dict], forecast_text: str, *extra: str) -> dict:
    (tmp_path / "actual.csv").write_text(ACTUAL)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    (tmp_path / "issued.csv").write_text(forecast_text)
    args = ["backtest", "--signals", tmp_path / "actual.csv", "--jobs", tmp_path / "jobs.json"]
    args += ["--strategy", "time_shift", "--forecast-file", tmp_path / "issued.csv"]
    args += ["--output", tmp_path / "out.json", *extra]
    assert main([str(a) for a in args]) == 0
    assert gc.isenabled()  # off during the run only
    return json.loads((tmp_path / "out.json").read_text())


def test_each_decision_uses_the_latest_forecast_issued_at_or_before_it(tmp_path: Path) -> None:
    # Issued at 00:00: cleanest at 02:00 (wrong); issued at 01:30: cleanest at 04:00 (right).
    rows = forecast_rows("2023-01-01T00:00:00Z", "02") + forecast_rows("2023-01-01T01:30:00Z", "04")
    jobs = [
        job("early", "2023-01-01T00:30:00Z"),  # only the 00:00 forecast exists
        job("at_issue", "2023-01-01T01:30:00Z"),  # issued at the decision instant: seen
        job("later", "2023-01-01T01:45:00Z"),
    ]
    out = backtest(tmp_path, jobs, "issued_at,datetime,region,value\n" + "\n".join(rows) + "\n")
    starts = {j["id"]: j["segments"][0]["start"] for j in out["jobs"]}
    assert starts == {
        "early": "2023-01-01T02:00:00Z",
        "at_issue": "2023-01-01T04:00:00Z",
        "later": "2023-01-01T04:00:00Z",
    }
    early = next(j for j in out["jobs"] if j["id"] == "early")
    assert early["emissions_g"] == 200.0 and early["oracle_g"] == 100.0
    assert out["forecast"] == "issued:issued.csv"
    assert 0 < out["summary"]["fraction_of_oracle"] < 1


def test_a_job_with_no_forecast_issued_yet_is_infeasible_and_says_why(tmp_path: Path) -> None:
    rows = forecast_rows("2023-01-01T01:00:00Z", "04")
    jobs = [job("too_early", "2023-01-01T00:30:00Z"), job("ok", "2023-01-01T01:00:00Z")]
    out = backtest(
        tmp_path,
        jobs,
        "region,value,datetime,issued_at\n"
        + "\n".join(
            ",".join((r.split(",")[2], r.split(",")[3], r.split(",")[1], r.split(",")[0]))
            for r in rows
        )
        + "\n",
    )  # any column order
    by_id = {j["id"]: j for j in out["jobs"]}
    assert by_id["too_early"]["status"] == "infeasible"
    assert (
        "no forecast issued at or before 2023-01-01T00:30:00Z for r"
        in (by_id["too_early"]["reason"])
    )
    assert by_id["ok"]["segments"][0]["start"] == "2023-01-01T04:00:00Z"
    assert out["summary"]["infeasible"] == 1


def test_first_value_holds_back_to_the_issue_time(tmp_path: Path) -> None:
    # Issued 00:10 with points from 01:00: a job submitted at 00:20 may start at 00:20.
    text = "issued_at,datetime,region,value\n" + "\n".join(
        f"2023-01-01T00:10:00Z,2023-01-01T{h:02d}:00:00Z,r,{10 if h == 1 else 900}"
        for h in range(1, 7)
    )
    jobs = [job("now", "2023-01-01T00:20:00Z") | {"deadline": "2023-01-01T03:00:00Z"}]
    out = backtest(tmp_path, jobs, text + "\n")
    assert out["jobs"][0]["segments"][0]["start"] == "2023-01-01T00:20:00Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("issued_at,datetime,value\n", ":1: header must contain issued_at,datetime,region,value"),
        (
            "issued_at,datetime,region,value\n2023-01-01T00:00:00Z,2023-01-01T01:00:00Z,r,x\n",
            "issued.csv:2: column value: not a number: 'x'",
        ),
        (
            "issued_at,datetime,region,value\nyesterday,2023-01-01T01:00:00Z,r,1\n",
            "issued.csv:2: column issued_at: not an ISO-8601 datetime: 'yesterday'",
        ),
        (
            "issued_at,datetime,region,value\n2023-01-01T00:00:00Z,2023-01-01T01:00:00Z,r,-1\n",
            "issued.csv:2: column value: must be a finite number >= 0",
        ),
        (
            "issued_at,datetime,region,value\n"
            "2023-01-01T00:00:00Z,2023-01-01T01:00:00Z,r,1\n"
            "2023-01-01T00:00:00Z,2023-01-01T01:00:00Z,r,2\n",
            "issued.csv:3: r: forecast issued at 2023-01-01T00:00:00Z has "
            "2023-01-01T01:00:00Z twice",
        ),
        (
            "issued_at,datetime,region,value\n2023-01-01T00:00:00Z,2023-01-01T01:00:00Z,elsewhere,1\n",
            "--forecast-file: regions not in the signals: elsewhere",
        ),
    ],
)
def test_bad_long_csv_is_one_line_naming_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture, text: str, message: str
) -> None:
    (tmp_path / "actual.csv").write_text(ACTUAL)
    (tmp_path / "jobs.json").write_text(json.dumps([job("a", "2023-01-01T00:00:00Z")]))
    (tmp_path / "issued.csv").write_text(text)
    code = main(
        [
            "backtest",
            "--signals",
            str(tmp_path / "actual.csv"),
            "--jobs",
            str(tmp_path / "jobs.json"),
            "--forecast-file",
            str(tmp_path / "issued.csv"),
            "--output",
            str(tmp_path / "out.json"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_forecast_and_forecast_file_are_exclusive(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "actual.csv").write_text(ACTUAL)
    (tmp_path / "jobs.json").write_text(json.dumps([job("a", "2023-01-01T00:00:00Z")]))
    (tmp_path / "issued.csv").write_text("issued_at,datetime,region,value\n")
    args = ["backtest", "--signals", tmp_path / "actual.csv", "--jobs", tmp_path / "jobs.json"]
    args += ["--forecast", "history", "--forecast-file", tmp_path / "issued.csv"]
    assert main([str(a) for a in [*args, "--output", tmp_path / "o.json"]]) == 2
    assert "--forecast and --forecast-file" in capsys.readouterr().err


def _sample(name: str) -> Path:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"needs the shared API sample {path}, absent here")
    return path


def test_reads_the_real_watttime_historical_forecast_sample() -> None:
    path = _sample("watttime/v3_forecast_historical_CAISO_NORTH.json")
    body = json.loads(path.read_text())
    (forecast,) = read_forecast_file(path, "marginal")
    assert forecast.region == body["meta"]["region"]
    assert forecast.issued_at == parse_seconds(body["data"][0]["generated_at"])
    points = body["data"][0]["forecast"]
    assert forecast.signal.times.tolist() == [parse_seconds(p["point_time"]) for p in points]
    assert forecast.signal.values.tolist() == pytest.approx([p["value"] * 0.4536 for p in points])
    assert forecast.signal.signal_type.value == "marginal"
    with pytest.raises(InputError, match="forecasts are marginal intensities but the signals"):
        read_forecast_file(path, "average")


def test_reads_the_electricitymaps_forecast_shape(tmp_path: Path) -> None:
    path = _sample("electricitymaps/v3_carbon-intensity_forecast_CONSTRUCTED.json")
    body = json.loads(path.read_text())
    (forecast,) = read_forecast_file(path, "average")
    assert (forecast.region, forecast.issued_at) == (body["zone"], parse_seconds(body["updatedAt"]))
    assert forecast.signal.values.tolist() == [p["carbonIntensity"] for p in body["forecast"]]
    seen = forecast.as_seen()  # issued 18:48, first point 19:00: the first value holds from 18:48
    assert (
        seen.start == forecast.issued_at
        and seen.values[0] == body["forecast"][0]["carbonIntensity"]
    )
    # An array of past forecasts, and a bad field named by its JSON path.
    later = body | {"updatedAt": "2024-03-06T19:48:27.926Z"}
    (tmp_path / "em.json").write_text(json.dumps([body, later]))
    assert len(read_forecast_file(tmp_path / "em.json", "average")) == 2
    broken = body | {
        "forecast": [{"datetime": "2024-03-06T19:00:00.000Z", "carbonIntensity": None}]
    }
    (tmp_path / "bad.json").write_text(json.dumps([body, broken]))
    with pytest.raises(InputError, match=r"\[1\]\.forecast\[0\]: carbonIntensity: not a number"):
        read_forecast_file(tmp_path / "bad.json", "average")


def test_watttime_bad_units_and_missing_fields_are_named(tmp_path: Path) -> None:
    body = json.loads(_sample("watttime/v3_forecast_historical_CAISO_NORTH.json").read_text())
    (tmp_path / "u.json").write_text(
        json.dumps(body | {"meta": body["meta"] | {"units": "percentile"}})
    )
    with pytest.raises(InputError, match=r"meta\.units: unknown units 'percentile'"):
        read_forecast_file(tmp_path / "u.json", "marginal")
    body["data"][0].pop("generated_at")
    (tmp_path / "g.json").write_text(json.dumps(body))
    with pytest.raises(InputError, match=r"data\[0\]: field generated_at: missing"):
        read_forecast_file(tmp_path / "g.json", "marginal")


def test_long_csv_round_trips(tmp_path: Path) -> None:
    text = "issued_at,datetime,region,value\n" + "\n".join(
        forecast_rows("2023-01-01T00:00:00Z", "02") + forecast_rows("2023-01-01T01:00:00Z", "04")
    )
    (tmp_path / "a.csv").write_text(text + "\n")
    first = read_forecast_file(tmp_path / "a.csv", "average")
    assert write_long_csv(tmp_path / "b.csv", first) == 14
    again = read_forecast_file(tmp_path / "b.csv", "average")
    assert [(f.region, f.issued_at, f.signal.values.tolist()) for f in again] == [
        (f.region, f.issued_at, f.signal.values.tolist()) for f in first
    ]
