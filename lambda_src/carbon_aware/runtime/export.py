"""Export of table records to S3 as JSON lines, from DynamoDB Streams, before TTL deletes them.

One line per record: the plain JSON of the item (DynamoDB types deserialised, numbers as JSON
numbers) plus ``_exported_at`` and ``_event``:

- ``final``: an INSERT or MODIFY whose new image has a final ``status`` (exported when it becomes
  final, and again when a final record changes; readers keep the latest per key);
- ``expired``: a REMOVE by the Time to Live process (``userIdentity`` is the service principal
  ``dynamodb.amazonaws.com``), exported from the old image.

Anything else (live records, removals by a user) is skipped. Lines are grouped per table and day
(of the stream record) into ``<prefix>/<table>/dt=YYYY-MM-DD/<first>-<last>.jsonl``, named after
the batch's first and last sequence numbers so a retried batch overwrites its own objects. Works
for any table (the key schema does not matter); the table name comes from ``eventSourceARN``.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer

from carbon_aware.runtime.observability import logger
from carbon_aware.runtime.states import FINAL

TTL_PRINCIPAL = "dynamodb.amazonaws.com"
FINAL_STATUSES = frozenset(str(s) for s in FINAL)
_DESERIALIZER = TypeDeserializer()


class UnreadableStreamRecord(ValueError):
    """A stream record without the fields an export line needs."""


@dataclass(frozen=True)
class Line:
    """One exported record: its table, its day partition, its stream position and its JSON."""

    table: str
    day: str
    sequence: str
    text: str


@dataclass
class Batch:
    """The lines of one invocation, and counts of what happened to each record."""

    lines: list[Line] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)

    def objects(self, prefix: str) -> dict[str, str]:
        """Object key -> body: one JSON-lines object per table and day."""
        groups: dict[tuple[str, str], list[Line]] = defaultdict(list)
        for line in self.lines:
            groups[(line.table, line.day)].append(line)
        objects = {}
        for (table, day), lines in sorted(groups.items()):
            name = f"{lines[0].sequence}-{lines[-1].sequence}.jsonl"
            objects[f"{prefix}/{table}/dt={day}/{name}"] = "".join(f"{x.text}\n" for x in lines)
        return objects


def plain(value: Any) -> Any:
    """A deserialised DynamoDB value as JSON-ready Python: Decimals as int or float, sets as
    sorted lists, binary as base64 text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Binary | bytes | bytearray):
        return b64encode(bytes(value.value if isinstance(value, Binary) else value)).decode()
    return value


def item_of(image: Mapping[str, Any]) -> dict[str, Any]:
    """A stream image (``{"attr": {"S": ...}}``) as plain JSON-ready values."""
    return {k: plain(_DESERIALIZER.deserialize(v)) for k, v in image.items()}


def stamp(seconds: float) -> str:
    """ISO-8601 UTC to the millisecond (``_exported_at``; readers keep the latest per key)."""
    text = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def table_of(source_arn: str) -> str:
    """The table name of a stream ARN (``arn:…:table/<name>/stream/<label>``)."""
    _, sep, rest = source_arn.partition(":table/")
    name = rest.split("/", 1)[0]
    if not sep or not name:
        raise UnreadableStreamRecord(f"eventSourceARN {source_arn!r} names no table")
    return name


def event_of(record: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """``("final", new image)``, ``("expired", old image)`` or None (not exported)."""
    change = record.get("dynamodb") or {}
    name = record.get("eventName")
    if name == "REMOVE":
        identity = record.get("userIdentity") or {}
        ttl = identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL
        image = change.get("OldImage")
        if ttl and image is None:
            raise UnreadableStreamRecord("a TTL removal without OldImage (stream view type?)")
        return ("expired", image) if ttl else None
    if name in ("INSERT", "MODIFY"):
        image = change.get("NewImage")
        if image is None:
            raise UnreadableStreamRecord(f"{name} without NewImage (stream view type?)")
        status = image.get("status", {}).get("S")
        return ("final", image) if status in FINAL_STATUSES else None
    raise UnreadableStreamRecord(f"unknown eventName {name!r}")


def line_of(record: Mapping[str, Any], exported_at: float) -> Line | None:
    """The export line of one stream record; None when it is not exported."""
    found = event_of(record)
    if found is None:
        return None
    event, image = found
    change = record["dynamodb"]
    created = float(change.get("ApproximateCreationDateTime", exported_at))
    body = {**item_of(image), "_exported_at": stamp(exported_at), "_event": event}
    return Line(
        table=table_of(record["eventSourceARN"]),
        day=datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d"),
        sequence=str(change["SequenceNumber"]),
        text=json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False),
    )


def collect(records: Iterable[Mapping[str, Any]], exported_at: float) -> Batch:
    """The lines of a stream batch. A record that cannot be read is counted (``unreadable``)
    and skipped, never stopping the others."""
    batch = Batch()
    for record in records:
        try:
            line = line_of(record, exported_at)
        except (KeyError, TypeError, ValueError, AttributeError):
            batch.counts["unreadable"] += 1
            logger.exception("export: unreadable stream record", extra={"event_id": _id(record)})
            continue
        if line is None:
            batch.counts["skipped"] += 1
        else:
            batch.lines.append(line)
            batch.counts["exported"] += 1
    return batch


def _id(record: Any) -> Any:
    return record.get("eventID") if isinstance(record, Mapping) else None


def write(batch: Batch, s3: Any, bucket: str, prefix: str) -> list[str]:
    """Put the batch's objects; returns their keys. An S3 error raises: the mapping retries."""
    keys = []
    for key, body in batch.objects(prefix).items():
        s3.put_object(
            Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/x-ndjson"
        )
        keys.append(key)
    return keys
