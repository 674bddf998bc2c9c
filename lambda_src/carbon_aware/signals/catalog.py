"""The region catalog: AWS region -> Electricity Maps zone, WattTime region and static factor.

The built-in catalog is ``carbon_aware/data/regions.csv`` (facts from Cloud Carbon Footprint,
Apache-2.0, and the Green Software Foundation's real-time-cloud metadata; see the file's header).
A user CSV with the same columns (any subset, ``aws_region`` required) overrides or extends it:
a non-empty cell replaces the built-in value, an empty cell keeps it, and a new ``aws_region``
adds a row. The override comes from ``load_catalog(path)`` or, when no path is given, from the
file named by the environment variable ``CARBON_AWARE_REGION_CATALOG``. Lines starting with ``#``
are comments. On top of both, ``CARBON_AWARE_REGION_ZONES`` (a JSON object, AWS region ->
Electricity Maps zone; the module's ``region_zones`` input) replaces single zones; each zone must be
one the catalog or the built-in profiles know.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from functools import cache
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType

from carbon_aware.engine.signal_type import SignalError

ENV_VAR = "CARBON_AWARE_REGION_CATALOG"
ZONES_ENV_VAR = "CARBON_AWARE_REGION_ZONES"
COLUMNS = (
    "aws_region",
    "electricitymaps_zone",
    "watttime_region",
    "static_gco2e_per_kwh",
    "location",
    "static_source",
    "zone_source",
)
# Cloud Carbon Footprint's factor for a region it does not know (gCO2e/kWh).
UNKNOWN_REGION_FACTOR = 392.78
UNKNOWN_REGION_SOURCE = "ccf-unknown-region-fallback"
OVERRIDE_SOURCE = "user-override"
# Shaped like an AWS region code (us-east-1, us-gov-west-1, eu-central-2, ...).
_AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$")


class CatalogError(SignalError):
    """A catalog file is malformed (a ``ValueError``; the CLI reports it as bad input)."""


class UnknownRegionError(CatalogError):
    """A region (or zone) key that neither the catalog nor the built-in profiles know."""

    def __init__(self, key: str, message: str | None = None) -> None:
        self.key = key
        super().__init__(message or f"unknown region {key!r}: not in the region catalog")


@dataclass(frozen=True)
class RegionInfo:
    """One catalog row. Empty cells are ``None``; the static factor always has a value."""

    aws_region: str
    electricitymaps_zone: str | None = None
    watttime_region: str | None = None
    static_gco2e_per_kwh: float = UNKNOWN_REGION_FACTOR
    location: str | None = None
    static_source: str | None = UNKNOWN_REGION_SOURCE
    zone_source: str | None = None

    def to_dict(self) -> dict[str, str | float | None]:
        """The row as a dict, in column order."""
        return asdict(self)


@dataclass(frozen=True)
class Catalog:
    """Region rows keyed by AWS region code, plus the files they were read from."""

    rows: Mapping[str, RegionInfo]
    origins: tuple[str, ...] = ("built-in",)

    def get(self, region: str) -> RegionInfo:
        """The row of an AWS region; :class:`UnknownRegionError` if it is not in the catalog."""
        try:
            return self.rows[region]
        except KeyError:
            raise UnknownRegionError(region) from None

    def zone_for(self, key: str) -> str | None:
        """The Electricity Maps zone of an AWS region (``None`` if none is known).

        A key that is not a catalog region is taken to be a zone id and returned unchanged, unless
        it is shaped like an AWS region code (then it is an :class:`UnknownRegionError`).
        """
        if key in self.rows:
            return self.rows[key].electricitymaps_zone
        if _AWS_REGION.match(key):
            raise UnknownRegionError(key)
        return key

    def regions(self) -> list[str]:
        """AWS region codes, sorted."""
        return sorted(self.rows)

    def __contains__(self, region: object) -> bool:
        return region in self.rows

    def __iter__(self) -> Iterator[RegionInfo]:
        return (self.rows[r] for r in self.regions())

    def __len__(self) -> int:
        return len(self.rows)


def load_catalog(override_path: str | Path | None = None) -> Catalog:
    """The built-in catalog, overridden or extended by ``override_path`` or the env variable.

    An unreadable explicit path raises :class:`OSError`; an unreadable file named by the
    environment variable, or any malformed file, raises :class:`CatalogError`.
    """
    rows = dict(_builtin_rows())
    origins = ["built-in"]
    if override_path is None and os.environ.get(ENV_VAR, "").strip():
        env_path = Path(os.environ[ENV_VAR].strip())
        try:
            text = env_path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CatalogError(f"{ENV_VAR}={env_path}: cannot read: {exc.strerror}") from None
        _apply_override(rows, text, str(env_path))
        origins.append(str(env_path))
    elif override_path is not None:
        path = Path(override_path)
        _apply_override(rows, path.read_text(encoding="utf-8-sig"), str(path))
        origins.append(str(path))
    zones = os.environ.get(ZONES_ENV_VAR, "").strip()
    if zones:
        _apply_zones(rows, _parse_zones(zones))
        origins.append(ZONES_ENV_VAR)
    return Catalog(MappingProxyType(rows), tuple(origins))


def _parse_zones(text: str) -> dict[str, str]:
    """``{aws_region: zone}`` from the JSON of :data:`ZONES_ENV_VAR`; CatalogError naming it."""
    try:
        zones = json.loads(text)
    except json.JSONDecodeError:
        raise CatalogError(f"{ZONES_ENV_VAR} must be a JSON object, got {text!r}") from None
    if not isinstance(zones, dict):
        raise CatalogError(f"{ZONES_ENV_VAR} must be a JSON object of AWS region -> zone")
    for region, zone in zones.items():
        if not _AWS_REGION.match(region):
            raise CatalogError(f"{ZONES_ENV_VAR}: {region!r} is not an AWS region code")
        if not isinstance(zone, str) or not zone.strip():
            raise CatalogError(f"{ZONES_ENV_VAR}: the zone of {region} must be a zone id")
    return {region: zone.strip() for region, zone in zones.items()}


def _apply_zones(rows: dict[str, RegionInfo], zones: Mapping[str, str]) -> None:
    known = _profile_zones() | {r.electricitymaps_zone for r in rows.values()}
    for region, zone in zones.items():
        if zone not in known:
            raise UnknownRegionError(
                zone,
                f"{ZONES_ENV_VAR}: zone {zone!r} of {region} is unknown: "
                "neither a catalog zone nor a zone with a built-in profile",
            )
        base = rows.get(region) or RegionInfo(region)
        rows[region] = replace(base, electricitymaps_zone=zone, zone_source=OVERRIDE_SOURCE)


@cache
def _profile_zones() -> frozenset[str]:
    """Zone ids of the built-in profiles (read here without the numpy-backed profile module)."""
    text = files("carbon_aware").joinpath("data/profiles.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)["zones"])


@cache
def _builtin_rows() -> Mapping[str, RegionInfo]:
    text = files("carbon_aware").joinpath("data/regions.csv").read_text(encoding="utf-8")
    header, records = _parse(text, "built-in regions.csv")
    if set(header) != set(COLUMNS):
        raise CatalogError(f"built-in regions.csv: columns {header} differ from {list(COLUMNS)}")
    rows: dict[str, RegionInfo] = {}
    for line, cells in records:
        rows[cells["aws_region"]] = _merge(None, cells, "built-in regions.csv", line, None)
    return MappingProxyType(rows)


def _apply_override(rows: dict[str, RegionInfo], text: str, origin: str) -> None:
    _, records = _parse(text, origin)
    for line, cells in records:
        region = cells["aws_region"]
        rows[region] = _merge(rows.get(region), cells, origin, line, OVERRIDE_SOURCE)


def _parse(text: str, origin: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and ``(line number, {column: cell})`` records; comments and blank lines skipped."""
    header: list[str] | None = None
    records: list[tuple[int, dict[str, str]]] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            cells = [c.strip() for c in next(csv.reader([raw], strict=True))]
        except csv.Error as exc:
            raise CatalogError(f"{origin}: line {number}: malformed CSV: {exc}") from None
        if header is None:
            header = _check_header(cells, origin, number)
            continue
        if len(cells) != len(header):
            raise CatalogError(
                f"{origin}: line {number}: expected {len(header)} cells "
                f"({', '.join(header)}), got {len(cells)}"
            )
        record = dict(zip(header, cells, strict=True))
        region = record["aws_region"]
        if not region:
            raise CatalogError(f"{origin}: line {number}: empty aws_region")
        if region in seen:
            first = seen[region]
            raise CatalogError(
                f"{origin}: line {number}: region {region!r} repeated (first on line {first})"
            )
        seen[region] = number
        records.append((number, record))
    if header is None:
        raise CatalogError(f"{origin}: no header row (expected columns: {', '.join(COLUMNS)})")
    return header, records


def _check_header(cells: list[str], origin: str, number: int) -> list[str]:
    for name in cells:
        if name not in COLUMNS:
            raise CatalogError(
                f"{origin}: line {number}: unknown column {name!r} "
                f"(known columns: {', '.join(COLUMNS)})"
            )
    duplicated = sorted({name for name in cells if cells.count(name) > 1})
    if duplicated:
        raise CatalogError(f"{origin}: line {number}: repeated column {duplicated[0]!r}")
    if "aws_region" not in cells:
        raise CatalogError(f"{origin}: line {number}: the header needs an aws_region column")
    return cells


def _merge(
    base: RegionInfo | None,
    cells: Mapping[str, str],
    origin: str,
    line: int,
    default_source: str | None,
) -> RegionInfo:
    """``base`` with the non-empty cells applied (a new row when ``base`` is None)."""
    region = cells["aws_region"]
    given = {k: v for k, v in cells.items() if v and k != "aws_region"}
    changes: dict[str, str | float] = dict(given)
    if "static_gco2e_per_kwh" in given:
        changes["static_gco2e_per_kwh"] = _factor(given["static_gco2e_per_kwh"], origin, line)
        if default_source and "static_source" not in given:
            changes["static_source"] = default_source
    if default_source and "electricitymaps_zone" in given and "zone_source" not in given:
        changes["zone_source"] = default_source
    return replace(base or RegionInfo(region), **changes)


def _factor(cell: str, origin: str, line: int) -> float:
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise CatalogError(
            f"{origin}: line {line}: static_gco2e_per_kwh {cell!r} is not a non-negative number"
        )
    return value
