"""The DynamoDB cache of observations and forecasts, one partition per zone and signal type.

Items (``pk = "<signal type>#<zone>"``, e.g. ``average#DE``):

- observation: ``sk = "obs#<ISO time>"``; ``value``, provenance; expires ``observation_ttl``
  after the observed time (default 90 days: what the history forecaster learns from);
- forecast: ``sk = "fc#<ISO issued at>"``; the whole series as compact JSON and its provenance;
  expires ``forecast_ttl`` after issue (default 2 days);
- refresh state: ``sk = "state"``; what the last refresh did (see :mod:`.refresh`).

Access patterns, each one request:

- latest observation: Query ``pk`` and ``sk BETWEEN "obs#" AND "obs#~"``, newest first, Limit 1;
- observations in a range: Query ``pk`` and ``sk BETWEEN "obs#<a>" AND "obs#<b>"``;
- forecast issued at or before T (latest: T = now): Query ``pk`` and
  ``sk BETWEEN "fc#" AND "fc#<T>"``, newest first, Limit 1;
- refresh state of every zone: BatchGetItem; writes: PutItem and BatchWriteItem.

ISO times to the second (``YYYY-MM-DDTHH:MM:SSZ``) sort as text in time order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbon_aware.engine.accounting import Series
from carbon_aware.engine.signal_type import SignalType
from carbon_aware.engine.timeutil import iso, parse_iso
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.targets import partition_key

# Reads return plain series (numpy-free, for the completion); the Signal-returning reads import
# numpy's Signal when called.
if TYPE_CHECKING:
    from carbon_aware.engine.signal import Signal

PK = "pk"
SK = "sk"
TTL_ATTRIBUTE = "expires_at"
OBSERVATION = "obs#"
FORECAST = "fc#"
STATE = "state"
DAY = 86400.0
DEFAULT_OBSERVATION_TTL = 90 * DAY
DEFAULT_FORECAST_TTL = 2 * DAY
BATCH_WRITE = 25
BATCH_GET = 100
BATCH_ATTEMPTS = 6

TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": PK, "AttributeType": "S"},
        {"AttributeName": SK, "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": PK, "KeyType": "HASH"},
        {"AttributeName": SK, "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


@dataclass(frozen=True)
class CachedForecast:
    """A cached forecast and where it came from."""

    signal: Signal
    provenance: Provenance


@dataclass(frozen=True)
class CachedPoint:
    """One cached observation."""

    time: float
    value: float
    provenance: Provenance


def create_table(client: Any, name: str) -> None:
    """Create the table with TTL on (local stacks and tests; Terraform does it in AWS)."""
    client.create_table(TableName=name, **TABLE_DEFINITION)
    client.get_waiter("table_exists").wait(TableName=name)
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


class SignalCache:
    """Repository over the signals table (a boto3 DynamoDB client)."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        observation_ttl: float = DEFAULT_OBSERVATION_TTL,
        forecast_ttl: float = DEFAULT_FORECAST_TTL,
    ) -> None:
        self.client = client
        self.table = table
        self.observation_ttl = observation_ttl
        self.forecast_ttl = forecast_ttl

    def put_observations(self, zone: str, signal: Signal, provenance: Provenance) -> int:
        """Store each point of ``signal`` as an observation; returns the number written."""
        pk = partition_key(zone, signal.signal_type)
        items = [
            {
                PK: _s(pk),
                SK: _s(OBSERVATION + iso(t)),
                "value": _n(v),
                TTL_ATTRIBUTE: _n(int(t + self.observation_ttl)),
                **_provenance(provenance),
            }
            for t, v in zip(signal.times.tolist(), signal.values.tolist(), strict=True)
        ]
        for start in range(0, len(items), BATCH_WRITE):
            self._batch_write(items[start : start + BATCH_WRITE])
        return len(items)

    def put_forecast(
        self, zone: str, signal_type: SignalType, signal: Signal, provenance: Provenance
    ) -> None:
        """Store a forecast issued at ``provenance.fetched_at`` in the zone's partition."""
        series = {"t": signal.times.tolist(), "v": signal.values.tolist(), "end": signal.end}
        self.client.put_item(
            TableName=self.table,
            Item={
                PK: _s(partition_key(zone, signal_type)),
                SK: _s(FORECAST + iso(provenance.fetched_at)),
                "series": _s(json.dumps(series, separators=(",", ":"))),
                TTL_ATTRIBUTE: _n(int(provenance.fetched_at + self.forecast_ttl)),
                **_provenance(provenance),
            },
        )

    def latest_observation(self, zone: str, signal_type: SignalType) -> CachedPoint | None:
        """The newest observation of the zone, or None."""
        item = self._newest(zone, signal_type, OBSERVATION, OBSERVATION + "~")
        return _point(item) if item else None

    def observations(
        self, zone: str, signal_type: SignalType, start: float, end: float
    ) -> Signal | None:
        """Cached observations on ``[start, end)`` as a signal (None when there are none)."""
        from carbon_aware.engine.signal import Signal

        series = self.observation_series(zone, signal_type, start, end)
        return None if series is None else Signal.of_series(series)

    def observation_series(
        self, zone: str, signal_type: SignalType, start: float, end: float
    ) -> Series | None:
        """Cached observations on ``[start, end)`` as a plain series (None when there are none)."""
        points = [
            _point(item)
            for item in self._query_all(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                ExpressionAttributeValues={
                    ":pk": _s(partition_key(zone, signal_type)),
                    ":a": _s(OBSERVATION + iso(start)),
                    ":b": _s(OBSERVATION + iso(end)),
                },
            )
        ]
        points = [p for p in points if start <= p.time < end]
        if not points:
            return None
        provenance = points[-1].provenance
        return Series.from_points(
            zone,
            [p.time for p in points],
            [p.value for p in points],
            source=provenance.provider,
            signal_type=provenance.signal_type,
            estimated=any(p.provenance.estimated for p in points),
        )

    def forecast(self, zone: str, signal_type: SignalType, as_of: float) -> CachedForecast | None:
        """The newest forecast issued at or before ``as_of``, or None."""
        from carbon_aware.engine.signal import Signal

        found = self.forecast_series(zone, signal_type, as_of)
        if found is None:
            return None
        series, provenance = found
        return CachedForecast(Signal.of_series(series), provenance)

    def forecast_series(
        self, zone: str, signal_type: SignalType, as_of: float
    ) -> tuple[Series, Provenance] | None:
        """The newest forecast issued at or before ``as_of`` as a plain series, or None."""
        item = self._newest(zone, signal_type, FORECAST, FORECAST + iso(as_of))
        if item is None:
            return None
        series = json.loads(item["series"]["S"])
        provenance = _read_provenance(item)
        points = Series.from_points(
            zone,
            series["t"],
            series["v"],
            end=series["end"],
            source=provenance.provider,
            signal_type=provenance.signal_type,
            estimated=provenance.estimated,
        )
        return points, provenance

    def states(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Refresh-state records by partition key (missing ones are absent)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH_GET):
            keys = [{PK: _s(k), SK: _s(STATE)} for k in wanted[start : start + BATCH_GET]]
            for response in _until_processed(
                self.client.batch_get_item, {self.table: {"Keys": keys}}, "UnprocessedKeys"
            ):
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item[PK]["S"]] = json.loads(item["state"]["S"])
        return found

    def put_state(self, key: str, state: Mapping[str, Any], now: float) -> None:
        """Store a partition's refresh state (JSON); it expires with the observations."""
        self.client.put_item(
            TableName=self.table,
            Item={
                PK: _s(key),
                SK: _s(STATE),
                "state": _s(json.dumps(dict(state), separators=(",", ":"))),
                TTL_ATTRIBUTE: _n(int(now + self.observation_ttl)),
            },
        )

    def _newest(
        self, zone: str, signal_type: SignalType, low: str, high: str
    ) -> dict[str, Any] | None:
        """The item with the greatest sort key in ``[low, high]`` of the partition, or None."""
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": _s(partition_key(zone, signal_type)),
                ":a": _s(low),
                ":b": _s(high),
            },
            ScanIndexForward=False,
            Limit=1,
        )
        items = response.get("Items", [])
        return items[0] if items else None

    def _query_all(self, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table, **query}
        while True:
            response = self.client.query(**kwargs)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _batch_write(self, items: list[dict[str, Any]]) -> None:
        request = {self.table: [{"PutRequest": {"Item": item}} for item in items]}
        for _ in _until_processed(self.client.batch_write_item, request, "UnprocessedItems"):
            pass


def _until_processed(
    call: Callable[..., dict[str, Any]], request: dict[str, Any], leftover: str
) -> Iterator[dict[str, Any]]:
    """Responses of a batch call, re-sending what DynamoDB left unprocessed (with backoff)."""
    for attempt in range(BATCH_ATTEMPTS):
        if attempt:
            time.sleep(0.05 * 2**attempt)
        response = call(RequestItems=request)
        yield response
        request = response.get(leftover) or {}
        if not request:
            return
    raise RuntimeError(f"DynamoDB left items unprocessed after {BATCH_ATTEMPTS} attempts")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(value)}


def _provenance(p: Provenance) -> dict[str, Any]:
    return {
        "provider": _s(p.provider),
        "signal_type": _s(p.signal_type),
        "estimated": {"BOOL": p.estimated},
        "fetched_at": _n(p.fetched_at),
    }


def _read_provenance(item: Mapping[str, Any]) -> Provenance:
    return Provenance(
        provider=item["provider"]["S"],
        signal_type=item["signal_type"]["S"],
        estimated=item["estimated"]["BOOL"],
        fetched_at=float(item["fetched_at"]["N"]),
    )


def _point(item: Mapping[str, Any]) -> CachedPoint:
    when = parse_iso(item[SK]["S"].removeprefix(OBSERVATION)).timestamp()
    return CachedPoint(when, float(item["value"]["N"]), _read_provenance(item))
