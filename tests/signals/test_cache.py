"""The DynamoDB cache (moto): key design, one request per access pattern, TTL."""

from __future__ import annotations

import numpy as np
import pytest

from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.signals.cache import TABLE_DEFINITION, TTL_ATTRIBUTE, SignalCache
from carbon_aware.signals.chain import Provenance
from fakes.aws import SIGNALS_TABLE
from fakes.clock import T0

HOUR = 3600.0
DAY = 86400.0
AVERAGE = SignalType.AVERAGE


@pytest.fixture
def cache(dynamodb):
    return SignalCache(dynamodb, SIGNALS_TABLE)


@pytest.fixture
def requests_made(dynamodb):
    seen: list[str] = []
    dynamodb.meta.events.register(
        "before-call.dynamodb", lambda model, **_: seen.append(model.name)
    )
    return seen


def signal(start: float, values: list[float], step: float = HOUR, **kwargs) -> Signal:
    times = start + step * np.arange(len(values))
    return Signal.from_points("DE", times, values, end=times[-1] + step, **kwargs)


def provenance(provider: str = "electricitymaps", at: float = T0, **kwargs) -> Provenance:
    fields = {"signal_type": "average", "estimated": False} | kwargs
    return Provenance(provider, fields["signal_type"], fields["estimated"], at)


def test_table_definition_is_pk_sk_on_demand(dynamodb):
    described = dynamodb.describe_table(TableName=SIGNALS_TABLE)["Table"]
    assert described["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    ttl = dynamodb.describe_time_to_live(TableName=SIGNALS_TABLE)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": TTL_ATTRIBUTE}


def test_latest_observation_is_one_query(cache, requests_made):
    cache.put_observations("DE", signal(T0 - 3 * HOUR, [300, 310, 320]), provenance())
    requests_made.clear()
    point = cache.latest_observation("DE", AVERAGE)
    assert requests_made == ["Query"]
    assert (point.time, point.value) == (T0 - HOUR, 320)
    assert point.provenance == provenance()


def test_range_reads_only_the_range(cache, requests_made):
    cache.put_observations("DE", signal(T0 - 10 * HOUR, list(range(100, 110))), provenance())
    requests_made.clear()
    got = cache.observations("DE", AVERAGE, T0 - 5 * HOUR, T0 - 2 * HOUR)
    assert requests_made == ["Query"]
    assert got.values.tolist() == [105, 106, 107]
    assert got.source == "electricitymaps"


def test_forecast_issued_at_picks_the_newest_not_after(cache, requests_made):
    for issued in (T0 - 2 * HOUR, T0 - HOUR, T0):
        cache.put_forecast("DE", AVERAGE, signal(issued, [issued / 1e7]), provenance(at=issued))
    requests_made.clear()
    older = cache.forecast("DE", AVERAGE, as_of=T0 - 30 * 60)
    assert requests_made == ["Query"]
    assert older.provenance.fetched_at == T0 - HOUR
    assert older.signal.values.tolist() == [(T0 - HOUR) / 1e7]
    assert cache.forecast("DE", AVERAGE, as_of=T0).provenance.fetched_at == T0
    assert cache.forecast("DE", AVERAGE, as_of=T0 - 3 * HOUR) is None


def test_partitions_separate_zones_and_signal_types(cache):
    cache.put_observations("DE", signal(T0, [300]), provenance())
    assert cache.latest_observation("FR", AVERAGE) is None
    assert cache.latest_observation("DE", SignalType.MARGINAL) is None


def test_ttl_is_30_days_after_observation_and_2_days_after_issue(cache, dynamodb):
    cache.put_observations("DE", signal(T0, [300]), provenance())
    cache.put_forecast("DE", AVERAGE, signal(T0, [1, 2]), provenance())
    items = dynamodb.scan(TableName=SIGNALS_TABLE)["Items"]
    ttl = {i["sk"]["S"][:3]: float(i[TTL_ATTRIBUTE]["N"]) for i in items}
    assert ttl == {"obs": T0 + 90 * DAY, "fc#": T0 + 2 * DAY}


def test_ttls_are_configurable(dynamodb):
    cache = SignalCache(dynamodb, SIGNALS_TABLE, observation_ttl=7 * DAY, forecast_ttl=DAY)
    cache.put_observations("DE", signal(T0, [300]), provenance())
    cache.put_forecast("DE", AVERAGE, signal(T0, [1]), provenance())
    items = dynamodb.scan(TableName=SIGNALS_TABLE)["Items"]
    assert sorted(float(i[TTL_ATTRIBUTE]["N"]) - T0 for i in items) == [DAY, 7 * DAY]


def test_many_observations_are_batched(cache, requests_made):
    written = cache.put_observations("DE", signal(T0 - 60 * HOUR, [200.0] * 60), provenance())
    assert written == 60
    assert requests_made == ["BatchWriteItem"] * 3


def test_states_of_all_zones_in_one_batch_get(cache, requests_made):
    cache.put_state("average#DE", {"failures": 1}, T0)
    cache.put_state("average#FR", {"failures": 0}, T0)
    requests_made.clear()
    states = cache.states(["average#DE", "average#FR", "average#IE"])
    assert requests_made == ["BatchGetItem"]
    assert states == {"average#DE": {"failures": 1}, "average#FR": {"failures": 0}}


def test_estimated_forecast_keeps_its_labels(cache):
    estimate = signal(T0, [400, 410], source="profile", estimated=True)
    cache.put_forecast("ca-west-1", AVERAGE, estimate, provenance("profile", estimated=True))
    got = cache.forecast("ca-west-1", AVERAGE, T0)
    assert got.provenance.estimated and got.signal.estimated
    assert got.signal.source == "profile"
