"""Built-in regional profiles: the last-resort signal and the demo's embedded default.

``carbon_aware/data/profiles.json`` holds, per Electricity Maps zone, the median lifecycle carbon
intensity by month x UTC hour of day (built by ``scripts/build_profiles.py``; derived from
Electricity Maps data, aggregates only). :func:`profile_signal` turns a zone's profile into an
hourly step :class:`~carbon_aware.engine.signal.Signal` (or, numpy-free, an accounting
:class:`~carbon_aware.engine.accounting.Series` via :func:`profile_series`), always flagged
``estimated``. A region
whose zone has no profile gets its catalog static factor as a flat series instead.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from carbon_aware.engine.accounting import Series
from carbon_aware.engine.signal_type import SECONDS_PER_HOUR, SignalError, SignalType
from carbon_aware.signals.catalog import Catalog, UnknownRegionError, load_catalog

if TYPE_CHECKING:
    from carbon_aware.engine.signal import Signal

PROFILE_SOURCE = "profile"
STATIC_SOURCE = "static-factor"
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class ZoneProfile:
    """One zone's aggregates: ``month_hour[m, h]`` for month m (0 = January), UTC hour h."""

    zone: str
    month_hour: tuple[tuple[float, ...], ...]
    annual_mean: float
    years: tuple[int, ...]
    source: str
    flat: bool
    notes: tuple[str, ...]


def data_document(name: str, version: int) -> dict[str, Any]:
    """A JSON document shipped in ``carbon_aware/data``, checked for its format version."""
    doc = json.loads(files("carbon_aware").joinpath(f"data/{name}").read_text(encoding="utf-8"))
    if doc.get("version") != version:
        raise SignalError(f"{name}: unsupported version {doc.get('version')!r}")
    return doc


@cache
def _document() -> dict[str, Any]:
    return data_document("profiles.json", FORMAT_VERSION)


def profile_zones() -> list[str]:
    """Zone ids that have a built-in profile, sorted."""
    return sorted(_document()["zones"])


def profile_attribution() -> str:
    """The attribution to show wherever profile values are used."""
    return str(_document()["attribution"])


def has_profile(zone: str) -> bool:
    """Whether ``zone`` has a built-in profile."""
    return zone in _document()["zones"]


@cache
def zone_profile(zone: str) -> ZoneProfile:
    """The built-in profile of a zone id; :class:`UnknownRegionError` if there is none."""
    entry = _document()["zones"].get(zone)
    if entry is None:
        raise UnknownRegionError(zone, f"no built-in profile for zone {zone!r}")
    table = tuple(tuple(float(v) for v in row) for row in entry["month_hour"])
    if len(table) != 12 or any(len(row) != 24 for row in table):
        raise SignalError(f"profiles.json: zone {zone!r} is not a 12 x 24 table")
    return ZoneProfile(
        zone=zone,
        month_hour=table,
        annual_mean=float(entry["annual_mean"]),
        years=tuple(entry["years"]),
        source=str(entry["source"]),
        flat=bool(entry["flat"]),
        notes=tuple(entry.get("notes", ())),
    )


def resolve_profile_key(key: str, catalog: Catalog | None = None) -> tuple[str | None, float]:
    """``(zone with a profile, static factor)`` for a region or zone key.

    The zone is ``None`` when the key is a catalog region whose zone has no profile; the caller
    then uses the static factor (NaN when the key is a zone id, which has none). A key that is
    neither a region nor a profiled zone is an :class:`UnknownRegionError`.
    """
    catalog = catalog if catalog is not None else load_catalog()
    if key in catalog:
        info = catalog.get(key)
        zone = info.electricitymaps_zone
        return (zone if zone and has_profile(zone) else None), info.static_gco2e_per_kwh
    if has_profile(key):
        return key, math.nan
    raise UnknownRegionError(
        key,
        f"unknown region or zone {key!r}: not an AWS region in the catalog "
        "and no built-in profile for a zone of that name",
    )


def profile_signal(
    key: str,
    start: float,
    end: float,
    *,
    step: float = SECONDS_PER_HOUR,
    catalog: Catalog | None = None,
) -> Signal:
    """:func:`profile_series` as a numpy :class:`~carbon_aware.engine.signal.Signal`."""
    from carbon_aware.engine.signal import Signal

    return Signal.of_series(profile_series(key, start, end, step=step, catalog=catalog))


def profile_series(
    key: str,
    start: float,
    end: float,
    *,
    step: float = SECONDS_PER_HOUR,
    catalog: Catalog | None = None,
) -> Series:
    """An estimated average-intensity series for ``[start, end)`` from the built-in profiles.

    ``key`` is an AWS region (mapped to its zone through the catalog) or a zone id; the series'
    region is ``key``. Points fall on UTC multiples of ``step`` (which must divide an hour), the
    first at ``start``; each takes the profile value of its month and UTC hour. A region whose zone
    has no profile gets a flat series at its static factor (``source="static-factor"``).
    """
    zone, factor = resolve_profile_key(key, catalog)
    times = _grid(key, start, end, step)
    if zone is not None:
        table = zone_profile(zone).month_hour
        values = [table[_month(t)][(math.floor(t) // 3600) % 24] for t in times]
        source = PROFILE_SOURCE
    else:
        values = [factor] * len(times)
        source = STATIC_SOURCE
    return Series.from_points(
        key,
        times,
        values,
        end=end,
        source=source,
        signal_type=SignalType.AVERAGE,
        estimated=True,
    )


def _month(t: float) -> int:
    """Month index (0 = January) of the UTC instant ``t``."""
    return datetime.fromtimestamp(math.floor(t), UTC).month - 1


def _grid(key: str, start: float, end: float, step: float) -> list[float]:
    """``start``, then every UTC multiple of ``step`` inside ``(start, end)``."""
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        raise SignalError(f"{key}: profile interval needs finite start < end, got [{start}, {end})")
    if not (step > 0 and math.isfinite(step) and (SECONDS_PER_HOUR / step).is_integer()):
        raise SignalError(f"{key}: profile step must divide one hour (3600 s), got {step}")
    first = (math.floor(start / step) + 1) * step
    count = max(0, math.ceil((end - first) / step))
    grid = (first + step * i for i in range(count))
    return [float(start), *(t for t in grid if t < end)]
