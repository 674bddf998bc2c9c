"""The record export the reports read: JSON lines under ``<prefix>/<table>/dt=YYYY-MM-DD/``.

Each line is the plain JSON of a DynamoDB item plus ``_exported_at`` (ISO-8601 UTC from the
exporter, POSIX seconds from :func:`write_export`) and
``_event`` (``final`` or ``expired``). The same record can be exported more than once (final,
then expired): readers keep the latest ``_exported_at`` per key. The location is an
``s3://bucket/prefix`` URL or a local directory with the same layout.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from carbon_aware.cli.inputs import InputError
from carbon_aware.engine.timeutil import parse_iso, to_seconds

EXPORTED_AT = "_exported_at"
EVENT = "_event"
PARTITION = "dt="


def read_export(
    location: str | Path,
    table: str,
    since: date,
    key: Callable[[Mapping[str, Any]], str],
) -> tuple[list[dict[str, Any]], int]:
    """Items of ``table`` in partitions from ``since`` on (an expiry lands after the record's
    day), latest export per ``key``; returns them and the count of unreadable lines skipped."""
    latest: dict[str, dict[str, Any]] = {}
    bad = 0
    for line in _lines(str(location), table, since):
        try:
            item = json.loads(line)
            name = key(item)
            exported = _exported_at(item)
        except (ValueError, TypeError, KeyError):
            bad += 1
            continue
        if name not in latest or exported >= _exported_at(latest[name]):
            latest[name] = item
    return list(latest.values()), bad


def _exported_at(item: Mapping[str, Any]) -> float:
    """``_exported_at`` in POSIX seconds: the exporter writes ISO-8601 text, :func:`write_export`
    (the demo) a number."""
    value = item.get(EXPORTED_AT, 0.0)
    return to_seconds(parse_iso(value)) if isinstance(value, str) else float(value)


def _lines(location: str, table: str, since: date) -> Iterator[str]:
    if location.startswith("s3://"):
        yield from _s3_lines(location, table, since)
        return
    root = Path(location) / table
    if not root.is_dir():
        raise InputError(f"--export: no {table}/ folder in {location}")
    for folder in sorted(root.glob(f"{PARTITION}*")):
        if _partition_day(folder.name) >= since:
            for part in sorted(folder.glob("*.jsonl")):
                yield from part.read_text(encoding="utf-8").splitlines()


def _s3_lines(url: str, table: str, since: date) -> Iterator[str]:
    import boto3

    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise InputError(f"--export: {url} names no bucket")
    s3 = boto3.client("s3")
    base = f"{prefix.strip('/')}/{table}/" if prefix.strip("/") else f"{table}/"
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=base, StartAfter=f"{base}{PARTITION}{since.isoformat()}"
    )
    for page in pages:
        for obj in page.get("Contents", []):
            day = obj["Key"][len(base) :].split("/", 1)[0]
            if obj["Key"].endswith(".jsonl") and _partition_day(day) >= since:
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                yield from body.decode("utf-8").splitlines()


def _partition_day(name: str) -> date:
    try:
        return date.fromisoformat(name.removeprefix(PARTITION))
    except ValueError:
        return date.min  # not a partition folder: never in range


def scan_table(table: str, client: Any = None) -> list[dict[str, Any]]:
    """Every item of a live table as plain JSON (a Scan: for reports, never the runtime)."""
    import boto3
    from boto3.dynamodb.types import TypeDeserializer

    client = client or boto3.client("dynamodb")
    deserializer = TypeDeserializer()
    items = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        for raw in page.get("Items", []):
            items.append(plain_json({k: deserializer.deserialize(v) for k, v in raw.items()}))
    return items


def plain_json(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item with DynamoDB Decimals as JSON numbers (int when integral)."""
    return json.loads(json.dumps(item, default=_number))


def _number(value: object) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def write_export(
    items: Iterable[Mapping[str, Any]],
    directory: Path,
    table: str,
    *,
    day_of: Callable[[Mapping[str, Any]], float],
    exported_at: float,
    event: str = "final",
) -> list[Path]:
    """Write ``items`` in the export layout (one part per day of ``day_of``); returns the parts."""
    by_day: dict[str, list[str]] = {}
    for item in items:
        day = datetime.fromtimestamp(day_of(item), UTC).date().isoformat()
        line = {**plain_json(item), EXPORTED_AT: exported_at, EVENT: event}
        by_day.setdefault(day, []).append(json.dumps(line, sort_keys=True))
    parts = []
    for day, lines in sorted(by_day.items()):
        folder = directory / table / f"{PARTITION}{day}"
        folder.mkdir(parents=True, exist_ok=True)
        part = folder / "part-00000.jsonl"
        part.write_text("\n".join(lines) + "\n", encoding="utf-8")
        parts.append(part)
    return parts
