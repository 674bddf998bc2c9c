"""The monitor keeps the Price List prices fresh (loopback Price List fake, moto DynamoDB), and the
planner's blended strategies then price an ``ecs`` workload submitted without prices from them."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, stored_spec

from carbon_aware.runtime import config, monitor_config, wiring
from carbon_aware.runtime.handlers import monitor
from carbon_aware.runtime.planner import Planner
from carbon_aware.runtime.price_refresh import PriceRefresher
from carbon_aware.runtime.pricing import PriceBook
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import CACHED_PRICES
from carbon_aware.signals.cache import create_table
from carbon_aware.signals.prices.base import PRICE_LIST
from carbon_aware.signals.prices.store import PriceStore
from fakes.price_apis import PricingApp

TABLE = "signals"


@pytest.fixture
def price_list(price_list_server: PricingApp, monkeypatch: pytest.MonkeyPatch) -> PricingApp:
    """Two Regions priced (eu-north-1 at twice eu-west-1), the monitor refreshing them."""
    create_table(boto3.client("dynamodb", region_name=HOME), TABLE)
    monkeypatch.setenv(config.SIGNALS_TABLE, TABLE)
    monkeypatch.setenv(monitor_config.REGIONS, f"{HOME},{OTHER}")
    wiring.reset()
    return price_list_server


def test_the_monitor_refreshes_prices_and_the_planner_uses_them(
    aws: AwsEnv, price_list: PricingApp
) -> None:
    answer = monitor.handler({}, Context())
    assert answer["ok"], answer
    # Per Region: Fargate and Fargate Spot per vCPU and per GB, and the on-demand type.
    assert answer["prices"] == {"priced": 10, "unpriced": 0, "failed": 0, "errors": []}
    calls = len(price_list.calls)
    assert monitor.handler({}, Context())["prices"]["priced"] == 10
    assert len(price_list.calls) == calls  # cached for a day: no second call

    spec = stored_spec(
        aws.targets[HOME]["ecs"],
        "fargate",
        regions=[HOME, OTHER],
        strategy="cost_first",
        vcpus=2,
        memory_gb=4,
    )
    repo = wiring.repository()
    record = repo.create("fargate", spec, time.time())
    store = PriceStore(wiring.client("dynamodb"), TABLE)
    planner = Planner(
        repo, wiring.signal_source(), wiring.schedules(), wiring.settings(), PriceBook(store)
    )
    planned = planner.plan(record, time.time())
    assert planned.status == State.SCHEDULED, planned.history
    assert planned.decision["cost_basis"] == CACHED_PRICES
    assert planned.decision["region"] == HOME  # half the price of eu-north-1
    assert planned.decision["price_sources"][OTHER]["on_demand"]["source"] == PRICE_LIST


def test_a_region_without_prices_is_counted_and_the_others_refreshed(
    aws: AwsEnv, price_list: PricingApp
) -> None:
    price_list.products = [p for p in price_list.products if p[1]["regionCode"] != OTHER]
    prices = monitor.handler({}, Context())["prices"]
    assert prices == {"priced": 5, "unpriced": 5, "failed": 0, "errors": []}


class Broken:
    """A price source failing for one Region with an error nobody expected."""

    def fargate(self, region: str, dimension: str, now: float, *, spot: bool = False) -> Any:
        if region == OTHER:
            raise RuntimeError("boom")
        return type("Quote", (), {"value": 0.04})()

    def on_demand(self, region: str, instance_type: str, now: float) -> Any:
        return self.fargate(region, "vcpu", now)


def test_an_unexpected_error_in_one_region_never_stops_the_others() -> None:
    refresher = PriceRefresher(Broken(), [OTHER, HOME], ["m7g.large"])  # type: ignore[arg-type]
    result = refresher.run(time.time())
    assert (result["priced"], result["unpriced"], result["failed"]) == (5, 0, 5)
    assert result["errors"][0] == f"{OTHER} fargate vcpu: RuntimeError: boom"
