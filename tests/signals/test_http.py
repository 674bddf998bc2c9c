"""The HTTP layer: retries with backoff and jitter, Retry-After, timeouts, bad bodies, breaker."""

from __future__ import annotations

import pytest

from carbon_aware.signals.breaker import BreakerState, CircuitBreaker
from carbon_aware.signals.errors import BadResponse, NoData, ProviderUnavailable, Skipped
from carbon_aware.signals.http import HttpClient, RetryPolicy, Timeouts
from carbon_aware.signals.ratelimit import TokenBucket
from fakes.server import FakeServer, Reply


@pytest.fixture
def server(clock, loopback):
    with FakeServer(lambda request: Reply(body={"ok": True}), clock.now) as running:
        yield running


def client(server, clock, **kwargs) -> HttpClient:
    options = {
        "bucket": TokenBucket("test", rate=100, capacity=100, clock=clock),
        "breaker": CircuitBreaker("test", threshold=2, reset_after=60, clock=clock),
        "clock": clock,
        "timeouts": Timeouts(connect=0.5, read=0.2),
        "retry": RetryPolicy(attempts=3, base_delay=1.0, max_delay=8.0, max_retry_after=30.0),
        "jitter": lambda: 0.5,
    } | kwargs
    return HttpClient("test", server.url, **options)


def test_retries_5xx_with_jittered_exponential_backoff(server, clock):
    server.script("/x", Reply(500), Reply(503))
    assert client(server, clock).get_json("x") == {"ok": True}
    assert clock.sleeps == [0.5, 1.0]  # jitter 0.5 x (1 s, 2 s)
    assert len(server.requests) == 3


def test_honours_retry_after_seconds_on_429(server, clock):
    server.script("/x", Reply(429, headers={"Retry-After": "7"}))
    assert client(server, clock).get_json("x") == {"ok": True}
    assert clock.sleeps == [7.0]
    assert server.requests[1].at - server.requests[0].at == 7.0


def test_honours_retry_after_http_date(server, clock):
    server.script("/x", Reply(429, headers={"Retry-After": "Thu, 06 Mar 2025 12:00:12 GMT"}))
    client(server, clock).get_json("x")
    assert clock.sleeps == [12.0]


def test_gives_up_when_retry_after_is_too_long(server, clock):
    server.script("/x", Reply(429, headers={"Retry-After": "3600"}))
    with pytest.raises(ProviderUnavailable, match="HTTP 429"):
        client(server, clock).get_json("x")
    assert clock.sleeps == [] and len(server.requests) == 1


def test_timeouts_are_retried_then_reported(server, clock):
    server.script("/x", *[Reply(delay=0.5)] * 3)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        client(server, clock).get_json("x")
    assert len(server.requests) == 3


def test_malformed_json_is_not_retried(server, clock):
    server.script("/x", Reply(raw="{not json"))
    with pytest.raises(BadResponse, match="malformed JSON"):
        client(server, clock).get_json("x")
    assert len(server.requests) == 1


def test_404_is_no_data_with_the_api_message(server, clock):
    server.script("/x", Reply(404, {"error": "No coverage available for these coordinates"}))
    with pytest.raises(NoData, match="HTTP 404: No coverage available"):
        client(server, clock).get_json("x")


def test_breaker_opens_skips_calls_and_half_opens_after_cool_down(server, clock):
    http = client(server, clock, retry=RetryPolicy(attempts=1))
    server.script("/x", Reply(500), Reply(500))
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            http.get_json("x")
    assert http.breaker.state is BreakerState.OPEN
    with pytest.raises(Skipped, match="circuit open"):
        http.get_json("x")
    assert len(server.requests) == 2  # the skipped call never left
    clock.advance(60)
    assert http.breaker.state is BreakerState.HALF_OPEN
    assert http.get_json("x") == {"ok": True}
    assert http.breaker.state is BreakerState.CLOSED


def test_failed_trial_call_reopens_the_circuit(server, clock):
    http = client(server, clock, retry=RetryPolicy(attempts=1))
    server.script("/x", Reply(500), Reply(500), Reply(500))
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            http.get_json("x")
    clock.advance(60)
    with pytest.raises(ProviderUnavailable):
        http.get_json("x")
    assert http.breaker.state is BreakerState.OPEN


def test_counts_requests_sent(server, clock):
    http = client(server, clock)
    server.script("/x", Reply(502))
    http.get_json("x")
    http.get_json("y")
    assert http.calls == 3
