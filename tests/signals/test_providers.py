"""Each live provider against its fake API: request format, parsing, units and credentials."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime
from pathlib import Path

import pytest

from carbon_aware.engine.signal import SignalType
from carbon_aware.signals.errors import AuthError, BadResponse, NoData
from carbon_aware.signals.providers.electricitymaps import ElectricityMaps
from carbon_aware.signals.providers.ukci import UkCarbonIntensity
from carbon_aware.signals.providers.watttime import WattTime
from fakes.chains import providers, settings, target
from fakes.clock import T0
from fakes.providers import EM_KEY, ElectricityMapsApp, intensity
from fakes.server import Reply

HOUR = 3600.0
DAY = 24 * HOUR
MARGINAL = SignalType.MARGINAL


def em(server, clock) -> ElectricityMaps:
    return providers(settings(em=server), clock).chain.providers[0]


def wt(server, clock) -> WattTime:
    return providers(settings(wt=server, signal_type=MARGINAL), clock).chain.providers[0]


def neso(server, clock, **extra) -> UkCarbonIntensity:
    return providers(settings(neso=server, **extra), clock).chain.providers[0]


def test_electricitymaps_latest_sends_key_and_lifecycle(em_server, clock):
    signal = em(em_server, clock).latest(target("eu-central-1"), T0)
    (request,) = em_server.requests
    assert request.path == "/v3/carbon-intensity/latest"
    assert request.query == {"zone": "DE", "emissionFactorType": "lifecycle"}
    assert request.headers["auth-token"] == EM_KEY
    assert signal.values.tolist() == [intensity("DE", T0)]
    assert (signal.source, signal.signal_type, signal.region) == (
        "electricitymaps",
        "average",
        "DE",
    )
    assert signal.end == T0 + HOUR


def test_electricitymaps_forecast_asks_horizon_hours(em_server, clock):
    signal = em(em_server, clock).forecast(target("eu-west-1"), T0, 100 * HOUR)
    assert em_server.requests[0].query["horizonHours"] == "72"
    assert signal.times.size == 72
    assert signal.values[0] == intensity("IE", T0 + HOUR)
    assert not signal.estimated


def test_electricitymaps_history_splits_past_range_into_ten_days(em_server, clock):
    start = T0 - 25 * DAY
    signal = em(em_server, clock).history(target("eu-central-1"), start, T0)
    assert len(em_server.paths("/v3/carbon-intensity/past-range")) == 3
    assert signal.times.size == 25 * 24
    assert signal.start == start


def test_electricitymaps_rejects_other_emission_factor(em_server, clock):
    em_server.script("/v3", Reply(body={**_em_point("DE"), "emissionFactorType": "direct"}))
    with pytest.raises(BadResponse, match="asked for lifecycle factors, got direct"):
        em(em_server, clock).latest(target("eu-central-1"), T0)


def test_electricitymaps_rejects_answer_for_another_zone(em_server, clock):
    em_server.script("/v3", Reply(body=_em_point("FR")))
    with pytest.raises(BadResponse, match="asked for zone DE, got FR"):
        em(em_server, clock).latest(target("eu-central-1"), T0)


def test_electricitymaps_wrong_key_is_an_auth_error(em_server, clock):
    config = settings(em=em_server)
    config = type(config)(**{**config.__dict__, "electricitymaps_key": "wrong"})
    provider = providers(config, clock).chain.providers[0]
    with pytest.raises(AuthError, match="HTTP 401: Invalid authentication token"):
        provider.latest(target("eu-central-1"), T0)


def test_electricitymaps_empty_forecast_is_no_data(em_server, clock):
    em_server.script("/v3", Reply(body={"zone": "DE", "forecast": []}))
    with pytest.raises(NoData, match="empty data"):
        em(em_server, clock).forecast(target("eu-central-1"), T0, DAY)


def test_electricitymaps_does_not_cover_regions_without_zone_or_marginal():
    provider = ElectricityMaps(None, "k")  # type: ignore[arg-type]
    assert provider.supports(target("eu-central-1"))
    assert not provider.supports(target("ca-west-1"))
    assert not provider.supports(target("eu-central-1", MARGINAL))


def test_watttime_logs_in_once_and_converts_lbs_per_mwh(wt_server, clock):
    provider = wt(wt_server, clock)
    signal = provider.forecast(target("us-west-1", MARGINAL), T0, 2 * HOUR)
    again = provider.forecast(target("us-west-1", MARGINAL), T0, 2 * HOUR)
    assert wt_server.paths("/login") == ["/login"]
    forecast = wt_server.requests[1]
    assert forecast.headers["authorization"] == "Bearer jwt-1"
    assert forecast.query == {
        "region": "CAISO_NORTH",
        "signal_type": "co2_moer",
        "horizon_hours": "2",
    }
    assert signal.values[0] == pytest.approx(intensity("CAISO_NORTH", T0), abs=0.01)
    assert signal.signal_type is MARGINAL and signal.times.size == 24
    assert again.values.tolist() == signal.values.tolist()


def test_watttime_renews_token_before_expiry(wt_server, clock):
    provider = wt(wt_server, clock)
    provider.latest(target("us-west-1", MARGINAL), clock.now())
    clock.advance(26 * 60)
    provider.latest(target("us-west-1", MARGINAL), clock.now())
    assert wt_server.paths("/login") == ["/login", "/login"]


def test_watttime_refreshes_token_on_401_and_retries_once(wt_server, clock):
    provider = wt(wt_server, clock)
    provider.latest(target("us-west-1", MARGINAL), T0)
    wt_server.app.tokens.clear()  # the server forgot our token (revoked, restarted)
    signal = provider.latest(target("us-west-1", MARGINAL), T0)
    assert wt_server.paths() == [
        "/login",
        "/v3/historical",
        "/v3/historical",
        "/login",
        "/v3/historical",
    ]
    assert signal.times.size > 0
    assert provider.logins == 2


def test_watttime_bad_credentials_is_an_auth_error(wt_server, clock):
    config = settings(wt=wt_server, signal_type=MARGINAL)
    config = type(config)(**{**config.__dict__, "watttime_password": "nope"})
    provider = providers(config, clock).chain.providers[0]
    with pytest.raises(AuthError, match="HTTP 403"):
        provider.forecast(target("us-west-1", MARGINAL), T0, HOUR)


@pytest.mark.parametrize(
    ("units", "signal", "message"),
    [
        ("percentile", "co2_moer", "unknown units 'percentile'"),
        ("lbs_co2_per_mwh", "health_damage", "asked for co2_moer, got 'health_damage'"),
    ],
)
def test_watttime_rejects_unit_and_signal_mixups(wt_server, clock, units, signal, message):
    provider = wt(wt_server, clock)
    body = {
        "data": [{"point_time": "2025-03-06T12:00:00+00:00", "value": 96.0}],
        "meta": {"region": "CAISO_NORTH", "signal_type": signal, "units": units},
    }
    wt_server.script("/v3", Reply(body=body))
    with pytest.raises(BadResponse, match=message):
        provider.forecast(target("us-west-1", MARGINAL), T0, HOUR)


def test_watttime_region_from_location_when_catalog_has_coordinates(wt_server, clock):
    plain = target("us-west-1", MARGINAL)
    info = dataclasses.replace(plain.info, watttime_region=None, location="39.74, -104.99")
    located = dataclasses.replace(plain, info=info)
    provider = wt(wt_server, clock)
    assert provider.supports(located)
    provider.forecast(located, T0, HOUR)
    provider.forecast(located, T0, HOUR)
    lookups = [r for r in wt_server.requests if r.path == "/v3/region-from-loc"]
    assert len(lookups) == 1
    assert lookups[0].query == {
        "latitude": "39.74",
        "longitude": "-104.99",
        "signal_type": "co2_moer",
    }
    assert wt_server.requests[-1].query["region"] == "PSCO"


def test_neso_national_latest_prefers_actual(neso_server, clock):
    signal = neso(neso_server, clock).latest(target("eu-west-2"), T0)
    assert neso_server.paths() == ["/intensity"]
    assert signal.values.tolist() == [round(intensity("GB", T0))]
    assert not signal.estimated and signal.end == T0 + 1800


def test_neso_national_forecast_48h(neso_server, clock):
    signal = neso(neso_server, clock).forecast(target("eu-west-2"), T0, 24 * HOUR)
    assert neso_server.paths() == ["/intensity/2025-03-06T12:00Z/fw48h"]
    assert signal.times.size == 49  # windows up to and including the one starting at the horizon
    assert signal.source == "ukci" and signal.signal_type == "average"


def test_neso_regional_london_forecast_and_estimated_latest(neso_server, clock):
    provider = neso(neso_server, clock, ukci_regions={"eu-west-2": 13})
    forecast = provider.forecast(target("eu-west-2"), T0, 48 * HOUR)
    latest = provider.latest(target("eu-west-2"), T0)
    assert neso_server.paths() == [
        "/regional/intensity/2025-03-06T12:00Z/fw48h/regionid/13",
        "/regional/regionid/13",
    ]
    assert forecast.times.size == 96
    assert latest.estimated  # regional figures are NESO's estimates, never measured


def test_neso_only_covers_gb():
    provider = UkCarbonIntensity(None)  # type: ignore[arg-type]
    assert provider.supports(target("eu-west-2"))
    assert not provider.supports(target("eu-west-1"))


def test_neso_history_in_fourteen_day_requests(neso_server, clock):
    signal = neso(neso_server, clock).history(target("eu-west-2"), T0 - 20 * DAY, T0)
    assert len(neso_server.requests) == 2
    assert signal.times.size == 20 * 48
    assert math.isclose(signal.start, T0 - 20 * DAY)


def _em_point(zone: str) -> dict:
    return ElectricityMapsApp.point(zone, T0)


SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "api_examples"


def test_electricitymaps_renewable_share_from_the_power_breakdown(em_server, clock):
    share = em(em_server, clock).renewable_share(target("eu-central-1"), T0)
    (request,) = em_server.requests
    assert request.path == "/v3/power-breakdown/latest" and request.query == {"zone": "DE"}
    expected = ElectricityMapsApp.power_breakdown("DE", T0 - T0 % HOUR)["renewablePercentage"]
    assert (share.zone, share.share, share.estimated) == ("DE", expected / 100, False)


def test_electricitymaps_renewable_share_of_the_real_sample(em_server, clock):
    sample = SAMPLES / "electricitymaps" / "v3_power-breakdown_latest.json"
    if not sample.exists():
        pytest.skip(f"needs the shared API samples ({sample}), absent here")
    body = json.loads(sample.read_text())
    em_server.script("/v3", Reply(body=body))
    at = datetime.fromisoformat(body["datetime"].replace("Z", "+00:00")).timestamp()
    share = em(em_server, clock).renewable_share(target("eu-central-1"), at + 1800)
    assert (share.zone, share.share, share.at) == ("DE", 0.33, at)
    assert share.estimated is True  # the sample is an estimate


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"renewablePercentage": None}, "missing or not a number"),
        ({"renewablePercentage": 140}, "not in 0..100"),
        ({"zone": "FR"}, "asked for zone DE, got FR"),
        ({"datetime": "2020-01-01T00:00:00.000Z"}, "stale"),
    ],
)
def test_electricitymaps_renewable_share_rejects_bad_answers(em_server, clock, change, message):
    body = {**ElectricityMapsApp.power_breakdown("DE", T0 - T0 % HOUR), **change}
    em_server.script("/v3", Reply(body=body))
    with pytest.raises(BadResponse, match=message):
        em(em_server, clock).renewable_share(target("eu-central-1"), T0)
