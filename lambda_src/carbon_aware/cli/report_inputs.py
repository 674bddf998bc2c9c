"""What the user adds to a carbon report: renewable coverage per region (market-based view) and
the AWS customer carbon footprint export (reconciliation)."""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from carbon_aware.cli.inputs import InputError

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DEFAULT = "default"
GRAMS_PER_TONNE = 1_000_000.0
# Carbon emissions table of AWS Data Exports (the customer carbon footprint export).
CCFT_REGION = "region_code"
CCFT_START = "usage_period_start"
CCFT_LBM = "total_lbm_emissions_value"
CCFT_LBM_UNIT = "total_lbm_emissions_unit"
CCFT_MBM = "total_mbm_emissions_value"
CCFT_MBM_UNIT = "total_mbm_emissions_unit"
CCFT_UNIT = "MTCO2e"


@dataclass(frozen=True)
class Coverage:
    """Fraction of a region's electricity covered by the user's renewable contracts (RECs,
    PPAs), per region and optionally per month (``YYYY-MM``), with a per-region default."""

    fractions: dict[str, dict[str, float]]

    def of(self, region: str, month: str) -> float:
        """The covered fraction of ``region`` in ``month`` (0 where nothing is configured)."""
        by_month = self.fractions.get(region, {})
        return by_month.get(month, by_month.get(DEFAULT, 0.0))


def read_coverage(path: Path) -> Coverage:
    """Parse a coverage JSON file: ``{"eu-west-1": 0.6, "us-east-1": {"2025-06": 0.9,
    "default": 0.5}}``; every fraction in [0, 1], months as ``YYYY-MM``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"--coverage {path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(f"--coverage {path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"--coverage {path}: expected an object of region -> fraction")
    fractions: dict[str, dict[str, float]] = {}
    for region, value in data.items():
        by_month = value if isinstance(value, dict) else {DEFAULT: value}
        for month, fraction in by_month.items():
            where = f"--coverage {path}: {region}.{month}"
            if month != DEFAULT and not MONTH.match(str(month)):
                raise InputError(f"{where}: month must be YYYY-MM or {DEFAULT!r}")
            if not _fraction(fraction):
                raise InputError(f"{where}: must be a fraction between 0 and 1, got {fraction!r}")
        fractions[region] = {str(m): float(f) for m, f in by_month.items()}
    return Coverage(fractions)


def _fraction(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )


@dataclass(frozen=True)
class Footprint:
    """AWS's own estimate for one region and month, in grams."""

    location_g: float | None
    market_g: float | None


def read_ccft(path: Path) -> dict[tuple[str, str], Footprint]:
    """Sum the carbon emissions export CSV (columns ``region_code``, ``usage_period_start``,
    ``total_lbm_emissions_value``/``_unit``, ``total_mbm_emissions_value``/``_unit``) per
    (region, month), in grams."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"--ccft {path}: cannot read: {exc.strerror}") from None
    rows = csv.DictReader(text.splitlines())
    missing = {CCFT_REGION, CCFT_START, CCFT_LBM, CCFT_MBM} - set(rows.fieldnames or ())
    if missing:
        raise InputError(f"--ccft {path}: missing columns {', '.join(sorted(missing))}")
    sums: dict[tuple[str, str], list[float | None]] = defaultdict(lambda: [None, None])
    for n, row in enumerate(rows, start=2):
        key = (row[CCFT_REGION] or "global", (row[CCFT_START] or "")[:7])
        if not MONTH.match(key[1]):
            raise InputError(f"--ccft {path}: line {n}: {CCFT_START} is not a date")
        for i, (column, unit) in enumerate(((CCFT_LBM, CCFT_LBM_UNIT), (CCFT_MBM, CCFT_MBM_UNIT))):
            if not (row.get(column) or "").strip():
                continue
            if (row.get(unit) or CCFT_UNIT).strip() != CCFT_UNIT:
                raise InputError(f"--ccft {path}: line {n}: {unit} must be {CCFT_UNIT}")
            try:
                grams = float(row[column]) * GRAMS_PER_TONNE
            except ValueError:
                raise InputError(f"--ccft {path}: line {n}: {column} is not a number") from None
            sums[key][i] = (sums[key][i] or 0.0) + grams
    return {key: Footprint(*values) for key, values in sums.items()}
