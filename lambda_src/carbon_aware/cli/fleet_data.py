"""Simulation inputs for a fleet from the development data directory (``../shared/data``).

Nothing here is copied into the product: the files are read where they are. Per region set:

- **Carbon**: the region's Electricity Maps zone (``aws/region_zone_map.csv``, overridable), hourly
  lifecycle intensity. The 16-zone file (2021-2023) when every zone is in it: the year simulated,
  earlier years as forecaster history, the previous year's means for the static choice. Otherwise
  the 123-zone file, 2022 only: its first ``WARMUP_DAYS`` days are forecaster history and the
  static allocation is chosen on the simulated period itself (in hindsight, the best any static
  choice could do). Renewable shares from the 16-zone renewable file when the 16-zone file is used.
- **Spot price level**: per region, the cheapest of the fleet's instance types in the 2022-05-31
  snapshot (per type the median over AZs of each AZ's last Linux/UNIX price).
- **Spot price movement**: the 2019-2020 p3.2xlarge history of the same region (or, for regions it
  lacks, of the history region at the same position in the sorted list), hourly median over AZs,
  divided by its mean and repeated over the year.
- **Placement score proxy**: from the Spot Advisor interruption bucket of the region's least
  interrupted fleet type: ``10 - 2 * bucket`` (bucket 0, under 5 %/month, scores 10; 4 scores 2).
- **Energy**: the first type's vCPUs and memory (Spot Advisor) through the CCF power model.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from carbon_aware.engine.energy import estimate_power_watts
from carbon_aware.engine.timeutil import parse_iso, to_seconds

# The simulator (and the forecaster behind it) loads only when a fleet is simulated: every other
# command's parser is built with this module's defaults.
if TYPE_CHECKING:
    from carbon_aware.engine.fleet_sim import FleetSimInputs

CARBON_16 = "carbon/hourly_2021_2023_16zones_lifecycle.csv"
RENEWABLE_16 = "carbon/hourly_2021_2023_16zones_renewable_pct.csv"
CARBON_123 = "carbon/hourly_2022_123zones_lifecycle.csv"
ZONE_MAP = "aws/region_zone_map.csv"
SPOT_SNAPSHOT = "aws/spot_prices_2022-05-31_snapshot.csv"
SPOT_HISTORY = "aws/spot_price_history_gpu_2019-12_2020-02.csv"
SPOT_HISTORY_TYPE = "p3.2xlarge"
SPOT_ADVISOR = "aws/spot_advisor_2025-06-28.json"
WARMUP_DAYS = 7
HOUR = 3600
DEFAULT_INSTANCE_TYPES = ("m5.xlarge", "m5a.xlarge", "m4.xlarge", "r5.xlarge")
_DIRECTIONS = {
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}


class FleetDataError(ValueError):
    """The data directory lacks what the simulation needs; the message says what."""


@dataclass(frozen=True)
class FleetData:
    """Simulation inputs plus how they were chosen."""

    inputs: FleetSimInputs
    static_carbon: tuple[float, ...]  # per region: the means the static allocation is chosen on
    static_basis: str
    zones: Mapping[str, str]
    carbon_source: str
    prices: Mapping[str, Mapping[str, object]]


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise FleetDataError(f"data file not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


def region_zones(
    data_dir: Path, regions: Sequence[str], overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Each region's Electricity Maps zone (``overrides`` first, then the map's CCF column)."""
    header, rows = _read(data_dir / ZONE_MAP)
    mapped = {row[0]: row[header.index("electricitymaps_zone")] for row in rows}
    zones = {}
    for region in regions:
        zone = (overrides or {}).get(region) or mapped.get(region)
        if not zone:
            raise FleetDataError(f"region {region}: no Electricity Maps zone; pass one as --zone")
        zones[region] = zone
    return zones


def _columns(path: Path, zones: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(hour start times, values (hours, zones)) of a wide CSV; None if a zone is missing."""
    header, rows = _read(path)
    if not set(zones) <= set(header[1:]):
        return None
    index = [header.index(z) for z in zones]
    times = np.array([to_seconds(parse_iso(row[0])) for row in rows])
    values = np.array([[float(row[i]) for i in index] for row in rows])
    return times, values


def _year_start(year: int) -> float:
    return to_seconds(parse_iso(f"{year}-01-01T00:00:00Z"))


def _carbon(
    data_dir: Path, zones: Sequence[str], year: int
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, str, str, np.ndarray | None]:
    """(start, period, history, static means, basis, source, renewable share) for ``year``."""
    start, stop = _year_start(year), _year_start(year + 1)
    wide = _columns(data_dir / CARBON_16, zones)
    if wide is not None:
        times, values = wide
        period = (times >= start) & (times < stop)
        if not period.any():
            raise FleetDataError(f"year {year}: not in {CARBON_16} (2021-2023)")
        previous = (times >= _year_start(year - 1)) & (times < start)
        basis = f"{year - 1} means" if previous.any() else f"{year} means (in hindsight)"
        means = values[previous if previous.any() else period].mean(axis=0)
        renewable = _columns(data_dir / RENEWABLE_16, zones)
        share = None if renewable is None else renewable[1][period] / 100.0
        return start, values[period], values[times < start], means, basis, CARBON_16, share
    wide = _columns(data_dir / CARBON_123, zones)
    if wide is None:
        missing = sorted(set(zones) - set(_read(data_dir / CARBON_123)[0]))
        raise FleetDataError(f"zones {missing} are in neither carbon file")
    if year != 2022:
        raise FleetDataError(
            f"year {year}: zones {list(zones)} have data for 2022 only ({CARBON_123})"
        )
    times, values = wide
    warmup = WARMUP_DAYS * 24
    basis = f"2022-01-{WARMUP_DAYS + 1:02d}..12-31 means (in hindsight: no earlier year)"
    return (
        float(times[warmup]),
        values[warmup:],
        values[:warmup],
        values[warmup:].mean(axis=0),
        basis,
        CARBON_123,
        None,
    )


def _az_region(az_id: str) -> str:
    """``use1-az4`` -> ``us-east-1``, ``apse2-az1`` -> ``ap-southeast-2``."""
    code = az_id.split("-")[0]
    for word, short in sorted(_DIRECTIONS.items(), key=lambda item: -len(item[1])):
        head, _, number = code[2:].partition(short)
        if head == "" and number.isdigit():
            return f"{code[:2]}-{word}-{number}"
    return code


def spot_levels(
    data_dir: Path, regions: Sequence[str], instance_types: Sequence[str]
) -> dict[str, dict[str, object]]:
    """Per region the cheapest fleet type's price: ``{"price": USD/h, "instance_type": ...}``."""
    header, rows = _read(data_dir / SPOT_SNAPSHOT)
    col = {name: header.index(name) for name in header}
    last: dict[tuple[str, str, str], tuple[str, float]] = {}
    wanted = set(instance_types)
    for row in rows:
        if (
            row[col["product_description"]] != "Linux/UNIX"
            or row[col["instance_type"]] not in wanted
        ):
            continue
        az = row[col["az_id"]]
        key = (_az_region(az), row[col["instance_type"]], az)
        when = row[col["timestamp_utc"]]
        if key not in last or when >= last[key][0]:
            last[key] = (when, float(row[col["spot_price_usd_per_hour"]]))
    per_type: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (region, itype, _), (_, price) in last.items():
        per_type[(region, itype)].append(price)
    levels = {}
    for region in regions:
        quotes = {
            t: float(np.median(per_type[(region, t)]))
            for t in instance_types
            if per_type[(region, t)]
        }
        if not quotes:
            raise FleetDataError(
                f"region {region}: none of {list(instance_types)} has a spot price in "
                f"{SPOT_SNAPSHOT}"
            )
        cheapest = min(quotes, key=lambda t: (quotes[t], t))
        levels[region] = {"price": quotes[cheapest], "instance_type": cheapest}
    return levels


def price_movement(data_dir: Path, regions: Sequence[str], hours: int) -> np.ndarray:
    """Relative spot price (mean 1) per hour and region, repeated to ``hours``."""
    header, rows = _read(data_dir / SPOT_HISTORY)
    col = {name: header.index(name) for name in header}
    changes: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in rows:
        if row[col["instance_type"]] == SPOT_HISTORY_TYPE:
            when = to_seconds(parse_iso(row[col["timestamp"]]))
            price = float(row[col["spot_price_usd_per_hour"]])
            changes[row[col["region"]]][row[col["availability_zone"]]].append((when, price))
    first = max(min(t for az in r.values() for t, _ in az) for r in changes.values())
    last = min(max(t for az in r.values() for t, _ in az) for r in changes.values())
    grid = np.arange(math.ceil(first / HOUR), math.floor(last / HOUR)) * HOUR
    relative = {}
    for region, zones in changes.items():
        per_az = []
        for points in zones.values():
            points.sort()
            times = np.array([t for t, _ in points])
            prices = np.array([p for _, p in points])
            at = np.clip(np.searchsorted(times, grid, side="right") - 1, 0, None)
            per_az.append(prices[at])
        median = np.median(np.stack(per_az), axis=0)
        relative[region] = median / median.mean()
    known = sorted(relative)
    out = np.empty((hours, len(regions)))
    for i, region in enumerate(regions):
        series = relative.get(region, relative[known[i % len(known)]])
        out[:, i] = np.resize(series, hours)
    return out


def _advisor(data_dir: Path) -> dict:
    path = data_dir / SPOT_ADVISOR
    if not path.is_file():
        raise FleetDataError(f"data file not found: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def placement_proxy(advisor: Mapping, region: str, instance_types: Sequence[str]) -> int:
    """``10 - 2 * bucket`` of the least interrupted fleet type in the region (Linux)."""
    linux = advisor["spot_advisor"].get(region, {}).get("Linux", {})
    buckets = [linux[t]["r"] for t in instance_types if t in linux]
    if not buckets:
        raise FleetDataError(f"region {region}: no Spot Advisor entry for {list(instance_types)}")
    return 10 - 2 * min(buckets)


def load_fleet_data(
    data_dir: Path,
    regions: Sequence[str],
    year: int,
    *,
    instance_types: Sequence[str] = DEFAULT_INSTANCE_TYPES,
    zone_overrides: Mapping[str, str] | None = None,
) -> FleetData:
    """Everything :mod:`carbon_aware.engine.fleet_sim` needs for ``regions`` over ``year``."""
    from carbon_aware.engine.fleet_sim import FleetSimInputs

    zones = region_zones(data_dir, regions, zone_overrides)
    start, carbon, history, means, basis, source, share = _carbon(
        data_dir, [zones[r] for r in regions], year
    )
    levels = spot_levels(data_dir, regions, instance_types)
    movement = price_movement(data_dir, regions, carbon.shape[0])
    advisor = _advisor(data_dir)
    size = advisor["instance_types"].get(instance_types[0])
    if size is None:
        raise FleetDataError(f"instance type {instance_types[0]}: not in the Spot Advisor data")
    watts = estimate_power_watts(vcpus=size["cores"], memory_gb=size["ram_gb"])
    inputs = FleetSimInputs(
        regions=tuple(regions),
        start=start,
        carbon=carbon,
        spot_price=movement * np.array([levels[r]["price"] for r in regions]),
        placement_score=tuple(placement_proxy(advisor, r, instance_types) for r in regions),
        kwh_per_instance_hour=watts / 1000.0,
        renewable_share=share,
        history=history,
    )
    return FleetData(inputs, tuple(float(m) for m in means), basis, zones, source, levels)
