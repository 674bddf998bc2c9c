"""Refresh orchestration: deduplicated zones, one call per zone per refresh, quota over a day."""

from __future__ import annotations

import pytest

from carbon_aware.signals.cache import SignalCache
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.reader import CarbonReader
from carbon_aware.signals.refresh import PolicyError, RefreshPolicy, refresh
from carbon_aware.signals.targets import plan_targets
from fakes.aws import SIGNALS_TABLE
from fakes.chains import providers, settings
from fakes.clock import T0
from fakes.memory import MemoryCache
from fakes.providers import intensity
from fakes.server import Reply

HOUR = 3600.0
QUARTER = 900.0
# 25 commercial regions: every catalog region except China, GovCloud, the Middle East and ca-west-1.
REGIONS_25 = [
    r
    for r in load_catalog().regions()
    if not r.startswith(("cn-", "us-gov-", "me-", "il-", "ca-west-"))
]


class Env:
    def __init__(self, cache, clock, regions, **servers):
        self.clock = clock
        self.cache = cache if isinstance(cache, MemoryCache) else SignalCache(cache, SIGNALS_TABLE)
        self.providers = providers(settings(**servers), clock, observations=self.cache.observations)
        self.targets = plan_targets(regions, load_catalog(), "average")
        self.reader = CarbonReader(self.cache, load_catalog(), clock)

    def refresh(self, interval: float = QUARTER, **kwargs):
        return refresh(
            self.targets,
            chain=self.providers.chain,
            cache=self.cache,
            clock=self.clock,
            policy=RefreshPolicy(interval=interval),
            **kwargs,
        )


def test_regions_sharing_a_zone_cost_one_call(dynamodb, clock, em_server):
    env = Env(dynamodb, clock, ["us-east-1", "us-east-2", "eu-west-1"], em=em_server)
    results = env.refresh()
    assert [r.target.zone for r in results] == ["IE", "US-MIDA-PJM"]
    assert results[1].target.regions == ("us-east-1", "us-east-2")
    assert sorted(r.query["zone"] for r in em_server.requests) == ["IE", "US-MIDA-PJM"]


def test_one_call_per_zone_per_refresh_forecast_hourly(dynamodb, clock, em_server):
    env = Env(dynamodb, clock, ["eu-central-1"], em=em_server)
    kinds = []
    for _ in range(8):  # two hours of 15-minute refreshes
        before = len(em_server.requests)
        env.refresh()
        kinds.append([r.path.rsplit("/", 1)[1] for r in em_server.requests[before:]])
        clock.advance(QUARTER)
    # the value now first, the forecast next; then each new hourly point and hourly forecast once
    assert kinds == [["latest"], ["forecast"], [], [], ["latest"], ["forecast"], [], []]


def test_overlapping_invocations_do_not_double_calls(dynamodb, clock, em_server):
    env = Env(dynamodb, clock, ["eu-central-1", "eu-west-1"], em=em_server)
    env.refresh()
    clock.advance(60)
    results = env.refresh()
    assert [r.action for r in results] == [None, None]
    assert len(em_server.requests) == 2


@pytest.mark.parametrize("interval", [QUARTER, 300.0])  # the scheduler's and the spot optimizer's
def test_provider_calls_for_25_regions_over_one_day(clock, em_server, interval):
    env = Env(MemoryCache(), clock, REGIONS_25, em=em_server)
    for i in range(1, round(86400 / interval) + 1):
        env.refresh(interval)
        clock.advance(T0 + i * interval - clock.now())  # a fixed schedule, as EventBridge runs it
    zones = len(env.targets)
    em_zones = sum(1 for t in env.targets if t.info.electricitymaps_zone)
    calls = len(em_server.requests)
    print(f"\n25 regions, {interval / 60:g}-min refresh -> {zones} zones: {calls} calls/day")
    assert (len(REGIONS_25), zones) == (25, 24)
    assert calls == em_zones * 48  # 24 forecasts + 24 latest per zone
    assert env.providers.calls == calls


def test_stale_while_revalidate_keeps_a_recent_live_forecast(dynamodb, clock, em_server):
    env = Env(dynamodb, clock, ["eu-central-1"], em=em_server)
    env.refresh()
    clock.advance(QUARTER)
    env.refresh()  # now the live forecast is cached
    em_server.script("/v3", *[Reply(500)] * 300)
    clock.advance(HOUR)
    (result,) = env.refresh()
    assert result.answer.provenance.provider == "profile" and result.kept_live
    assert env.cache.forecast("DE", "average", clock.now()).provenance.provider == "electricitymaps"
    served = env.reader.current("eu-central-1")
    assert served.provenance.provider == "electricitymaps" and not served.provenance.estimated
    clock.advance(6 * HOUR)
    (result,) = env.refresh()
    assert not result.kept_live
    latest = env.cache.forecast("DE", "average", clock.now())
    assert latest.provenance.provider == "profile" and latest.provenance.estimated


def test_readers_never_call_providers(dynamodb, clock, em_server):
    env = Env(dynamodb, clock, ["eu-central-1", "eu-west-1"], em=em_server)
    env.refresh()
    clock.advance(QUARTER)
    env.refresh()
    sent = len(em_server.requests)
    now = clock.now()
    signals = env.reader.signal_set(["eu-central-1", "eu-west-1"], now, now + 24 * HOUR)
    assert len(em_server.requests) == sent
    signal = signals["eu-central-1"]
    assert (signal.source, signal.estimated) == ("electricitymaps", False)
    assert signal.covers(now, now + 24 * HOUR)
    assert signal.value_at(now) == intensity("DE", T0)  # the 12:00 observation holds at 12:15
    assert signal.value_at(now + 3 * HOUR) == intensity("DE", T0 + 3 * HOUR)


def test_rate_limit_holds_under_a_burst_of_refreshes(clock, em_server):
    env = Env(MemoryCache(), clock, REGIONS_25, em=em_server)
    for _ in range(12):
        env.refresh(force=True)
    times = [r.at for r in em_server.requests]
    assert len(times) == 12 * 24
    # Electricity Maps' bucket: 100 requests per minute at most (burst 10 + 1.5/s)
    worst = max(sum(1 for u in times[i:] if u < t + 60) for i, t in enumerate(times))
    assert worst <= 100
    assert clock.sleeps  # the burst really was throttled


def test_a_broken_cache_never_raises(moto_aws, clock, em_server):
    import boto3

    missing = boto3.client("dynamodb")
    env = Env(missing, clock, ["eu-central-1"], em=em_server)
    (result,) = env.refresh()
    assert result.answer.provenance.provider == "electricitymaps"
    assert "cache write failed" in result.error


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 120}, "interval must be 5 to 60 minutes, got 2"),
        ({"interval": 7200}, "interval must be 5 to 60 minutes"),
        ({"horizon": 100 * HOUR}, "horizon must be 1 to 72 hours"),
        ({"interval": 1800, "forecast_interval": 900}, "forecast_interval must not be shorter"),
    ],
)
def test_policy_limits(kwargs, message):
    with pytest.raises(PolicyError, match=message):
        RefreshPolicy(**kwargs)
