"""Built-in renewable-share profiles: the right cell for the UTC month and hour, marked as an
estimate, the live share first, unknown Regions unknown, and a reproducible build."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from carbon_aware.signals.renewables import (
    ProfileRenewables,
    ShareQuote,
    profile_regions,
    profile_share,
)

ROOT = Path(__file__).resolve().parents[2]
RENEWABLES_JSON = ROOT / "lambda_src" / "carbon_aware" / "data" / "renewables.json"
BUILD_SCRIPT = ROOT / "scripts" / "build_renewable_profiles.py"
DATA_DIR = (ROOT / ".." / "shared" / "data").resolve()
SHARES_CSV = DATA_DIR / "carbon" / "hourly_2021_2023_16zones_renewable_pct.csv"
needs_data = pytest.mark.skipif(
    not (SHARES_CSV.is_file() and (DATA_DIR / "aws" / "region_zone_map.csv").is_file()),
    reason=f"shared data not found at {DATA_DIR}; the committed profiles cannot be re-derived",
)


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(RENEWABLES_JSON.read_text(encoding="utf-8"))


def test_share_is_the_cell_of_the_utc_month_and_hour_as_a_fraction(doc: dict) -> None:
    table = doc["regions"]["eu-central-1"]["month_hour"]
    quote = profile_share("eu-central-1", ts(2025, 7, 1, 12, 30))
    assert quote is not None and quote.value == pytest.approx(table[6][12] / 100)
    assert quote.source.startswith("profile (estimate): zone DE, median of July at 12:00 UTC")
    night = profile_share("eu-central-1", ts(2025, 12, 31, 23, 59))
    assert night is not None and night.value == pytest.approx(table[11][23] / 100)
    assert table[6][12] != table[11][23]  # the table has a seasonal and daily shape


def test_regions_without_a_profiled_zone_stay_unknown() -> None:
    assert profile_share("eu-west-1", ts(2025, 1, 1)) is None  # IE: no renewable series
    assert "eu-west-1" not in profile_regions()
    assert {"eu-central-1", "eu-west-2", "us-west-1", "ap-southeast-2"} <= set(profile_regions())


class Live:
    def quote(self, region: str, now: float) -> ShareQuote | None:
        return ShareQuote(0.42, "electricitymaps (zone DE)") if region == "eu-central-1" else None


def test_the_live_share_comes_first_then_the_profile() -> None:
    shares = ProfileRenewables(Live())  # type: ignore[arg-type]
    now = ts(2025, 3, 1, 6)
    assert shares.quote("eu-central-1", now) == ShareQuote(0.42, "electricitymaps (zone DE)")
    fallback = shares.quote("eu-west-2", now)
    assert fallback == profile_share("eu-west-2", now) and fallback is not None
    assert fallback.source.startswith("profile (estimate): zone GB")
    assert shares.quote("eu-west-1", now) is None
    assert ProfileRenewables().quote("eu-west-2", now) == fallback


@needs_data
def test_cells_are_medians_of_the_source_rows(doc: dict) -> None:
    # Independent check with the csv module: GB (eu-west-2), March 2023 at 14:00 UTC.
    with SHARES_CSV.open(newline="", encoding="utf-8") as handle:
        rows = [
            float(r["GB"]) for r in csv.DictReader(handle) if r["datetime"].startswith("2023-03-")
        ]
    at_14 = rows[14::24]
    assert len(at_14) == 31
    expected = round(float(np.median(at_14)), 1)
    assert doc["regions"]["eu-west-2"]["month_hour"][2][14] == expected


@needs_data
def test_build_reproduces_the_committed_file(tmp_path: Path) -> None:
    out = tmp_path / "renewables.json"
    cmd = [sys.executable, str(BUILD_SCRIPT), "--data-dir", str(DATA_DIR), "--output", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    assert out.read_bytes() == RENEWABLES_JSON.read_bytes()
    check = subprocess.run([*cmd[:-1], str(RENEWABLES_JSON), "--check"], capture_output=True)
    assert check.returncode == 0
    out.write_text("{}\n", encoding="utf-8")
    stale = subprocess.run([*cmd[:-1], str(out), "--check"], capture_output=True)
    assert stale.returncode == 1
