"""Renewable shares: the monitor fetches them from Electricity Maps' power breakdown (loopback
fake), caches them per Region in the signals table (moto), and the fleet optimizer decides on
them."""

from __future__ import annotations

import json
import time
from importlib.resources import files
from typing import Any

import boto3
import pytest
from tests.fleet.fleet_env import FLEET_TABLE, fleet_spec, fleets_table, make_group
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context

from carbon_aware.cli.demo_fleet import FakePlacementScores
from carbon_aware.engine.signal import SignalType
from carbon_aware.runtime import config, monitor_config, wiring
from carbon_aware.runtime.handlers import fleet_optimizer, monitor
from carbon_aware.signals.cache import create_table
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.prices.store import PriceStore
from carbon_aware.signals.providers.electricitymaps import RenewableShare
from carbon_aware.signals.renewables import CachedRenewables, refresh_renewables
from carbon_aware.signals.targets import plan_targets
from fakes.clock import FakeClock
from fakes.providers import EM_KEY, ElectricityMapsApp

TABLE = "signals"
HOUR = 3600.0
ZONES = {HOME: "IE", OTHER: "SE-SE3"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())  # the fake provider answers for the handlers' real clock


@pytest.fixture
def store(aws: AwsEnv, em_server: Any, monkeypatch: pytest.MonkeyPatch) -> PriceStore:
    """The monitor configured with Electricity Maps (its key in Secrets Manager) for two Regions."""
    client = boto3.client("dynamodb", region_name=HOME)
    create_table(client, TABLE)
    secret = boto3.client("secretsmanager", region_name=HOME).create_secret(
        Name="carbon/em", SecretString=EM_KEY
    )["ARN"]
    for name, value in {
        config.SIGNALS_TABLE: TABLE,
        monitor_config.REGIONS: f"{HOME},{OTHER}",
        monitor_config.ELECTRICITYMAPS_SECRET: secret,
        monitor_config.ELECTRICITYMAPS_URL: f"{em_server.url}/v3",
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    return PriceStore(client, TABLE)


def expected(region: str, now: float) -> float:
    hour = now - now % HOUR
    return ElectricityMapsApp.power_breakdown(ZONES[region], hour)["renewablePercentage"] / 100


def test_the_monitor_caches_each_regions_share_the_fleet_then_reads(
    store: PriceStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = clock.now()  # the hour the fake provider answers for
    answer = monitor.handler({}, Context())
    assert answer["ok"] and answer["renewables"] == {"regions": 2, "failed": 0, "errors": []}
    shares = CachedRenewables(store)
    assert shares.share(HOME, now) == pytest.approx(expected(HOME, now))
    assert shares.share(OTHER, now) == pytest.approx(expected(OTHER, now))
    assert shares.share(HOME, now + 4 * HOUR) is None  # too old to trust: unknown
    assert shares.share("us-east-1", now) is None  # never fetched: unknown

    groups = {region: f"ca-test-green-{region}" for region in (HOME, OTHER)}
    for region, name in groups.items():
        make_group(region, name, 2)
    fleets_table()
    spec = fleet_spec(groups, strategy="renewable_only", renewable_threshold=0.0)
    monkeypatch.setenv(config.FLEETS, json.dumps({"green": spec}))
    monkeypatch.setenv(config.FLEET_TABLE, FLEET_TABLE)
    wiring.reset()
    FakePlacementScores(now, wiring.clock()).attach(wiring.client("ec2", HOME))
    run = fleet_optimizer.handler({}, Context())
    assert run["ok"], run
    inputs = run["fleets"]["green"]["inputs"]
    assert inputs[HOME]["renewable_share"] == pytest.approx(expected(HOME, now))
    assert inputs[OTHER]["renewable_share"] == pytest.approx(expected(OTHER, now))
    assert not run["fleets"]["green"]["excluded"]


class Source:
    """Electricity Maps' surface: IE answers, SE fails with an error nobody expected."""

    def supports(self, target: Any) -> bool:
        return True

    def renewable_share(self, target: Any, now: float) -> RenewableShare:
        if target.zone == ZONES[OTHER]:
            raise RuntimeError("boom")
        return RenewableShare(target.zone, 0.42, now, False)


def test_one_failing_zone_never_stops_the_others(store: PriceStore) -> None:
    targets = plan_targets((OTHER, HOME), load_catalog(), SignalType.AVERAGE)
    emitted: list[tuple[str, float, dict[str, str]]] = []
    now = time.time()
    result = refresh_renewables(
        Source(), targets, store, now, lambda *m: emitted.append(m), interval=900.0
    )
    assert (result["regions"], result["failed"]) == (1, 1)
    assert result["errors"] == [f"{ZONES[OTHER]}: RuntimeError: boom"]
    assert emitted == [("RenewableSharePercent", 42.0, {"Region": HOME})]
    assert CachedRenewables(store).share(HOME, now) == 0.42


def test_without_electricity_maps_renewable_only_decides_on_the_built_in_profile(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no Electricity Maps key: the cache stays empty, eu-central-1 (DE) takes the profile's
    # estimate, eu-west-1 (IE, no renewable profile) stays unknown and is excluded
    client = boto3.client("dynamodb", region_name=HOME)
    create_table(client, TABLE)
    regions = (HOME, "eu-central-1")
    groups = {region: f"ca-test-profiled-{region}" for region in regions}
    for region, name in groups.items():
        make_group(region, name, 2)
    fleets_table()
    spec = fleet_spec(groups, strategy="renewable_only", renewable_threshold=0.0)
    for name, value in {
        config.SIGNALS_TABLE: TABLE,
        config.FLEETS: json.dumps({"green": spec}),
        config.FLEET_TABLE: FLEET_TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    FakePlacementScores(time.time(), wiring.clock()).attach(wiring.client("ec2", HOME))
    run = fleet_optimizer.handler({}, Context())
    assert run["ok"], run
    decision = run["fleets"]["green"]
    shipped = files("carbon_aware").joinpath("data/renewables.json").read_text(encoding="utf-8")
    table = json.loads(shipped)["regions"]["eu-central-1"]["month_hour"]
    at = time.gmtime(decision["at"])
    inputs = decision["inputs"]["eu-central-1"]
    assert inputs["renewable_share"] == pytest.approx(table[at.tm_mon - 1][at.tm_hour] / 100)
    assert inputs["provenance"]["renewable_share"].startswith("profile (estimate): zone DE")
    assert decision["excluded"] == {HOME: "renewable share unknown"}
    assert decision["inputs"][HOME]["provenance"]["renewable_share"] == "unknown"
    assert decision["allocation"][HOME] == 0
