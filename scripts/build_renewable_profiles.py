"""Build the built-in renewable-share profiles: ``lambda_src/carbon_aware/data/renewables.json``.

For every AWS Region whose Electricity Maps zone (``../shared/data/aws/region_zone_map.csv``) has a
series in ``../shared/data/carbon/hourly_2021_2023_16zones_renewable_pct.csv``, this computes the
median renewable share (Electricity Maps' ``renewablePercentage``, percent of the electricity
consumed) by month x hour of day (12 x 24 values, UTC, 1 decimal) and the annual mean, from **2023
only** (the most recent year, as for the carbon profiles: grids trend from year to year). Regions
of other zones are left out: their share stays unknown. The output holds aggregates only, never raw
hourly rows, and is byte-for-byte deterministic: ``--check`` verifies the committed file. The
reading, median and rendering are those of ``scripts/build_profiles.py``.

Usage: ``python scripts/build_renewable_profiles.py [--data-dir DIR] [--output FILE] [--check]``
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from build_profiles import DataError, month_hour_medians, read_hourly, render, run

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT / ".." / "shared" / "data"
DEFAULT_OUTPUT = ROOT / "lambda_src" / "carbon_aware" / "data" / "renewables.json"
FORMAT_VERSION = 1
SHARES = "carbon/hourly_2021_2023_16zones_renewable_pct.csv"
REGION_ZONES = "aws/region_zone_map.csv"
YEAR = 2023

ATTRIBUTION = (
    "Renewable-share profiles derived from Electricity Maps data "
    "(https://www.electricitymaps.com), renewablePercentage of electricity consumed. These are "
    "aggregates (median by month x hour of day in UTC, and annual means) computed by "
    "scripts/build_renewable_profiles.py; no raw hourly data are included. Source file: "
    f"{SHARES.split('/')[-1]} (year {YEAR}; Electricity Maps portal data via "
    "HewlettPackard/green-dcc); AWS Region to zone map from the development data."
)


def region_zones(path: Path) -> dict[str, str]:
    """AWS Region -> Electricity Maps zone (Regions without a zone left out)."""
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"aws_region", "electricitymaps_zone"} <= set(rows[0]):
        raise DataError(f"{path}: expected columns aws_region, electricitymaps_zone")
    return {r["aws_region"]: r["electricitymaps_zone"] for r in rows if r["electricitymaps_zone"]}


def build(data_dir: Path) -> dict:
    """The renewable-profiles document (a JSON-ready dict) from the files in ``data_dir``."""
    zones, times, values = read_hourly(data_dir / SHARES)
    if np.any(values > 100):
        raise DataError(f"{SHARES}: shares above 100 %")
    keep = times.astype("datetime64[Y]").astype(np.int64) + 1970 == YEAR
    if not keep.any():
        raise DataError(f"{SHARES}: no rows in {YEAR}")
    times, values = times[keep], values[keep]
    medians = month_hour_medians(times, values)
    regions = {}
    for region, zone in sorted(region_zones(data_dir / REGION_ZONES).items()):
        if zone not in zones:
            continue
        k = zones.index(zone)
        regions[region] = {
            "annual_mean": round(float(values[:, k].mean()), 1),
            "month_hour": [[round(float(x), 1) for x in row] for row in medians[:, :, k]],
            "zone": zone,
        }
    return {
        "attribution": ATTRIBUTION,
        "format": (
            "regions.<region>.month_hour[m][h]: median renewable share (percent) for month m "
            "(0 = January) and UTC hour h; annual_mean: mean over the year; zone: the Electricity "
            "Maps zone"
        ),
        "generated_by": "scripts/build_renewable_profiles.py",
        "hours_used": int(times.size),
        "regions": regions,
        "source": SHARES.split("/")[-1],
        "units": "percent",
        "version": FORMAT_VERSION,
        "year": YEAR,
    }


def build_text(data_dir: Path) -> str:
    """The exact bytes (as text) of renewables.json for ``data_dir``."""
    return render(build(data_dir)) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the renewable profiles file; returns the exit code."""
    return run(
        argv,
        description=__doc__.splitlines()[0],
        build_text=build_text,
        data_dir=DEFAULT_DATA_DIR,
        output=DEFAULT_OUTPUT,
        prog="build_renewable_profiles",
    )


if __name__ == "__main__":
    sys.exit(main())
