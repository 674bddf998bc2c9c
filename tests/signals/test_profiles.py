"""Built-in profiles: values at the right UTC month/hour, flags, fallbacks, reproducible build."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from carbon_aware.engine import SignalError, SignalType
from carbon_aware.signals.catalog import ENV_VAR, UnknownRegionError, load_catalog
from carbon_aware.signals.profiles import (
    profile_attribution,
    profile_signal,
    profile_zones,
    zone_profile,
)

ROOT = Path(__file__).resolve().parents[2]
PROFILES_JSON = ROOT / "lambda_src" / "carbon_aware" / "data" / "profiles.json"
BUILD_SCRIPT = ROOT / "scripts" / "build_profiles.py"
DATA_DIR = (ROOT / ".." / "shared" / "data" / "carbon").resolve()
SOURCE_FILES = ("hourly_2021_2023_16zones_lifecycle.csv", "hourly_2022_123zones_lifecycle.csv")
HAVE_DATA = all((DATA_DIR / name).is_file() for name in SOURCE_FILES)
needs_data = pytest.mark.skipif(
    not HAVE_DATA,
    reason=f"shared data not found at {DATA_DIR}; the committed profiles cannot be re-derived",
)


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def _no_catalog_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(PROFILES_JSON.read_text(encoding="utf-8"))


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_profiles", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- signal values -------------------------------------------------------------------------------


def test_values_follow_the_month_hour_table_across_a_month_boundary(doc: dict) -> None:
    table = doc["zones"]["DE"]["month_hour"]
    sig = profile_signal("DE", ts(2025, 1, 31, 21), ts(2025, 2, 1, 3))
    assert sig.times.tolist() == [ts(2025, 1, 31, 21) + 3600 * i for i in range(6)]
    expected = [table[0][21], table[0][22], table[0][23], table[1][0], table[1][1], table[1][2]]
    assert sig.values.tolist() == expected
    assert sig.end == ts(2025, 2, 1, 3)
    # December -> January across a year boundary, for a second zone.
    nsw = doc["zones"]["AU-NSW"]["month_hour"]
    sig = profile_signal("AU-NSW", ts(2024, 12, 31, 23), ts(2025, 1, 1, 1))
    assert sig.values.tolist() == [nsw[11][23], nsw[0][0]]


def test_first_point_is_start_then_utc_hour_boundaries(doc: dict) -> None:
    table = doc["zones"]["FR"]["month_hour"]
    start = ts(2025, 3, 31, 22) + 1800.0
    sig = profile_signal("FR", start, ts(2025, 4, 1, 1) + 600.0)
    assert sig.times.tolist() == [start, ts(2025, 3, 31, 23), ts(2025, 4, 1, 0), ts(2025, 4, 1, 1)]
    assert sig.values.tolist() == [table[2][22], table[2][23], table[3][0], table[3][1]]
    assert sig.value_at(ts(2025, 4, 1, 1) + 599.0) == table[3][1]


def test_sub_hourly_step_repeats_the_hour_value_and_bad_steps_are_rejected(doc: dict) -> None:
    table = doc["zones"]["GB"]["month_hour"]
    sig = profile_signal("GB", ts(2025, 7, 1, 5), ts(2025, 7, 1, 7), step=900)
    assert sig.times.size == 8
    assert sig.values.tolist() == [table[6][5]] * 4 + [table[6][6]] * 4
    with pytest.raises(SignalError, match="divide one hour"):
        profile_signal("GB", ts(2025, 7, 1), ts(2025, 7, 2), step=7200)
    with pytest.raises(SignalError, match="start < end"):
        profile_signal("GB", ts(2025, 7, 2), ts(2025, 7, 1))


def test_profile_signals_are_estimated_average_with_profile_source() -> None:
    sig = profile_signal("eu-west-1", ts(2025, 6, 1), ts(2025, 6, 2))
    assert sig.estimated is True
    assert sig.source == "profile"
    assert sig.signal_type is SignalType.AVERAGE
    assert sig.region == "eu-west-1"


def test_aws_regions_map_to_their_zone_profile() -> None:
    a, b = ts(2025, 10, 5, 3), ts(2025, 10, 8, 3)
    for region, zone in [
        ("us-east-1", "US-MIDA-PJM"),
        ("us-west-2", "US-NW-PACW"),
        ("eu-central-1", "DE"),
        ("eu-north-1", "SE-SE3"),
        ("ap-southeast-4", "AU-VIC"),  # zone from GSF real-time-cloud (CCF has none)
    ]:
        by_region, by_zone = profile_signal(region, a, b), profile_signal(zone, a, b)
        assert by_region.region == region and by_zone.region == zone
        np.testing.assert_array_equal(by_region.values, by_zone.values)
        np.testing.assert_array_equal(by_region.times, by_zone.times)
    # Different zones give different series (the mapping is not a no-op).
    assert not np.array_equal(profile_signal("DE", a, b).values, profile_signal("FR", a, b).values)


def test_region_without_a_zone_profile_falls_back_to_its_static_factor() -> None:
    a, b = ts(2025, 1, 1), ts(2025, 1, 2)
    for region, factor in [("ap-south-2", 392.78), ("cn-north-1", 537.4), ("me-south-1", 505.9)]:
        sig = profile_signal(region, a, b)
        assert sig.source == "static-factor"
        assert sig.estimated is True
        assert sig.values.tolist() == [factor] * 24
        assert sig.times.tolist() == profile_signal("DE", a, b).times.tolist()


def test_catalog_override_changes_the_profile_used(tmp_path: Path, monkeypatch) -> None:
    a, b = ts(2025, 5, 1), ts(2025, 5, 2)
    override = tmp_path / "catalog.csv"
    override.write_text(
        "aws_region,electricitymaps_zone,static_gco2e_per_kwh\n"
        "us-east-1,US-NY-NYIS,\n"
        "onprem-1,FR,\n"
        "eu-west-1,XX-NOPROFILE,123.5\n"
    )
    catalog = load_catalog(override)
    nyis = profile_signal("US-NY-NYIS", a, b).values
    np.testing.assert_array_equal(profile_signal("us-east-1", a, b, catalog=catalog).values, nyis)
    static = profile_signal("eu-west-1", a, b, catalog=catalog)
    assert static.source == "static-factor" and set(static.values.tolist()) == {123.5}
    # The environment variable applies when no catalog is passed.
    monkeypatch.setenv(ENV_VAR, str(override))
    fr = profile_signal("FR", a, b).values
    np.testing.assert_array_equal(profile_signal("onprem-1", a, b).values, fr)


def test_unknown_key_is_a_clear_error_naming_it() -> None:
    with pytest.raises(UnknownRegionError, match="'mars-central-1'") as info:
        profile_signal("mars-central-1", ts(2025, 1, 1), ts(2025, 1, 2))
    assert isinstance(info.value, ValueError)
    assert info.value.key == "mars-central-1"
    with pytest.raises(UnknownRegionError, match="'XX'"):
        zone_profile("XX")


# --- the committed JSON ---------------------------------------------------------------------------


def test_json_holds_aggregates_only_with_attribution(doc: dict) -> None:
    assert PROFILES_JSON.stat().st_size < 400_000
    assert "derived from Electricity Maps data" in doc["attribution"]
    assert "aggregates" in doc["attribution"]
    for name in SOURCE_FILES:
        assert name in doc["attribution"]
    assert "derived from Electricity Maps data" in profile_attribution()
    text = PROFILES_JSON.read_text(encoding="utf-8")
    assert "T00:00:00" not in text and ":00Z" not in text  # no timestamps, hence no raw rows
    assert len(doc["zones"]) == len(profile_zones()) >= 100
    for zone, entry in doc["zones"].items():
        table = entry["month_hour"]
        assert len(table) == 12 and all(len(row) == 24 for row in table), zone
        numbers = [x for row in table for x in row]
        assert len(numbers) == 12 * 24  # never more values than the 288 aggregates
        assert all(round(x, 1) == x and x >= 0 for x in numbers), zone
        assert set(entry) == {"annual_mean", "flat", "month_hour", "notes", "source", "years"}
        assert entry["source"] in SOURCE_FILES


def test_json_years_sources_and_flat_zones(doc: dict) -> None:
    zones = doc["zones"]
    sixteen = {z for z, e in zones.items() if e["source"] == SOURCE_FILES[0]}
    assert len(sixteen) == 16 and {"DE", "US-MIDA-PJM", "AU-NSW"} <= sixteen
    assert all(zones[z]["years"] == [2023] for z in sixteen)
    assert zones["IE"]["years"] == [2022] and zones["IE"]["source"] == SOURCE_FILES[1]
    assert {z for z, e in zones.items() if e["flat"]} == {"HK", "ID", "US-NW-SCL"}
    hk = zone_profile("HK")
    assert hk.flat and len({v for row in hk.month_hour for v in row}) == 1
    assert not zone_profile("DE").flat


@needs_data
def test_profile_cells_are_medians_of_the_source_rows(doc: dict) -> None:
    # Independent check with the csv module: DE, January 2023 at 13:00 UTC.
    path = DATA_DIR / SOURCE_FILES[0]
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle)
        values = [float(r["DE"]) for r in rows if r["datetime"].startswith("2023-01-")]
        hour13 = values[13::24]
    assert len(hour13) == 31
    assert doc["zones"]["DE"]["month_hour"][0][13] == round(float(np.median(hour13)), 1)
    assert doc["zones"]["DE"]["annual_mean"] > 0


@needs_data
def test_build_is_deterministic_and_matches_the_committed_json(tmp_path: Path) -> None:
    committed = PROFILES_JSON.read_bytes()
    module = load_build_script()
    assert module.build_text(DATA_DIR).encode("utf-8") == committed
    # A separate process (another hash seed) writes the same bytes.
    out = tmp_path / "profiles.json"
    cmd = [sys.executable, str(BUILD_SCRIPT), "--data-dir", str(DATA_DIR), "--output", str(out)]
    subprocess.run(
        cmd, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "123"}
    )
    assert out.read_bytes() == committed
    check = subprocess.run([*cmd[:-1], str(PROFILES_JSON), "--check"], capture_output=True)
    assert check.returncode == 0, check.stderr


def test_build_script_reports_a_missing_data_dir(tmp_path: Path) -> None:
    module = load_build_script()
    assert module.main(["--data-dir", str(tmp_path), "--output", str(tmp_path / "p.json")]) == 2
    assert not (tmp_path / "p.json").exists()
