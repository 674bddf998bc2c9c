"""The monitor handler end to end: moto for DynamoDB and Secrets Manager, fake provider APIs."""

from __future__ import annotations

import json
import logging
import time

import boto3
import pytest
from events import Context

from carbon_aware.runtime import monitor_config as env
from carbon_aware.runtime import wiring
from carbon_aware.runtime.config import ConfigError
from carbon_aware.runtime.handlers import monitor
from carbon_aware.runtime.monitor import Monitor
from carbon_aware.runtime.monitor_config import MonitorSettings
from fakes.aws import SIGNALS_TABLE
from fakes.clock import FakeClock
from fakes.providers import EM_KEY, WT_PASSWORD, WT_USER
from fakes.server import Reply

REGIONS = "eu-west-1,eu-west-2,us-east-1,us-east-2,ca-west-1"


@pytest.fixture
def clock():
    return FakeClock(time.time())  # the handler runs on the real clock


@pytest.fixture
def configured(dynamodb, em_server, wt_server, neso_server, monkeypatch):
    sm = boto3.client("secretsmanager")
    sm.create_secret(Name="carbon/em", SecretString=EM_KEY)
    sm.create_secret(
        Name="carbon/wt", SecretString=json.dumps({"username": WT_USER, "password": WT_PASSWORD})
    )
    for name, value in {
        env.REGIONS: REGIONS,
        env.SIGNALS_TABLE: SIGNALS_TABLE,
        env.ELECTRICITYMAPS_SECRET: "carbon/em",
        env.WATTTIME_SECRET: "carbon/wt",
        env.ELECTRICITYMAPS_URL: f"{em_server.url}/v3",
        env.WATTTIME_URL: wt_server.url,
        env.UKCI_URL: neso_server.url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "CarbonAwareTest",
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    yield
    wiring.reset()


def metrics_of(stdout: str) -> dict[str, list[tuple[float, dict]]]:
    """EMF metric values by name, with their dimensions."""
    found: dict[str, list[tuple[float, dict]]] = {}
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dims = {d: blob[d] for group in directive["Dimensions"] for d in group}
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                for v in value if isinstance(value, list) else [value]:
                    found.setdefault(metric["Name"], []).append((v, dims))
    return found


def test_refreshes_every_region_and_emits_metrics(configured, em_server, neso_server, capsys):
    result = monitor.handler({}, Context())
    assert result["ok"] and result["errors"] == []
    rows = {r["region"]: r for r in result["regions"]}
    assert sorted(rows) == sorted(REGIONS.split(","))
    assert rows["eu-west-1"]["provider"] == "electricitymaps" and not rows["eu-west-1"]["estimated"]
    assert rows["us-east-1"]["zone"] == rows["us-east-2"]["zone"] == "US-MIDA-PJM"
    assert rows["ca-west-1"]["provider"] == "static-factor" and rows["ca-west-1"]["estimated"]
    # IE, GB, US-MIDA-PJM: the intensity and the power breakdown (renewable share) of each.
    assert result["provider_calls"] == 6
    assert result["renewables"] == {"regions": 4, "failed": 0, "errors": []}  # 4 Regions, 3 zones
    assert neso_server.requests == []
    metrics = metrics_of(capsys.readouterr().out)
    regions = {dims["Region"] for _, dims in metrics["CarbonIntensity"]}
    assert regions == set(REGIONS.split(","))
    assert metrics["ProviderCalls"][0][0] == 6
    used = {dims["Provider"]: v for v, dims in metrics["ProviderUsed"]}
    assert used == {"electricitymaps": 4, "static-factor": 1}
    assert metrics["EstimatedRegions"] == [(1, {})]  # ca-west-1 only


def test_all_providers_down_still_labels_every_region_and_never_raises(
    configured, em_server, neso_server, capsys
):
    now = {"Retry-After": "0"}  # no real backoff sleeps in this test
    em_server.script("/v3", *[Reply(500, headers=now)] * 50)
    neso_server.script("/", *[Reply(503, headers=now)] * 50)
    result = monitor.handler({}, Context())
    assert result["ok"]
    assert all(r["estimated"] for r in result["regions"])
    assert {r["provider"] for r in result["regions"]} <= {"profile", "static-factor"}
    # EM for three zones and NESO for GB; for ca-west-1 the history forecaster (nothing cached)
    assert result["fallbacks"] == 5
    emitted = metrics_of(capsys.readouterr().out)
    errors = {dims["Provider"]: v for v, dims in emitted["ProviderErrors"]}
    assert errors == {"electricitymaps": 3, "ukci": 1}
    assert emitted["EstimatedRegions"] == [(len(result["regions"]), {})]  # the outage alarm's


def test_a_second_run_within_the_interval_calls_nothing(configured, em_server):
    monitor.handler({}, Context())
    again = monitor.handler({}, Context())
    assert again["provider_calls"] == 0 and again["refreshed"] == 0
    assert again["renewables"] == {"regions": 0, "failed": 0, "errors": []}
    assert len(em_server.requests) == 6


def test_no_secret_in_any_log_line(configured, em_server, wt_server, monkeypatch, capsys, caplog):
    # Our loggers at DEBUG (botocore's own DEBUG wire logs are not ours and stay off).
    for name in ("carbon_aware", "carbon-aware"):
        caplog.set_level(logging.DEBUG, logger=name)
    em_server.script("/v3", Reply(401, {"message": "Invalid authentication token"}))
    monitor.handler({}, Context())
    monkeypatch.setenv(env.SIGNAL_TYPE, "marginal")
    wiring.monitor.cache_clear()
    wt_server.app.tokens.clear()
    monitor.handler({}, Context())
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert "HTTP 401" in text and wt_server.paths("/login")  # errors were logged, logins made
    for secret in (EM_KEY, WT_PASSWORD):
        assert secret not in text


def test_configuration_errors_are_reported_not_raised(configured, monkeypatch):
    monkeypatch.delenv(env.SIGNALS_TABLE)
    result = monitor.handler({}, Context())
    assert result == {
        "ok": False,
        "error": "configuration: environment variable CARBON_AWARE_SIGNALS_TABLE is required",
    }


def test_a_missing_secret_is_reported_not_raised(configured, monkeypatch):
    monkeypatch.setenv(env.ELECTRICITYMAPS_SECRET, "carbon/absent")
    result = monitor.handler({}, Context())
    assert not result["ok"]
    assert "secret carbon/absent: ResourceNotFoundException" in result["error"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (env.REFRESH_MINUTES, "2", "interval must be 5 to 60 minutes"),
        (env.REFRESH_MINUTES, "often", "CARBON_AWARE_REFRESH_MINUTES must be a number"),
        (env.SIGNAL_TYPE, "median", "CARBON_AWARE_SIGNAL_TYPE must be one of average, marginal"),
        (env.PROVIDER_CHAIN, "em,profile", "CARBON_AWARE_PROVIDER_CHAIN: unknown provider 'em'"),
        (env.UKCI_REGIONS, "eu-west-2=London", "CARBON_AWARE_UKCI_REGIONS: 'eu-west-2=London'"),
        (env.FORECAST_HOURS, "100", "horizon must be 1 to 72 hours"),
        (env.EMISSION_FACTOR_TYPE, "lca", "CARBON_AWARE_EMISSION_FACTOR_TYPE must be one of"),
    ],
)
def test_settings_name_the_bad_variable(name, value, message):
    base = {env.REGIONS: "eu-west-1", env.SIGNALS_TABLE: "t", name: value}
    with pytest.raises(ConfigError, match=message):
        MonitorSettings.from_env(base)


def test_settings_defaults():
    settings = MonitorSettings.from_env(
        {env.REGIONS: "eu-west-1, us-east-1", env.SIGNALS_TABLE: "t"}
    )
    assert settings.regions == ("eu-west-1", "us-east-1")
    assert (settings.policy.interval, settings.policy.forecast_interval) == (900, 3600)
    assert settings.policy.horizon == 48 * 3600
    assert settings.electricitymaps_secret is None and settings.chain is None


def test_an_unexpected_failure_is_reported_not_raised(configured, monkeypatch):
    def broken(self, emit):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Monitor, "run", broken)
    assert monitor.handler({}, Context()) == {"ok": False, "error": "RuntimeError: disk on fire"}


def test_an_unknown_region_is_a_configuration_error(configured, monkeypatch):
    monkeypatch.setenv(env.REGIONS, "eu-west-1,eu-west-9")
    result = monitor.handler({}, Context())
    assert result == {
        "ok": False,
        "error": "configuration: unknown region 'eu-west-9': not in the region catalog",
    }


def test_the_history_link_reads_what_the_cache_keeps(dynamodb):
    settings = MonitorSettings.from_env(
        {
            env.REGIONS: "eu-west-1",
            env.SIGNALS_TABLE: SIGNALS_TABLE,
            env.OBSERVATION_TTL_DAYS: "365",
        }
    )
    built = Monitor.build(settings, dynamodb=dynamodb, secrets=None, clock=FakeClock())
    (history,) = [p for p in built.providers.chain.providers if p.name == "history"]
    assert history.lookback == built.cache.observation_ttl == 365 * 86400


def test_the_history_link_sees_every_configured_zone_as_a_candidate_peer(dynamodb):
    settings = MonitorSettings.from_env(
        {
            env.REGIONS: "eu-west-1,eu-central-1,us-east-1,us-east-2",
            env.SIGNALS_TABLE: SIGNALS_TABLE,
        }
    )
    built = Monitor.build(settings, dynamodb=dynamodb, secrets=None, clock=FakeClock())
    (history,) = [p for p in built.providers.chain.providers if p.name == "history"]
    assert history.peers == tuple(t.zone for t in built.targets)
    assert set(history.peers) == {"IE", "DE", "US-MIDA-PJM"}
