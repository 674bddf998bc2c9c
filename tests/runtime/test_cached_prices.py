"""The blended strategies price a workload submitted without prices from the price cache: EC2
on-demand or spot for its ``instance_type``, Fargate or Fargate Spot for an ``ecs`` target's vCPUs
and memory; the decision names the sources; with nothing cached it still says it ranked on carbon
alone. moto in-process; the planner reads the cache with Query only."""

from __future__ import annotations

import dataclasses
import time

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import stored_spec

from carbon_aware.runtime import wiring
from carbon_aware.runtime.planner import Planner
from carbon_aware.runtime.pricing import PriceBook
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import CACHED_PRICES, NO_PRICE_SOURCE, parse_submission
from carbon_aware.signals.cache import create_table
from carbon_aware.signals.prices.base import PRICE_LIST, SPOT_HISTORY, QuoteProvenance
from carbon_aware.signals.prices.store import PriceStore, price_item, price_partition

TABLE = "signals"


@pytest.fixture
def store(aws: AwsEnv) -> PriceStore:
    client = boto3.client("dynamodb", region_name=HOME)
    create_table(client, TABLE)
    return PriceStore(client, TABLE)


def _put(store: PriceStore, region: str, kind: str, item: str, usd: float, source: str) -> None:
    provenance = QuoteProvenance(source, time.time() - 60)
    store.put(price_partition(region), price_item(kind, item), {"price": usd}, provenance)


def _plan(store: PriceStore, wid: str, target: dict, max_cost: float | None = None, **extra):
    settings = wiring.settings()
    if max_cost is not None:
        settings = dataclasses.replace(settings, blend_options={"max_cost": max_cost})
    spec = stored_spec(target, wid, regions=[HOME, OTHER], **extra)
    repo = wiring.repository()
    record = repo.create(wid, spec, time.time())
    planner = Planner(repo, wiring.signal_source(), wiring.schedules(), settings, PriceBook(store))
    return planner.plan(record, time.time())


def test_instance_type_priced_from_the_cache_on_demand_or_spot(
    aws: AwsEnv, store: PriceStore
) -> None:
    _put(store, HOME, "ondemand", "m5.large", 0.107, PRICE_LIST)
    _put(store, OTHER, "ondemand", "m5.large", 9.0, PRICE_LIST)
    _put(store, HOME, "spot", "m5.large", 5.0, SPOT_HISTORY)
    _put(store, OTHER, "spot", "m5.large", 0.02, SPOT_HISTORY)
    target = aws.targets[HOME]["lambda"]
    on_demand = _plan(store, "od", target, strategy="cost_first", instance_type="m5.large")
    assert on_demand.status == State.SCHEDULED, on_demand.history
    assert on_demand.decision["region"] == HOME
    assert on_demand.decision["cost_basis"] == CACHED_PRICES
    sources = on_demand.decision["price_sources"]
    assert sources[OTHER]["on_demand"]["source"] == PRICE_LIST
    assert sources[OTHER]["spot"]["source"] == SPOT_HISTORY
    assert sources[HOME]["on_demand"]["usd_per_hour"] == pytest.approx(0.107)
    spot = _plan(
        store, "spot", target, strategy="cost_first", instance_type="m5.large", use_spot=True
    )
    assert spot.decision["region"] == OTHER


def test_module_max_cost_applies_to_cached_prices(aws: AwsEnv, store: PriceStore) -> None:
    _put(store, HOME, "ondemand", "c5.large", 3.0, PRICE_LIST)
    _put(store, OTHER, "ondemand", "c5.large", 2.0, PRICE_LIST)
    target = aws.targets[HOME]["lambda"]
    refused = _plan(store, "dear", target, 1.0, strategy="balanced", instance_type="c5.large")
    assert refused.status == State.FAILED
    assert "max_cost 1" in refused.history[-1]["reason"]


def test_ecs_target_priced_as_fargate_or_fargate_spot(aws: AwsEnv, store: PriceStore) -> None:
    for region, vcpu, memory, spot_vcpu, spot_memory in (
        (HOME, 0.04048, 0.004445, 0.03, 0.003),
        (OTHER, 0.05, 0.005, 0.0129, 0.0014),
    ):
        _put(store, region, "fargate", "vcpu", vcpu, PRICE_LIST)
        _put(store, region, "fargate", "memory", memory, PRICE_LIST)
        _put(store, region, "fargate-spot", "vcpu", spot_vcpu, PRICE_LIST)
        _put(store, region, "fargate-spot", "memory", spot_memory, PRICE_LIST)
    ecs = {**aws.targets[HOME]["ecs"], "spot": False}
    record = _plan(store, "fargate", ecs, strategy="cost_first", vcpus=2, memory_gb=4)
    assert record.decision["region"] == HOME
    priced = record.decision["price_sources"][HOME]["on_demand"]
    assert priced["usd_per_hour"] == pytest.approx(2 * 0.04048 + 4 * 0.004445)
    assert priced["priced"] == ["fargate#memory", "fargate#vcpu"]
    spot = _plan(store, "fspot", {**ecs, "spot": True}, strategy="cost_first", vcpus=2, memory_gb=4)
    assert spot.decision["region"] == OTHER
    assert spot.decision["price_sources"][OTHER]["on_demand"]["usd_per_hour"] == pytest.approx(
        2 * 0.0129 + 4 * 0.0014
    )


def test_empty_cache_still_says_carbon_only(aws: AwsEnv, store: PriceStore) -> None:
    target = aws.targets[HOME]["lambda"]
    record = _plan(store, "none", target, 1.0, strategy="balanced", instance_type="r5.large")
    assert record.status == State.SCHEDULED
    assert record.decision["cost_basis"] == NO_PRICE_SOURCE
    assert "not applied" in record.decision["cost_constraint"]
    no_type = _plan(store, "untyped", target, strategy="balanced")
    assert no_type.decision["cost_basis"] == NO_PRICE_SOURCE


def test_instance_type_is_validated_at_the_door(aws: AwsEnv) -> None:
    body = stored_spec(aws.targets[HOME]["lambda"], "x", instance_type="not a type")
    del body["submitted_at"]
    with pytest.raises(ValueError, match="instance_type"):
        parse_submission(body, time.time(), wiring.settings())
