"""The fallback chain: order, no calls after an answer, provenance, estimates as the last resort."""

from __future__ import annotations

import pytest

from carbon_aware.engine.signal import SignalType
from carbon_aware.signals.chain import NoAnswer
from carbon_aware.signals.settings import ProviderSettings, SettingsError, build_providers
from fakes.chains import providers, settings, target
from fakes.clock import T0
from fakes.server import Reply

HOUR = 3600.0


def test_default_chain_orders():
    average = ProviderSettings(
        electricitymaps_key="k", watttime_username="u", watttime_password="p"
    )
    marginal = ProviderSettings(
        signal_type=SignalType.MARGINAL,
        electricitymaps_key="k",
        watttime_username="u",
        watttime_password="p",
    )
    assert average.chain_names(with_history=True) == [
        "electricitymaps",
        "ukci",
        "history",
        "profile",
    ]
    assert marginal.chain_names(with_history=True) == [
        "electricitymaps",
        "watttime",
        "ukci",
        "history",
        "profile",
    ]
    assert ProviderSettings().chain_names(with_history=False) == ["ukci", "profile"]


def test_keys_never_show_in_repr():
    text = repr(ProviderSettings(electricitymaps_key="em-secret", watttime_password="wt-secret"))
    assert "em-secret" not in text and "wt-secret" not in text


def test_explicit_chain_needs_its_credentials():
    with pytest.raises(SettingsError, match="electricitymaps is in the chain but no API key"):
        build_providers(ProviderSettings(chain=("electricitymaps", "profile")), clock=None)


def test_first_answer_wins_and_later_providers_are_not_called(em_server, neso_server, clock):
    chain = providers(settings(em=em_server, neso=neso_server), clock).chain
    answer = chain.forecast(target("eu-west-2"), T0, 24 * HOUR)
    assert answer.provenance.provider == "electricitymaps"
    assert answer.fallbacks == 0 and answer.live
    assert len(em_server.requests) == 1
    assert neso_server.requests == []


def test_falls_back_in_order_with_provenance(em_server, neso_server, clock):
    em_server.script("/v3", *[Reply(503)] * 3)
    chain = providers(settings(em=em_server, neso=neso_server), clock).chain
    answer = chain.forecast(target("eu-west-2"), T0, 24 * HOUR)
    assert [a.provider for a in answer.attempts] == ["electricitymaps"]
    assert answer.attempts[0].reason == "HTTP 503"
    assert answer.provenance.to_dict() == {
        "provider": "ukci",
        "signal_type": "average",
        "estimated": False,
        "fetched_at": T0,
    }


def test_every_live_provider_down_ends_in_a_labelled_estimate(em_server, neso_server, clock):
    em_server.script("/v3", *[Reply(500)] * 3)
    neso_server.script("/", *[Reply(raw="<html>oops</html>")] * 3)
    chain = providers(settings(em=em_server, neso=neso_server), clock).chain
    answer = chain.forecast(target("eu-west-2"), T0, 24 * HOUR)
    assert [a.error for a in answer.attempts] == ["ProviderUnavailable", "BadResponse"]
    assert answer.provenance.provider == "profile"
    assert answer.provenance.estimated and not answer.live
    assert answer.signal.covers(T0, T0 + 24 * HOUR)


def test_uncovered_providers_are_passed_over_silently(em_server, neso_server, clock):
    chain = providers(settings(em=em_server, neso=neso_server), clock).chain
    answer = chain.forecast(target("ca-west-1"), T0, HOUR)  # no zone: neither EM nor NESO
    assert answer.fallbacks == 0
    assert answer.provenance.provider == "static-factor"
    assert em_server.requests == [] and neso_server.requests == []


def test_marginal_targets_skip_average_providers(em_server, wt_server, clock):
    config = settings(em=em_server, wt=wt_server, signal_type=SignalType.MARGINAL)
    answer = providers(config, clock).chain.forecast(
        target("us-west-1", SignalType.MARGINAL), T0, HOUR
    )
    assert answer.provenance.provider == "watttime"
    assert answer.provenance.signal_type == "marginal"
    assert em_server.requests == []


def test_latest_without_any_live_answer_raises(em_server, clock):
    em_server.script("/v3", Reply(404, {"message": "zone not found"}))
    chain = providers(settings(em=em_server), clock).chain
    with pytest.raises(NoAnswer, match="electricitymaps: HTTP 404: zone not found"):
        chain.latest(target("eu-central-1"), T0)
