"""Reading the CLI's input files; errors name the file, the line or field, and the problem.

Signals CSV, either shape:
- wide: ``datetime,<region>,<region>...`` (one column per region);
- long: ``region,datetime,carbon_intensity`` (any column order).
Datetimes are ISO-8601; ``Z`` or an offset is honoured and naive times are UTC. Column names are
region keys: any name is valid (zone ids such as ``DE`` as well as AWS region names).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from carbon_aware.engine import Signal, SignalError, SignalSet, SignalType, Workload, WorkloadError
from carbon_aware.engine.timeutil import iso, parse_seconds

LONG_COLUMNS = {"region", "datetime", "carbon_intensity"}
DEFAULT_MAX_GAP_MINUTES = 180.0


class InputError(ValueError):
    """Bad input file; the message is one line naming the file, the place and the problem."""


def read_signals(
    path: str | Path,
    *,
    signal_type: SignalType | str = SignalType.AVERAGE,
    source: str | None = None,
    max_gap_minutes: float = DEFAULT_MAX_GAP_MINUTES,
) -> SignalSet:
    """Load a wide or long signals CSV into a :class:`SignalSet`."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a UTF-8 CSV file: {exc}") from None
    if len(rows) < 2:
        raise InputError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    reader = _long_points if set(header) >= LONG_COLUMNS else _wide_points
    points = reader(path, header, rows)
    signals = []
    for region, arrays in points.items():
        signals.append(_signal(path, region, arrays, signal_type, source, max_gap_minutes))
    return SignalSet.of(signals)


def _wide_points(path: Path, header: list[str], rows: list[list[str]]) -> dict:
    if not header or header[0].lower() not in ("datetime", "time", "timestamp"):
        raise InputError(
            f"{path}:1: header must be 'datetime,<region>,...' (wide) or contain "
            "'region,datetime,carbon_intensity' (long)"
        )
    regions = header[1:]
    if not regions:
        raise InputError(f"{path}:1: no region columns")
    for name in regions:
        if not name:
            raise InputError(f"{path}:1: empty region column name")
    if len(set(regions)) != len(regions):
        raise InputError(f"{path}:1: duplicate region column")
    numbered = enumerate(rows[1:], start=2)
    data = [(line, row) for line, row in numbered if any(cell.strip() for cell in row)]
    fast = _wide_table(path, len(header), data)
    if fast is not None:
        times, table, lines = fast
        return {region: (times, table[:, k], lines) for k, region in enumerate(regions)}
    points: dict[str, list[tuple[float, float, int]]] = {r: [] for r in regions}
    for line, row in data:
        if len(row) != len(header):
            raise InputError(f"{path}:{line}: expected {len(header)} columns, found {len(row)}")
        when = _when(path, line, row[0])
        for region, cell in zip(regions, row[1:], strict=True):
            points[region].append((when, _intensity(path, line, region, cell), line))
    return {region: _arrays(series) for region, series in points.items()}


def _wide_table(
    path: Path, width: int, data: list[tuple[int, list[str]]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Times, values (row per line) and line numbers of a valid wide body, or None when some
    row or cell is wrong (the row-by-row reading then names the first problem)."""
    if any(len(row) != width for _, row in data):
        return None
    try:
        times = np.array([_when(path, line, row[0]) for line, row in data])
        cells = itertools.chain.from_iterable(row[1:] for _, row in data)
        values = np.fromiter(map(float, cells), dtype=np.float64, count=len(data) * (width - 1))
    except (InputError, ValueError):
        return None
    if not (np.isfinite(values).all() and (values >= 0).all()):
        return None
    lines = np.array([line for line, _ in data])
    return times, values.reshape(len(data), width - 1), lines


def _arrays(series: list[tuple[float, float, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, values and line numbers of a region's points."""
    if not series:
        return np.empty(0), np.empty(0), np.empty(0, dtype=int)
    times, values, lines = zip(*series, strict=True)
    return np.array(times), np.array(values), np.array(lines)


def _long_points(path: Path, header: list[str], rows: list[list[str]]) -> dict:
    col = {name: header.index(name) for name in LONG_COLUMNS}
    points: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path}:{line}: expected {len(header)} columns, found {len(row)}")
        region = row[col["region"]].strip()
        if not region:
            raise InputError(f"{path}:{line}: column region: empty")
        when = _when(path, line, row[col["datetime"]])
        value = _intensity(path, line, "carbon_intensity", row[col["carbon_intensity"]])
        points[region].append((when, value, line))
    return {region: _arrays(series) for region, series in points.items()}


def _when(path: Path, line: int, cell: str) -> float:
    try:
        return parse_seconds(cell)
    except ValueError:
        raise InputError(f"{path}:{line}: column datetime: not ISO-8601: {cell!r}") from None


def _intensity(path: Path, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if not text:
        raise InputError(f"{path}:{line}: column {column}: missing value (gap in the signal)")
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{path}:{line}: column {column}: not a number: {cell!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{path}:{line}: column {column}: must be a finite number >= 0")
    return value


def _signal(
    path: Path,
    region: str,
    points: tuple[np.ndarray, np.ndarray, np.ndarray],
    signal_type: SignalType | str,
    source: str | None,
    max_gap_minutes: float,
) -> Signal:
    times, values, lines = points
    steps = np.diff(times)
    if not (steps > 0).all():  # (files are usually in time order already)
        order = np.lexsort((lines, values, times))  # by time (then value, then line)
        times, values, lines = times[order], values[order], lines[order]
        steps = np.diff(times)
    for i in np.flatnonzero(steps == 0):
        raise InputError(f"{path}:{lines[i + 1]}: {region}: duplicate datetime {iso(times[i])}")
    for i in np.flatnonzero(steps > max_gap_minutes * 60.0):
        raise InputError(
            f"{path}:{lines[i + 1]}: {region}: gap in the signal: nothing between "
            f"{iso(times[i])} and {iso(times[i + 1])} (more than {max_gap_minutes:g} minutes)"
        )
    try:
        return Signal.from_points(
            region,
            times,
            values,
            source=source or f"file:{path.name}",
            signal_type=signal_type,
        )
    except SignalError as exc:
        raise InputError(f"{path}: {exc}") from None


def read_json(path: str | Path) -> object:
    """Parse a JSON file; errors give the line and column."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None


def _job_place(path: str | Path, index: int, item: object) -> str:
    """Where a job is, for an error message: the file, its index and its id when it has one."""
    named = isinstance(item, dict) and isinstance(item.get("id"), str)
    return f"{path}: job {index}" + (f" ({item['id']})" if named else "")


def read_jobs(path: str | Path, known_regions: Sequence[str] | None = None) -> list[Workload]:
    """Load a jobs JSON array (a single object is one job)."""
    data = read_json(path)
    items = data if isinstance(data, list) else [data]
    known = None if known_regions is None else frozenset(known_regions)
    jobs, seen = [], set()
    for i, item in enumerate(items):
        try:
            job = Workload.from_mapping(item)
        except WorkloadError as exc:
            raise InputError(f"{_job_place(path, i, item)}: field {exc}") from None
        if job.id in seen:
            raise InputError(f"{_job_place(path, i, item)}: field id: duplicate id {job.id!r}")
        seen.add(job.id)
        if known is not None and not (job.home_region in known and known.issuperset(job.regions)):
            for region in {job.home_region, *job.regions} - known:
                field = "home_region" if region == job.home_region else "regions"
                raise InputError(
                    f"{_job_place(path, i, item)}: field {field}: unknown region {region!r} "
                    f"(the signals have: {', '.join(sorted(known))})"
                )
        jobs.append(job)
    if not jobs:
        raise InputError(f"{path}: no jobs")
    return jobs
