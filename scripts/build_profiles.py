"""Build the built-in regional profiles: ``lambda_src/carbon_aware/data/profiles.json``.

For every Electricity Maps zone in the shared development data (``../shared/data/carbon/``), this
computes the median carbon intensity by month x hour of day (12 x 24 values, UTC, 1 decimal) and the
annual mean, from the **lifecycle** series only:

- the 16 zones of ``hourly_2021_2023_16zones_lifecycle.csv``: **2023 only**. The grid trends from
  year to year; on the development data a profile from the most recent single year predicted the
  next year better than pooled years (profiles of 2022 alone vs 2021-2022 pooled, scored on 2023:
  mean absolute error 45.3 vs 50.7 gCO2eq/kWh over the 16 zones).
- the other 107 zones of ``hourly_2022_123zones_lifecycle.csv``: 2022 (the only year it has). It is
  an older Electricity Maps vintage, so it is used only where the 16-zone file has no series.

Zones whose source series is constant (HK, ID, US-NW-SCL in the 123-zone file) are flagged
``"flat": true``: their profile carries no temporal signal. The output holds aggregates only, never
raw hourly rows (the raw files are third-party data that must not be copied into the repository),
and is byte-for-byte deterministic: ``--check`` verifies the committed file.

Usage: ``python scripts/build_profiles.py [--data-dir DIR] [--output FILE] [--check]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT / ".." / "shared" / "data" / "carbon"
DEFAULT_OUTPUT = ROOT / "lambda_src" / "carbon_aware" / "data" / "profiles.json"
FORMAT_VERSION = 1

FILE_16 = "hourly_2021_2023_16zones_lifecycle.csv"
FILE_123 = "hourly_2022_123zones_lifecycle.csv"
# (file, years used), in order of preference: a zone comes from the first file that has it.
SOURCES: tuple[tuple[str, tuple[int, ...]], ...] = ((FILE_16, (2023,)), (FILE_123, (2022,)))

# Documented in the shared data README (not derivable from the values themselves).
ZONE_NOTES = {
    "IN-WE": "source values are 100% estimated by Electricity Maps (no measured temporal pattern)",
    "JP-TK": "source values are 100% estimated by Electricity Maps (no measured temporal pattern)",
}
FLAT_NOTE = "constant for every hour of the source period: no temporal signal"

ATTRIBUTION = (
    "Regional profiles derived from Electricity Maps data (https://www.electricitymaps.com), "
    "lifecycle carbon intensity. These are aggregates (median by month x hour of day in UTC, "
    "and annual means) computed by scripts/build_profiles.py; no raw hourly data are included. "
    "Source files: "
    f"{FILE_16} (year 2023; Electricity Maps portal data via HewlettPackard/green-dcc) and "
    f"{FILE_123} (year 2022; via umassos/decarbonization-potential)."
)


class DataError(ValueError):
    """A source file is missing, malformed or not hourly."""


def read_hourly(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Zone ids, start-of-hour times (datetime64[s], UTC) and a (rows x zones) value matrix."""
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    if not header or header[0] != "datetime" or len(header) < 2:
        raise DataError(f"{path}: expected a header 'datetime,<zone>,...'")
    stamps = np.loadtxt(path, delimiter=",", skiprows=1, usecols=0, dtype=str, ndmin=1)
    times = np.array([s.rstrip("Z") for s in stamps], dtype="datetime64[s]")
    if np.any(np.diff(times).astype(np.int64) != 3600):
        raise DataError(f"{path}: rows are not consecutive hours")
    values = np.loadtxt(
        path, delimiter=",", skiprows=1, usecols=range(1, len(header)), dtype=np.float64, ndmin=2
    )
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise DataError(f"{path}: missing, non-finite or negative values")
    return header[1:], times, values


def month_hour_medians(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Median of each column by (month, hour of day): shape (12, 24, zones)."""
    months = times.astype("datetime64[M]").astype(np.int64) % 12
    hours = (times.astype(np.int64) // 3600) % 24
    cell = months * 24 + hours
    out = np.full((12 * 24, values.shape[1]), np.nan)
    for c in range(12 * 24):
        rows = values[cell == c]
        if rows.shape[0]:
            out[c] = np.median(rows, axis=0)
    if np.isnan(out).any():
        raise DataError("some month x hour cells have no data")
    return out.reshape(12, 24, values.shape[1])


def build(data_dir: Path) -> dict:
    """The profiles document (a JSON-ready dict) from the source files in ``data_dir``."""
    zones: dict[str, dict] = {}
    sources: dict[str, dict] = {}
    for name, years in SOURCES:
        ids, times, values = read_hourly(data_dir / name)
        year_of = times.astype("datetime64[Y]").astype(np.int64) + 1970
        keep = np.isin(year_of, years)
        if not keep.any():
            raise DataError(f"{name}: no rows in years {years}")
        times, values = times[keep], values[keep]
        new = [i for i, z in enumerate(ids) if z not in zones]
        medians = month_hour_medians(times, values[:, new])
        for k, i in enumerate(new):
            column = values[:, i]
            flat = bool(column.max() == column.min())
            notes = [FLAT_NOTE] if flat else []
            if ids[i] in ZONE_NOTES:
                notes.append(ZONE_NOTES[ids[i]])
            zones[ids[i]] = {
                "annual_mean": round(float(column.mean()), 1),
                "flat": flat,
                "month_hour": [[round(float(x), 1) for x in row] for row in medians[:, :, k]],
                "notes": notes,
                "source": name,
                "years": list(years),
            }
        sources[name] = {
            "emission_factor": "lifecycle",
            "hours_used": int(times.size),
            "years_used": list(years),
            "zones_used": len(new),
        }
    return {
        "attribution": ATTRIBUTION,
        "format": (
            "zones.<zone>.month_hour[m][h]: median gCO2eq/kWh for month m (0 = January) and UTC "
            "hour h; annual_mean: mean over the years used; flat: the source series is constant"
        ),
        "generated_by": "scripts/build_profiles.py",
        "sources": sources,
        "units": "gCO2eq/kWh",
        "version": FORMAT_VERSION,
        "zones": zones,
    }


def render(doc: object, indent: int = 0) -> str:
    """Stable JSON: sorted keys, one space per level, lists of numbers on one line."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(doc, dict):
        if not doc:
            return "{}"
        items = [
            f"{inner}{json.dumps(k)}: {render(doc[k], indent + 1)}" for k in sorted(doc, key=str)
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(doc, list):
        if all(not isinstance(x, dict | list) for x in doc):
            return "[" + ",".join(json.dumps(x) for x in doc) + "]"
        return "[\n" + ",\n".join(inner + render(x, indent + 1) for x in doc) + "\n" + pad + "]"
    return json.dumps(doc)


def build_text(data_dir: Path) -> str:
    """The exact bytes (as text) of profiles.json for ``data_dir``."""
    return render(build(data_dir)) + "\n"


def run(
    argv: Sequence[str] | None,
    *,
    description: str,
    build_text: Callable[[Path], str],
    data_dir: Path,
    output: Path,
    prog: str,
) -> int:
    """Write (or with ``--check`` verify) a generated data file; returns the exit code."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", type=Path, default=data_dir)
    parser.add_argument("--output", type=Path, default=output)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the output file differs from a rebuild"
    )
    args = parser.parse_args(argv)
    try:
        text = build_text(args.data_dir.resolve())
    except (DataError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
        if current != text:
            print(f"{prog}: {args.output} is out of date", file=sys.stderr)
            return 1
        print(f"{args.output}: up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(text.encode("utf-8"))
    print(f"{args.output}: {len(text.encode('utf-8'))} bytes")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` verify) the profiles file; returns the exit code."""
    return run(
        argv,
        description=__doc__.splitlines()[0],
        build_text=build_text,
        data_dir=DEFAULT_DATA_DIR,
        output=DEFAULT_OUTPUT,
        prog="build_profiles",
    )


if __name__ == "__main__":
    sys.exit(main())
