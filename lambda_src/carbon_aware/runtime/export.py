"""Export of table records to S3 as JSON lines, from DynamoDB Streams, before TTL deletes them.

One line per record: the plain JSON of the item (DynamoDB types deserialised, numbers as JSON
numbers) plus ``_exported_at`` and ``_event``:

- ``final``: an INSERT or MODIFY of a record that is final (exported when it becomes final, and
  again when a final record changes; readers keep the latest per key);
- ``expired``: a REMOVE of a record by the Time to Live process (``userIdentity`` is the service
  principal ``dynamodb.amazonaws.com``), exported from the old image.

What a record is, and when it is final, depends on the table (:data:`RULES`, by the table name's
last ``-`` part; any other table is read like ``workloads``):

- ``workloads``: every item; final when its ``status`` is final;
- ``fleets``: decisions only (sort key ``decision#…``, not a fleet's state item), final when
  written;
- ``migrations``: migrations only (key ``migration#…``, not lock or policy-state items), final in
  a terminal ``state`` (completed, rolled_back, failed, cancelled).

Anything else (live records, other items, removals by a user) is skipped. Lines are grouped per
table and day (of the stream record) into ``<prefix>/<table>/dt=YYYY-MM-DD/<first>-<last>.jsonl``,
named after the batch's first and last sequence numbers so a retried batch overwrites its own
objects; the table name comes from ``eventSourceARN``.
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

from carbon_aware.runtime.fleet.repository import DECISION_PREFIX
from carbon_aware.runtime.migrations import states as migration_states
from carbon_aware.runtime.migrations.repository import MIGRATION_PREFIX
from carbon_aware.runtime.observability import logger
from carbon_aware.runtime.states import FINAL
from carbon_aware.runtime.tables import FLEETS_SORT_KEY, MIGRATIONS_KEY

TTL_PRINCIPAL = "dynamodb.amazonaws.com"
FINAL_STATUSES = frozenset(str(s) for s in FINAL)
MIGRATION_FINAL_STATES = frozenset(str(s) for s in migration_states.FINAL)
_DESERIALIZER = TypeDeserializer()


@dataclass(frozen=True)
class Rule:
    """Which items of a table are records (``record_key``: the string attribute and the prefix
    its value starts with; None: every item) and when one is final (``final``: the string
    attribute and its final values; None: when written)."""

    record_key: tuple[str, str] | None
    final: tuple[str, frozenset[str]] | None

    def is_record(self, image: Mapping[str, Any]) -> bool:
        """Whether the item is a record (not a lock, state or policy item)."""
        if self.record_key is None:
            return True
        attribute, prefix = self.record_key
        return str(_string(image, attribute) or "").startswith(prefix)

    def is_final(self, image: Mapping[str, Any]) -> bool:
        """Whether the record is final."""
        if self.final is None:
            return True
        attribute, values = self.final
        return _string(image, attribute) in values


#: Table kind (the table name's last ``-`` part: ``<name>-fleets``) -> its rule.
RULES: dict[str, Rule] = {
    "workloads": Rule(record_key=None, final=("status", FINAL_STATUSES)),
    "fleets": Rule(record_key=(FLEETS_SORT_KEY, DECISION_PREFIX), final=None),
    "migrations": Rule(
        record_key=(MIGRATIONS_KEY, MIGRATION_PREFIX), final=("state", MIGRATION_FINAL_STATES)
    ),
}


def rule_of(table: str) -> Rule:
    """The rule of a table by name; a table of unknown kind is read like ``workloads``."""
    return RULES.get(table.rsplit("-", 1)[-1], RULES["workloads"])


def _string(image: Mapping[str, Any], attribute: str) -> Any:
    """The ``S`` value of an attribute (None when absent); AttributeError when not typed."""
    return image.get(attribute, {}).get("S")


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


def event_of(
    record: Mapping[str, Any], rule: Rule = RULES["workloads"]
) -> tuple[str, Mapping[str, Any]] | None:
    """``("final", new image)``, ``("expired", old image)`` or None (not exported), by the
    ``rule`` of the record's table."""
    change = record.get("dynamodb") or {}
    name = record.get("eventName")
    if name == "REMOVE":
        identity = record.get("userIdentity") or {}
        ttl = identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL
        image = change.get("OldImage")
        if ttl and image is None:
            raise UnreadableStreamRecord("a TTL removal without OldImage (stream view type?)")
        return ("expired", image) if ttl and rule.is_record(image) else None
    if name in ("INSERT", "MODIFY"):
        image = change.get("NewImage")
        if image is None:
            raise UnreadableStreamRecord(f"{name} without NewImage (stream view type?)")
        exported = rule.is_record(image) and rule.is_final(image)
        return ("final", image) if exported else None
    raise UnreadableStreamRecord(f"unknown eventName {name!r}")


def line_of(record: Mapping[str, Any], exported_at: float) -> Line | None:
    """The export line of one stream record; None when it is not exported."""
    table = table_of(record["eventSourceARN"])
    found = event_of(record, rule_of(table))
    if found is None:
        return None
    event, image = found
    change = record["dynamodb"]
    created = float(change.get("ApproximateCreationDateTime", exported_at))
    body = {**item_of(image), "_exported_at": stamp(exported_at), "_event": event}
    return Line(
        table=table,
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
