"""Completion accounting: run and baseline share one signal type and provider class."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, http, submission, submit
from tests.runtime.events import completion as completion_event

from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.handlers import api, completion, executor, scheduler
from carbon_aware.signals.cache import SignalCache, create_table
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.profiles import profile_signal
from carbon_aware.signals.targets import zone_of

HOUR = 3600.0
MARGINAL_G_PER_KWH = 400.0


@pytest.fixture
def marginal(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> SignalCache:
    """The estate in ``marginal`` mode with an (empty) signals cache."""
    client = boto3.client("dynamodb", region_name=HOME)
    create_table(client, "signals")
    monkeypatch.setenv(config.SIGNALS_TABLE, "signals")
    monkeypatch.setenv(config.SIGNAL_TYPE, "marginal")
    wiring.reset()
    return SignalCache(client, "signals")


def cache_marginal(cache: SignalCache, region: str, now: float) -> None:
    """A WattTime-style marginal forecast for the region: flat, from an hour ago for a day."""
    zone = zone_of(load_catalog().get(region), SignalType.MARGINAL)
    start = now - HOUR
    signal = Signal.from_points(
        zone,
        [start + i * HOUR for i in range(25)],
        [MARGINAL_G_PER_KWH] * 25,
        source="watttime",
        signal_type=SignalType.MARGINAL,
    )
    provenance = Provenance("watttime", "marginal", False, now - 60)
    cache.put_forecast(zone, SignalType.MARGINAL, signal, provenance)


def run_to_completion(aws: AwsEnv, **extra: object) -> dict:
    """Submit an hour-long 1 kW ECS workload, plan, dispatch and complete it: its result."""
    status, body = submit(submission(aws.targets[OTHER]["ecs"], power_watts=1000.0, **extra))
    assert status == 201, body
    workload_id = body["id"]
    scheduler.handler({"workload_id": workload_id}, Context())
    version = json.loads(api.handler(http("GET", f"/workloads/{workload_id}"), Context())["body"])
    executor.handler({"workload_id": workload_id, "version": version["version"]}, Context())
    done = json.loads(api.handler(http("GET", f"/workloads/{workload_id}"), Context())["body"])
    start = done["dispatch"]["started_at"]
    event = completion_event("ecs", workload_id, start, start + HOUR)
    assert completion.handler(event, Context())["status"] == "SUCCEEDED"
    return json.loads(api.handler(http("GET", f"/workloads/{workload_id}"), Context())["body"])


def test_marginal_run_is_not_compared_with_an_average_only_baseline(
    aws: AwsEnv, marginal: SignalCache
) -> None:
    # The run's region has marginal data; the home region (the baseline) has none.
    cache_marginal(marginal, OTHER, time.time())
    record = run_to_completion(aws, regions=[OTHER])
    result = record["result"]
    assert result["signal_type"] == "average"
    assert result["provider"] == "profile" and result["provider_class"] == "profile"
    assert result["estimated"] is True
    # 1 kW for the run's hour on the average profile (numpy's integral, not the accounting's).
    start, end = result["started_at"], result["ended_at"]
    expected = profile_signal(OTHER, start - HOUR, end + HOUR).emissions_g(1000.0, start, end)
    assert result["emissions_g"] == pytest.approx(expected)
    assert result["emissions_g"] != pytest.approx(MARGINAL_G_PER_KWH)


def test_marginal_on_both_sides_is_kept_with_its_provider(
    aws: AwsEnv, marginal: SignalCache
) -> None:
    now = time.time()
    for region in (HOME, OTHER):
        cache_marginal(marginal, region, now)
    result = run_to_completion(aws, regions=[OTHER])["result"]
    assert result["signal_type"] == "marginal"
    assert (result["provider"], result["provider_class"]) == ("watttime", "provider")
    assert result["estimated"] is False and "baseline_provider" not in result
    assert result["emissions_g"] == pytest.approx(MARGINAL_G_PER_KWH)
    assert result["baseline_g"] == pytest.approx(MARGINAL_G_PER_KWH)
