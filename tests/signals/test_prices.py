"""Price and capacity sources: spot price history (moto, and a loopback EC2 fake for what moto
does not model), the Price List (loopback fake), placement scores under a daily budget (loopback
fake), all cached in the signals table (moto DynamoDB)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.credentials import Credentials

from carbon_aware.engine.signal_type import SignalType
from carbon_aware.signals.prices.base import NEUTRAL, PLACEMENT_SCORES, PRICE_LIST, SPOT_HISTORY
from carbon_aware.signals.prices.placement import (
    NEUTRAL_SCORE,
    PlacementScores,
    canonical_requests,
)
from carbon_aware.signals.prices.pricelist import PriceListPrices
from carbon_aware.signals.prices.spot import SpotPrices
from carbon_aware.signals.prices.store import PREFIXES, PriceStore, price_item, price_partition
from fakes.aws import SIGNALS_TABLE
from fakes.price_apis import Ec2App, PricingApp, ec2_product, fargate_product
from fakes.signed_api import SignedApi

KEY, SECRET = "AKIDPRICESTEST", "prices-test-secret"
NOW = 1_796_000_000.0  # 2026-11-30T00:53:20Z
HOUR = 3600.0
TYPES = ["m5.large", "m6i.large", "c5.large"]
NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})


def _client(service: str, server: SignedApi, region: str) -> Any:
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=server.url,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=NO_RETRY,
    )


@pytest.fixture
def store(dynamodb: Any) -> PriceStore:
    return PriceStore(dynamodb, SIGNALS_TABLE)


@pytest.fixture
def ec2_app() -> Ec2App:
    return Ec2App()


@pytest.fixture
def ec2_server(ec2_app: Ec2App, loopback: None) -> Iterator[SignedApi]:
    with SignedApi(ec2_app, Credentials(KEY, SECRET), "ec2", "eu-west-1") as server:
        yield server


@pytest.fixture
def pricing_app() -> PricingApp:
    return PricingApp()


@pytest.fixture
def pricing_server(pricing_app: PricingApp, loopback: None) -> Iterator[SignedApi]:
    with SignedApi(pricing_app, Credentials(KEY, SECRET), "pricing", "us-east-1") as server:
        yield server


def _spot(instance_type: str, zone: str, price: str, when: str, os: str = "Linux/UNIX") -> dict:
    return {
        "instanceType": instance_type,
        "productDescription": os,
        "spotPrice": price,
        "timestamp": when,
        "availabilityZone": zone,
    }


def _item(dynamodb: Any, region: str, sort_key: str) -> dict[str, Any]:
    key_ = {"pk": {"S": price_partition(region)}, "sk": {"S": sort_key}}
    return dynamodb.get_item(TableName=SIGNALS_TABLE, Key=key_)["Item"]


# --- spot price history ------------------------------------------------------------------------


def test_moto_spot_history_is_read_cached_and_stored_with_provenance(
    moto_aws: None, store: PriceStore, dynamodb: Any
) -> None:
    """moto answers every type in every AZ with one fixed price, as "Linux/UNIX (Amazon VPC)"."""
    source = SpotPrices(lambda r: boto3.client("ec2", region_name=r), store)
    quote = source.prices("eu-west-1", TYPES, NOW)
    assert quote.value == pytest.approx(0.00001)
    assert quote.unit == "instance-hour"
    assert quote.provenance.source == SPOT_HISTORY
    assert quote.provenance.fetched_at == NOW and not quote.provenance.fallback
    for instance_type in TYPES:
        item = _item(dynamodb, "eu-west-1", price_item("spot", instance_type))
        assert item["source"]["S"] == SPOT_HISTORY
        assert float(item["fetched_at"]["N"]) == NOW
        assert int(item["expires_at"]["N"]) == int(NOW + store.keep)


def test_newest_record_per_zone_then_cheapest_zone_then_cheapest_type(
    store: PriceStore, ec2_app: Ec2App, ec2_server: SignedApi
) -> None:
    ec2_app.spot_prices = [
        _spot("m5.large", "eu-west-1a", "0.020", "2026-11-29T08:00:00.000Z"),  # old, cheap
        _spot("m5.large", "eu-west-1a", "0.045", "2026-11-29T09:00:00.000Z"),  # newest in 1a
        _spot("m5.large", "eu-west-1b", "0.041", "2026-11-29T07:00:00.000Z"),
        _spot("m6i.large", "eu-west-1a", "0.039", "2026-11-29T09:00:00.000Z"),
        _spot("m6i.large", "eu-west-1c", "0.010", "2026-11-29T09:00:00.000Z", "Windows"),
        _spot("c5.large", "eu-west-1b", "0.050", "2026-11-29T09:00:00.000Z"),
        _spot("r5.large", "eu-west-1b", "0.001", "2026-11-29T09:00:00.000Z"),  # not asked
    ]
    source = SpotPrices(lambda r: _client("ec2", ec2_server, r), store)
    quote = source.prices("eu-west-1", TYPES, NOW)
    assert quote.value == pytest.approx(0.039)
    assert quote.provenance.detail == "m6i.large in eu-west-1a"
    calls = ec2_app.actions("DescribeSpotPriceHistory", pages=True)
    assert len(calls) == 3  # 6 rows, 2 a page: the paginator followed nextToken
    assert sorted(v for k, v in calls[0].items() if k.startswith("InstanceType.")) == sorted(TYPES)
    assert calls[0]["ProductDescription.1"] == "Linux/UNIX"
    m5 = store.get(price_partition("eu-west-1"), price_item("spot", "m5.large"))
    assert m5 is not None and m5.payload == {"price": 0.041, "zone": "eu-west-1b"}


def test_fresh_cache_is_served_and_stale_cache_refetched(
    store: PriceStore, ec2_app: Ec2App, ec2_server: SignedApi
) -> None:
    ec2_app.spot_prices = [_spot(t, "eu-west-1a", "0.03", "2026-11-29T09:00:00Z") for t in TYPES]
    source = SpotPrices(lambda r: _client("ec2", ec2_server, r), store, max_age=HOUR)
    source.prices("eu-west-1", TYPES, NOW)
    source.prices("eu-west-1", list(reversed(TYPES)), NOW + HOUR - 1)
    assert len(ec2_app.actions("DescribeSpotPriceHistory")) == 1  # the second was cached
    ec2_app.spot_prices = [_spot(t, "eu-west-1a", "0.02", "2026-11-29T10:00:00Z") for t in TYPES]
    later = source.prices("eu-west-1", TYPES, NOW + HOUR)
    assert later.value == pytest.approx(0.02)
    assert later.provenance.fetched_at == NOW + HOUR


def test_failed_history_call_serves_last_known_price_flagged(
    store: PriceStore, ec2_app: Ec2App, ec2_server: SignedApi
) -> None:
    ec2_app.spot_prices = [_spot(t, "eu-west-1a", "0.03", "2026-11-29T09:00:00Z") for t in TYPES]
    source = SpotPrices(lambda r: _client("ec2", ec2_server, r), store, max_age=HOUR)
    source.prices("eu-west-1", TYPES, NOW)
    ec2_app.refuse["DescribeSpotPriceHistory"] = "UnauthorizedOperation"
    quote = source.prices("eu-west-1", TYPES, NOW + 5 * HOUR)
    assert quote.value == pytest.approx(0.03)
    assert quote.provenance.fallback and quote.provenance.fetched_at == NOW
    assert "UnauthorizedOperation" in quote.provenance.detail
    unknown = source.prices("eu-west-1", ["r5.large"], NOW + 5 * HOUR)
    assert unknown.value is None and unknown.provenance.fallback


# --- placement scores --------------------------------------------------------------------------


def _scores(store: PriceStore, server: SignedApi, budget: int = 40) -> PlacementScores:
    return PlacementScores(
        lambda r: _client("ec2", server, r), store, call_region="eu-west-1", daily_budget=budget
    )


REGIONS = ["eu-west-1", "eu-west-2", "eu-central-1"]


def test_requests_are_canonical_and_cached(
    store: PriceStore, ec2_app: Ec2App, ec2_server: SignedApi
) -> None:
    ec2_app.scores = {"eu-west-1": 3, "eu-west-2": 9, "eu-central-1": 7}
    source = _scores(store, ec2_server)
    first = source.scores(REGIONS, TYPES, 5, NOW)
    again = source.scores(list(reversed(REGIONS)), ["c5.large", *TYPES], 7, NOW + 60)
    assert {r: q.score for r, q in first.items()} == ec2_app.scores
    assert {r: q.score for r, q in again.items()} == ec2_app.scores
    assert (first.calls, again.calls) == (1, 0)
    (call,) = ec2_app.actions("GetSpotPlacementScores")
    assert [call[f"RegionName.{i}"] for i in (1, 2, 3)] == sorted(REGIONS)
    assert [call[f"InstanceType.{i}"] for i in (1, 2, 3)] == sorted(TYPES)
    assert call["TargetCapacity"] == "8" and call["SingleAvailabilityZone"] == "false"
    assert first["eu-west-2"].provenance.source == PLACEMENT_SCORES
    assert not first.budget_exhausted and store.spent(NOW) == 1


def test_a_region_aws_did_not_score_stays_neutral_when_served_from_cache(
    store: PriceStore, ec2_app: Ec2App, ec2_server: SignedApi
) -> None:
    ec2_app.scores = {"eu-west-1": 3, "eu-west-2": 9}  # no score for eu-central-1
    source = _scores(store, ec2_server)
    fresh = source.scores(REGIONS, TYPES, 4, NOW)
    cached = source.scores(REGIONS, TYPES, 4, NOW + 60)
    assert cached.calls == 0
    for answer in (fresh, cached):
        assert set(answer) == set(REGIONS)
        assert answer["eu-central-1"].score == NEUTRAL_SCORE
        assert answer["eu-central-1"].provenance.source == NEUTRAL


def test_more_than_ten_regions_take_one_call_per_ten() -> None:
    regions = [f"xx-region-{i:02d}" for i in range(23)]
    requests = canonical_requests(regions, TYPES, 3)
    assert [len(r["RegionNames"]) for r in requests] == [10, 10, 3]
    assert sorted(n for r in requests for n in r["RegionNames"]) == regions


def test_spent_budget_falls_back_to_last_known_then_neutral(
    store: PriceStore, ec2_app: Ec2App, ec2_server: SignedApi
) -> None:
    ec2_app.scores = {"eu-west-1": 3, "eu-west-2": 9, "eu-central-1": 7}
    source = _scores(store, ec2_server, budget=1)
    source.scores(REGIONS, TYPES, 4, NOW)
    stale = source.scores(REGIONS, TYPES, 4, NOW + 2 * HOUR)
    assert stale.budget_exhausted and stale.calls == 0
    assert {r: q.score for r, q in stale.items()} == ec2_app.scores
    assert all(q.provenance.fallback for q in stale.values())
    assert stale["eu-west-1"].provenance.fetched_at == NOW
    other = source.scores(REGIONS, TYPES, 64, NOW + 2 * HOUR)  # another configuration
    assert other.budget_exhausted
    assert {q.score for q in other.values()} == {NEUTRAL_SCORE}
    assert {q.provenance.source for q in other.values()} == {NEUTRAL}
    assert len(ec2_app.actions("GetSpotPlacementScores")) == 1
    next_day = source.scores(REGIONS, TYPES, 64, NOW + 24 * HOUR)
    assert not next_day.budget_exhausted and next_day.calls == 1


def test_aws_refusal_falls_back_and_reports_the_exhausted_limit(
    store: PriceStore, ec2_app: Ec2App, ec2_server: SignedApi
) -> None:
    ec2_app.scores = {"eu-west-1": 3, "eu-west-2": 9, "eu-central-1": 7}
    source = _scores(store, ec2_server)
    source.scores(REGIONS, TYPES, 4, NOW)
    ec2_app.refuse["GetSpotPlacementScores"] = "MaxConfigLimitExceeded"
    refused = source.scores(REGIONS, TYPES, 4, NOW + 2 * HOUR)
    assert refused.budget_exhausted
    assert refused["eu-west-2"].score == 9 and refused["eu-west-2"].provenance.fallback
    assert "MaxConfigLimitExceeded" in refused["eu-west-2"].provenance.detail


def test_budget_counter_stops_at_the_limit(store: PriceStore) -> None:
    assert [store.spend(NOW, 3) for _ in range(5)] == [True, True, True, False, False]
    assert store.spent(NOW) == 3
    assert store.spent(NOW + 24 * HOUR) == 0


# --- Price List -------------------------------------------------------------------------------


def test_on_demand_price_of_the_linux_shared_rate(
    store: PriceStore, pricing_app: PricingApp, pricing_server: SignedApi, dynamodb: Any
) -> None:
    pricing_app.products = [
        ec2_product("eu-west-1", "m5.large", "0.1840", operatingSystem="Windows"),
        ec2_product("eu-west-1", "m5.large", "0.1070"),
        ec2_product("eu-west-1", "m5.large", "0.0000", capacitystatus="UnusedCapacityReservation"),
        ec2_product("eu-west-1", "m5.large", "0.1070", operation="RunInstances:0010"),
        ec2_product("eu-west-1", "m5.large", "0.1070", tenancy="Dedicated"),
        ec2_product("eu-west-1", "c5.large", "0.0960"),
    ]
    source = PriceListPrices(_client("pricing", pricing_server, "us-east-1"), store)
    quote = source.on_demand("eu-west-1", "m5.large", NOW)
    assert quote.value == pytest.approx(0.107)
    assert (
        quote.provenance.source == PRICE_LIST and quote.provenance.detail == "EU-BoxUsage:m5.large"
    )
    filters = {f["Field"]: f["Value"] for f in pricing_app.calls[0]["Filters"]}
    assert filters["instanceType"] == "m5.large" and filters["regionCode"] == "eu-west-1"
    assert pricing_app.calls[0]["ServiceCode"] == "AmazonEC2"
    item = _item(dynamodb, "eu-west-1", price_item("ondemand", "m5.large"))
    assert item["source"]["S"] == PRICE_LIST and float(item["fetched_at"]["N"]) == NOW
    source.on_demand("eu-west-1", "m5.large", NOW + HOUR)
    assert len(pricing_app.calls) == 1  # cached for a day


def test_fargate_and_fargate_spot_rates_by_usage_type(
    store: PriceStore, pricing_app: PricingApp, pricing_server: SignedApi
) -> None:
    pricing_app.products = [
        fargate_product("eu-west-1", "EU-Fargate-ARM-vCPU-Hours:perCPU", "0.03238"),
        fargate_product("eu-west-1", "EU-Fargate-Windows-vCPU-Hours:perCPU", "0.09148"),
        fargate_product("eu-west-1", "EU-SpotUsage-Fargate-vCPU-Hours:perCPU", "0.01290"),
        fargate_product("eu-west-1", "EU-Fargate-vCPU-Hours:perCPU", "0.04048"),
        fargate_product("eu-west-1", "EU-Fargate-GB-Hours", "0.004445"),
        fargate_product("eu-west-1", "EU-SpotUsage-Fargate-GB-Hours", "0.001416"),
        fargate_product("eu-central-1", "EUC1-Fargate-vCPU-Hours:perCPU", "0.04656"),
    ]
    source = PriceListPrices(_client("pricing", pricing_server, "us-east-1"), store)
    assert source.fargate("eu-west-1", "vcpu", NOW).value == pytest.approx(0.04048)
    assert source.fargate("eu-west-1", "memory", NOW).value == pytest.approx(0.004445)
    spot = source.fargate("eu-west-1", "vcpu", NOW, spot=True)
    assert spot.value == pytest.approx(0.0129) and spot.unit == "vcpu-hour"
    assert source.fargate("eu-central-1", "vcpu", NOW).value == pytest.approx(0.04656)


def test_price_list_failure_serves_last_known_or_nothing(
    store: PriceStore, pricing_app: PricingApp, pricing_server: SignedApi
) -> None:
    pricing_app.products = [ec2_product("eu-west-1", "m5.large", "0.1070")]
    source = PriceListPrices(_client("pricing", pricing_server, "us-east-1"), store)
    source.on_demand("eu-west-1", "m5.large", NOW)
    pricing_app.fail = True
    stale = source.on_demand("eu-west-1", "m5.large", NOW + 2 * 86400)
    assert stale.value == pytest.approx(0.107) and stale.provenance.fallback
    missing = source.on_demand("eu-west-1", "c5.large", NOW)
    assert missing.value is None and missing.provenance.fallback


def test_cache_partitions_cannot_collide_with_carbon_partitions() -> None:
    for kind in SignalType:
        assert not any(f"{kind.value}#".startswith(p) or p.startswith(kind.value) for p in PREFIXES)
