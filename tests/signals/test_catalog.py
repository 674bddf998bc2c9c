"""Region catalog: built-in facts, region -> zone mapping and user override semantics."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest

from carbon_aware.cli.main import main
from carbon_aware.signals.catalog import (
    COLUMNS,
    ENV_VAR,
    OVERRIDE_SOURCE,
    ZONES_ENV_VAR,
    CatalogError,
    RegionInfo,
    UnknownRegionError,
    load_catalog,
)

ROOT = Path(__file__).resolve().parents[2]
SHARED_MAP = (ROOT / ".." / "shared" / "data" / "aws" / "region_zone_map.csv").resolve()
GSF_ONLY = {
    "ap-south-2": "IN-SO",
    "ap-southeast-4": "AU-VIC",
    "eu-central-2": "CH",
    "eu-south-2": "ES",
    "il-central-1": "IL",
    "ap-east-1": "HK",
    "me-central-1": "AE",
    "me-south-1": "BH",
}


@pytest.fixture(autouse=True)
def _no_catalog_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv(ZONES_ENV_VAR, raising=False)


def write(tmp_path: Path, text: str, name: str = "override.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- built-in catalog -----------------------------------------------------------------------------


def test_builtin_rows_carry_the_documented_facts() -> None:
    cat = load_catalog()
    assert len(cat) == 33 and cat.regions() == sorted(cat.regions())
    use1 = cat.get("us-east-1")
    assert use1 == RegionInfo(
        aws_region="us-east-1",
        electricitymaps_zone="US-MIDA-PJM",
        watttime_region="PJM_DC",
        static_gco2e_per_kwh=379.07,
        location="N. Virginia, USA",
        static_source="ccf",
        zone_source="ccf",
    )
    for region, zone in GSF_ONLY.items():
        info = cat.get(region)
        assert (info.electricitymaps_zone, info.zone_source) == (zone, "gsf-rtc"), region
    west = cat.get("ca-west-1")
    assert west.electricitymaps_zone is None and west.watttime_region is None
    assert west.static_gco2e_per_kwh == 392.78
    assert west.static_source == "ccf-unknown-region-fallback"
    assert cat.get("cn-north-1").electricitymaps_zone is None
    assert all(info.location for info in cat)
    assert list(use1.to_dict()) == list(COLUMNS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        use1.location = "elsewhere"  # type: ignore[misc]


@pytest.mark.skipif(not SHARED_MAP.is_file(), reason=f"shared data not found at {SHARED_MAP}")
def test_builtin_catalog_agrees_with_the_shared_region_map() -> None:
    cat = load_catalog()
    with SHARED_MAP.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["aws_region"] for r in rows} == set(cat.regions())
    for row in rows:
        info = cat.get(row["aws_region"])
        assert info.electricitymaps_zone == (
            row["electricitymaps_zone"] or GSF_ONLY.get(row["aws_region"])
        )
        assert info.watttime_region == (row["watttime_region"] or None)
        ccf = row["ccf_gco2e_per_kwh"]
        assert info.static_gco2e_per_kwh == (float(ccf) if ccf else 392.78)
        assert info.static_source == ("ccf" if ccf else "ccf-unknown-region-fallback")


def test_zone_for_maps_regions_and_passes_zone_ids_through() -> None:
    cat = load_catalog()
    assert cat.zone_for("us-west-2") == "US-NW-PACW"
    assert cat.zone_for("eu-north-1") == "SE-SE3"
    assert cat.zone_for("ca-west-1") is None
    assert cat.zone_for("DE") == "DE"
    assert cat.zone_for("US-NW-BPAT") == "US-NW-BPAT"
    with pytest.raises(UnknownRegionError, match="'us-east-9'"):
        cat.zone_for("us-east-9")  # shaped like an AWS region: a typo, not a zone id


def test_unknown_region_is_a_value_error_naming_the_key() -> None:
    with pytest.raises(UnknownRegionError, match="'eu-mars-1'") as info:
        load_catalog().get("eu-mars-1")
    assert isinstance(info.value, ValueError) and info.value.key == "eu-mars-1"
    assert "eu-mars-1" not in load_catalog()


# --- overrides ------------------------------------------------------------------------------------


def test_partial_override_keeps_builtin_values_for_empty_cells(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# my mapping\n"
        "aws_region,electricitymaps_zone,static_gco2e_per_kwh\n"
        "us-east-1,US-NY-NYIS,\n"
        "us-west-2,,300\n",
    )
    cat = load_catalog(path)
    use1 = cat.get("us-east-1")
    assert use1.electricitymaps_zone == "US-NY-NYIS" and use1.zone_source == "user-override"
    assert use1.watttime_region == "PJM_DC" and use1.static_gco2e_per_kwh == 379.07
    assert use1.static_source == "ccf" and use1.location == "N. Virginia, USA"
    usw2 = cat.get("us-west-2")
    assert usw2.electricitymaps_zone == "US-NW-PACW" and usw2.zone_source == "ccf"
    assert usw2.static_gco2e_per_kwh == 300.0 and usw2.static_source == "user-override"
    assert cat.get("eu-west-1") == load_catalog().get("eu-west-1")
    assert cat.origins == ("built-in", str(path))
    # The built-in catalog is not changed by loading an override.
    assert load_catalog().get("us-east-1").electricitymaps_zone == "US-MIDA-PJM"


def test_override_adds_new_regions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "location,aws_region,electricitymaps_zone,static_source,static_gco2e_per_kwh\n"
        '"Querétaro, Mexico",mx-central-1,MX,my-audit,410\n'
        "on-prem,onprem-1,,,\n",
    )
    cat = load_catalog(path)
    assert len(cat) == 35 and "mx-central-1" in cat.regions()
    mx = cat.get("mx-central-1")
    assert mx.location == "Querétaro, Mexico" and mx.electricitymaps_zone == "MX"
    assert mx.static_gco2e_per_kwh == 410.0 and mx.static_source == "my-audit"
    assert mx.watttime_region is None
    onprem = cat.get("onprem-1")
    assert onprem.electricitymaps_zone is None
    assert onprem.static_gco2e_per_kwh == 392.78
    assert onprem.static_source == "ccf-unknown-region-fallback"
    assert cat.zone_for("mx-central-1") == "MX"


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("# comment\naws_region,zone\nus-east-1,X\n", r"line 2: unknown column 'zone'"),
        ("electricitymaps_zone\nDE\n", r"line 1: .*aws_region"),
        ("aws_region,location,location\nus-east-1,a,b\n", r"line 1: repeated column 'location'"),
        (
            "aws_region,static_gco2e_per_kwh\nus-east-1,1\n\nus-east-2,abc\n",
            r"line 4: static_gco2e_per_kwh 'abc'",
        ),
        ("aws_region,static_gco2e_per_kwh\nus-east-1,-5\n", r"line 2: static_gco2e_per_kwh '-5'"),
        ("aws_region,location\nus-east-1,a,extra\n", r"line 2: expected 2 cells"),
        ("aws_region,location\nus-east-1,a\nus-east-1,b\n", r"line 3: region 'us-east-1' repeated"),
        ("aws_region,location\n,a\n", r"line 2: empty aws_region"),
        ("# only a comment\n", r"no header row"),
    ],
)
def test_malformed_overrides_name_the_file_line_and_problem(
    tmp_path: Path, text: str, pattern: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError, match=pattern) as info:
        load_catalog(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_environment_variable_names_the_override(tmp_path: Path, monkeypatch) -> None:
    env_file = write(tmp_path, "aws_region,electricitymaps_zone\nus-west-2,US-NW-BPAT\n", "env.csv")
    explicit = write(tmp_path, "aws_region,electricitymaps_zone\nus-west-2,US-CAL-CISO\n")
    monkeypatch.setenv(ENV_VAR, str(env_file))
    assert load_catalog().zone_for("us-west-2") == "US-NW-BPAT"
    assert load_catalog(explicit).zone_for("us-west-2") == "US-CAL-CISO"  # explicit path wins
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.csv"))
    with pytest.raises(CatalogError, match=ENV_VAR):
        load_catalog()
    monkeypatch.setenv(ENV_VAR, "")
    assert load_catalog().zone_for("us-west-2") == "US-NW-PACW"


def test_missing_explicit_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_catalog(tmp_path / "nope.csv")


def test_cli_regions_uses_the_override_and_reports_bad_files(tmp_path: Path, capsys) -> None:
    good = write(tmp_path, "aws_region,location\nonprem-1,Basement\n", "good.csv")
    assert main(["regions", "--catalog", str(good)]) == 0
    assert "onprem-1" in capsys.readouterr().out
    bad = write(tmp_path, "aws_region,colour\nus-east-1,red\n", "bad.csv")
    assert main(["regions", "--catalog", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 1: unknown column 'colour'" in err and "Traceback" not in err


# --- zone overrides (the module's region_zones) ------------------------------------------------


def test_zone_override_replaces_the_zone_of_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    builtin = load_catalog().get("us-east-1")
    assert builtin.electricitymaps_zone != "US-CAL-CISO"
    monkeypatch.setenv(ZONES_ENV_VAR, '{"us-east-1": "US-CAL-CISO"}')
    row = load_catalog().get("us-east-1")
    assert (row.electricitymaps_zone, row.zone_source) == ("US-CAL-CISO", OVERRIDE_SOURCE)
    assert row.static_gco2e_per_kwh == builtin.static_gco2e_per_kwh
    assert load_catalog().zone_for("us-east-1") == "US-CAL-CISO"


def test_zone_override_applies_on_top_of_the_csv_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "aws_region,electricitymaps_zone\nus-east-1,DE\n")
    monkeypatch.setenv(ENV_VAR, str(path))
    monkeypatch.setenv(ZONES_ENV_VAR, '{"us-east-1": "FR"}')
    cat = load_catalog()
    assert cat.get("us-east-1").electricitymaps_zone == "FR"
    assert cat.origins == ("built-in", str(path), ZONES_ENV_VAR)


def test_zone_override_adds_a_region_the_catalog_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "eu-future-1" not in load_catalog()
    monkeypatch.setenv(ZONES_ENV_VAR, '{"eu-future-1": "DE"}')
    assert load_catalog().get("eu-future-1").electricitymaps_zone == "DE"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"us-east-1": "ATLANTIS"}', "zone 'ATLANTIS' of us-east-1 is unknown"),
        ('["us-east-1", "DE"]', "must be a JSON object"),
        ("us-east-1=DE", "must be a JSON object"),
        ('{"Virginia": "DE"}', "'Virginia' is not an AWS region code"),
        ('{"us-east-1": ""}', "the zone of us-east-1 must be a zone id"),
    ],
)
def test_bad_zone_override_is_an_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(ZONES_ENV_VAR, value)
    with pytest.raises(CatalogError, match=ZONES_ENV_VAR) as raised:
        load_catalog()
    assert message in str(raised.value)
