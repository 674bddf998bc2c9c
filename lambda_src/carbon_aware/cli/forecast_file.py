"""Reading and writing issued-forecast files for ``backtest --forecast-file``.

Three shapes, told apart by content:

- long CSV, ``issued_at,datetime,region,value`` (any column order, more columns ignored): one row
  per forecast point; rows sharing ``region`` and ``issued_at`` form one forecast. Values are in the
  signals' unit (gCO2e/kWh). This is what ``signals backfill --forecasts`` writes.
- WattTime v3 ``/v3/forecast/historical`` JSON: ``{"data": [{"generated_at", "forecast":
  [{"point_time", "value"}]}], "meta": {"region", "signal_type", "units"}}``; the region key is
  ``meta.region``, values are converted from ``meta.units`` (lbs/MWh x 0.4536) and are marginal.
- Electricity Maps forecast JSON (the documented ``carbon-intensity/forecast`` shape, one object or
  a JSON array of them, or ``{"data": [...]}``): ``{"zone", "updatedAt", "forecast":
  [{"datetime", "carbonIntensity"}]}``; the region key is ``zone``, the issue time ``updatedAt``,
  values are average gCO2e/kWh.

Errors name the file and the line (CSV) or the JSON path of the bad field.
"""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from carbon_aware.cli.inputs import InputError, read_json
from carbon_aware.engine.issued import IssuedForecast
from carbon_aware.engine.signal import Signal, SignalError, SignalType
from carbon_aware.engine.timeutil import iso, parse_seconds

LONG_COLUMNS = ("issued_at", "datetime", "region", "value")
# gCO2/kWh per unit of a WattTime answer (1 lb/MWh = 453.6 g / 1000 kWh).
WATTTIME_UNITS = {"lbs_co2_per_mwh": 0.4536, "kg_co2_per_mwh": 1.0, "g_co2_per_kwh": 1.0}

# (region, issued_at) -> points (datetime, value, where) of one forecast; ``where`` is a CSV line
# number or a JSON path.
Points = dict[tuple[str, float], list[tuple[float, float, int | str]]]


def read_forecast_files(
    paths: Sequence[Path], signal_type: SignalType | str
) -> list[IssuedForecast]:
    """Every issued forecast in ``paths`` (each file in any of the three shapes)."""
    forecasts: list[IssuedForecast] = []
    seen: dict[tuple[str, float], Path] = {}
    for path in paths:
        for forecast in read_forecast_file(path, signal_type):
            key = (forecast.region, forecast.issued_at)
            if key in seen:
                raise InputError(
                    f"{path}: {forecast.region}: a forecast issued at {iso(key[1])} is also in "
                    f"{seen[key]}"
                )
            seen[key] = path
            forecasts.append(forecast)
    return forecasts


def read_forecast_file(path: Path, signal_type: SignalType | str) -> list[IssuedForecast]:
    """The issued forecasts of one file; :class:`InputError` naming the bad line or field."""
    expected = SignalType(signal_type)
    try:
        with path.open("rb") as handle:
            head = handle.read(64).lstrip()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if head[:1] in (b"{", b"["):
        points, kind = _json_points(path, read_json(path))
        if kind is not expected:
            raise InputError(
                f"{path}: these forecasts are {kind.value} intensities but the signals are "
                f"{expected.value} (--signal-type {kind.value})"
            )
    else:
        points = _csv_points(path)
    return [_forecast(path, key, items, expected) for key, items in points.items()]


def _csv_points(path: Path) -> Points:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = [h.strip() for h in next(rows, [])]
            missing = [c for c in LONG_COLUMNS if c not in header]
            if missing:
                raise InputError(
                    f"{path}:1: header must contain {','.join(LONG_COLUMNS)} "
                    f"(missing {', '.join(missing)})"
                )
            col = [header.index(c) for c in LONG_COLUMNS]
            body = list(rows)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a UTF-8 CSV file: {exc}") from None
    fast = _csv_columns(path, body, col, len(header))
    return fast if fast is not None else _csv_rows(path, body, col, len(header))


def _csv_columns(path: Path, body: list[list[str]], col: list[int], width: int) -> Points | None:
    """:func:`_csv_rows` done column by column with numpy (a year of forecasts is millions of
    rows), or None when some row or cell is wrong (the row-by-row reading then names it)."""
    if not body or any(len(row) != width for row in body):
        return None
    issued_text, when_text, region_text, value_text = ([row[c] for row in body] for c in col)
    try:
        parsed = {t: parse_seconds(t) for t in {*issued_text, *when_text}}
        values = np.array(value_text, dtype=np.float64)
    except ValueError:
        return None
    regions = [r.strip() for r in region_text]
    if not (np.isfinite(values).all() and (values >= 0).all()) or not all(regions):
        return None
    issued = np.array([parsed[t] for t in issued_text])
    when = np.array([parsed[t] for t in when_text])
    names, region_index = np.unique(np.array(regions), return_inverse=True)
    order = np.lexsort((when, issued, region_index))
    issued, when, region_index, values = (a[order] for a in (issued, when, region_index, values))
    cut = np.flatnonzero((np.diff(issued) != 0) | (np.diff(region_index) != 0)) + 1
    points: Points = {}
    for lo, hi in zip(np.r_[0, cut].tolist(), np.r_[cut, issued.size].tolist(), strict=True):
        key = (str(names[region_index[lo]]), float(issued[lo]))
        points[key] = list(
            zip(
                when[lo:hi].tolist(),
                values[lo:hi].tolist(),
                (order[lo:hi] + 2).tolist(),
                strict=True,
            )
        )
    return points


def _csv_rows(path: Path, rows: Iterable[list[str]], col: list[int], width: int) -> Points:
    points: Points = defaultdict(list)
    # Issue times and forecast instants repeat across rows: each distinct text is parsed once.
    parsed: dict[str, float] = {}
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            raise InputError(f"{path}:{line}: expected {width} columns, found {len(row)}")
        issued_text, when_text, region, value_text = (row[c] for c in col)
        issued = parsed.get(issued_text)
        if issued is None:
            issued = parsed[issued_text] = _seconds(
                f"{path}:{line}", "column issued_at", issued_text
            )
        when = parsed.get(when_text)
        if when is None:
            when = parsed[when_text] = _seconds(f"{path}:{line}", "column datetime", when_text)
        region = region.strip()
        if not region:
            raise InputError(f"{path}:{line}: column region: empty")
        value = _value(f"{path}:{line}", "column value", value_text)
        points[(region, issued)].append((when, value, line))
    if not points:
        raise InputError(f"{path}: no forecast rows")
    return points


def _json_points(path: Path, body: object) -> tuple[Points, SignalType]:
    if isinstance(body, dict) and isinstance(body.get("meta"), dict):
        return _watttime_points(path, body), SignalType.MARGINAL
    items = body.get("data") if isinstance(body, dict) and "data" in body else body
    items = items if isinstance(items, list) else [items]
    points: Points = defaultdict(list)
    for i, item in enumerate(items):
        where = f"{path}: [{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{where}: must be an Electricity Maps forecast object")
        zone = _field(item, "zone", str, where)
        issued = _seconds(where, "updatedAt", _field(item, "updatedAt", str, where))
        rows = _field(item, "forecast", list, where)
        for k, row in enumerate(rows):
            at = f"{where}.forecast[{k}]"
            if not isinstance(row, dict):
                raise InputError(f"{at}: must be an object with datetime and carbonIntensity")
            when = _seconds(at, "datetime", _field(row, "datetime", str, at))
            value = _value(at, "carbonIntensity", row.get("carbonIntensity"))
            points[(zone, issued)].append((when, value, at))
    if not points:
        raise InputError(f"{path}: no forecasts")
    return points, SignalType.AVERAGE


def _watttime_points(path: Path, body: dict[str, Any]) -> Points:
    meta = body["meta"]
    where = f"{path}: meta"
    region = _field(meta, "region", str, where)
    signal = meta.get("signal_type", "co2_moer")
    if signal != "co2_moer":
        raise InputError(f"{where}.signal_type: expected co2_moer, got {signal!r}")
    units = meta.get("units")
    if units not in WATTTIME_UNITS:
        raise InputError(f"{where}.units: unknown units {units!r} (expected lbs_co2_per_mwh)")
    scale = WATTTIME_UNITS[units]
    points: Points = defaultdict(list)
    for i, item in enumerate(_field(body, "data", list, f"{path}:")):
        at = f"{path}: data[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{at}: must be an object with generated_at and forecast")
        issued = _seconds(at, "generated_at", _field(item, "generated_at", str, at))
        for k, row in enumerate(_field(item, "forecast", list, at)):
            here = f"{at}.forecast[{k}]"
            if not isinstance(row, dict):
                raise InputError(f"{here}: must be an object with point_time and value")
            when = _seconds(here, "point_time", _field(row, "point_time", str, here))
            value = _value(here, "value", row.get("value")) * scale
            points[(region, issued)].append((when, value, here))
    if not points:
        raise InputError(f"{path}: data: no forecasts")
    return points


def _forecast(
    path: Path,
    key: tuple[str, float],
    items: list[tuple[float, float, int | str]],
    signal_type: SignalType,
) -> IssuedForecast:
    region, issued = key
    items.sort(key=lambda p: p[0])
    for a, b in itertools.pairwise(items):
        if a[0] == b[0]:
            where = f"{path}:{b[2]}" if isinstance(b[2], int) else b[2]
            raise InputError(
                f"{where}: {region}: forecast issued at {iso(issued)} has {iso(a[0])} twice"
            )
    times = np.array([p[0] for p in items])
    values = np.array([p[1] for p in items])
    try:
        signal = Signal.from_points(
            region, times, values, source=f"file:{path.name}", signal_type=signal_type
        )
    except SignalError as exc:
        raise InputError(f"{path}: forecast issued at {iso(issued)}: {exc}") from None
    return IssuedForecast(region, issued, signal)


def _field(body: dict[str, Any], name: str, kind: type, where: str) -> Any:
    value = body.get(name)
    if not isinstance(value, kind):
        raise InputError(f"{where}: field {name}: missing or not a {kind.__name__}")
    return value


def _seconds(where: str, name: str, text: object) -> float:
    try:
        return parse_seconds(str(text))
    except ValueError:
        raise InputError(f"{where}: {name}: not an ISO-8601 datetime: {text!r}") from None


def _value(where: str, name: str, raw: object) -> float:
    if isinstance(raw, bool):
        raise InputError(f"{where}: {name}: not a number: {raw!r}")
    try:
        value = float(raw.strip() if isinstance(raw, str) else raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{where}: {name}: not a number: {raw!r}") from None
    if not np.isfinite(value) or value < 0:
        raise InputError(f"{where}: {name}: must be a finite number >= 0, got {raw!r}")
    return value


def write_long_csv(path: Path, forecasts: Iterable[IssuedForecast]) -> int:
    """Write issued forecasts as the long CSV; returns the rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(LONG_COLUMNS)
        for f in sorted(forecasts, key=lambda f: (f.region, f.issued_at)):
            issued = iso(f.issued_at)
            for t, v in zip(f.signal.times.tolist(), f.signal.values.tolist(), strict=True):
                out.writerow((issued, iso(t), f.region, f"{v:.6g}"))
                count += 1
    return count
