"""HTTP for the providers: one session each, explicit timeouts, retries and a rate limit.

Retries (timeouts, connection errors, HTTP 429 and 5xx) back off exponentially with full jitter,
or wait exactly what ``Retry-After`` asks when that is no longer than ``max_retry_after``. Every
request first takes a token from the provider's bucket, and nothing is sent while its circuit
breaker is open. Logs name the provider, the path and the status only: never headers or URLs with
credentials.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from carbon_aware import __version__
from carbon_aware.signals.breaker import CircuitBreaker
from carbon_aware.signals.clock import SYSTEM_CLOCK, Clock
from carbon_aware.signals.errors import (
    AuthError,
    BadResponse,
    NoData,
    ProviderError,
    ProviderUnavailable,
    Skipped,
)
from carbon_aware.signals.ratelimit import TokenBucket

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"carbon-aware-compute/{__version__}"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect and to wait for the response."""

    connect: float = 3.05
    read: float = 10.0


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` requests at most; backoff ``base * 2**n`` capped at ``max_delay``, jittered."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0


DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_RETRY = RetryPolicy()


class HttpClient:
    """JSON GETs against one provider's base URL; ``calls`` counts the requests actually sent."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        bucket: TokenBucket,
        breaker: CircuitBreaker,
        clock: Clock = SYSTEM_CLOCK,
        session: requests.Session | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        retry: RetryPolicy = DEFAULT_RETRY,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.bucket = bucket
        self.breaker = breaker
        self.clock = clock
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", USER_AGENT)
        self.timeouts = timeouts
        self.retry = retry
        self.jitter = jitter
        self.calls = 0

    def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Any:
        """GET ``base_url/path`` and return the parsed JSON body, retrying transient failures."""
        if not self.breaker.allow():
            raise Skipped(self.name, "circuit open after repeated failures")
        attempt = 0
        while True:
            try:
                return self._once(path, params, headers, auth)
            except (ProviderUnavailable, BadResponse) as exc:
                log.warning("%s %s: %s (attempt %d)", self.name, path, exc.reason, attempt + 1)
                attempt += 1
                delay = self._delay(attempt, exc)
                if delay is None:
                    self.breaker.record_failure()
                    raise
            self.clock.sleep(delay)

    def _once(
        self,
        path: str,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> Any:
        self.bucket.acquire()
        self.calls += 1
        try:
            response = self.session.get(
                f"{self.base_url}/{path.lstrip('/')}",
                params=params,
                headers=headers,
                auth=auth,
                timeout=(self.timeouts.connect, self.timeouts.read),
            )
        except requests.Timeout:
            raise ProviderUnavailable(self.name, "timed out") from None
        except requests.RequestException as exc:
            raise ProviderUnavailable(
                self.name, f"connection failed ({type(exc).__name__})"
            ) from None
        status = response.status_code
        if status in RETRYABLE_STATUS:
            after = _retry_after(response, self.clock.now())
            raise ProviderUnavailable(self.name, f"HTTP {status}", status=status, retry_after=after)
        self.breaker.record_success()
        if status in (401, 403):
            raise AuthError(self.name, f"HTTP {status}: {_message(response)}", status=status)
        if status >= 400:
            raise NoData(self.name, f"HTTP {status}: {_message(response)}", status=status)
        try:
            body = response.json()
        except ValueError:
            raise BadResponse(self.name, f"malformed JSON from {path}", status=status) from None
        return body

    def _delay(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before retry number ``attempt`` (1-based), or None to give up now."""
        if attempt >= self.retry.attempts or isinstance(error, BadResponse):
            return None
        after = error.retry_after if isinstance(error, ProviderUnavailable) else None
        if after is not None:
            return after if after <= self.retry.max_retry_after else None
        cap = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt - 1))
        return self.jitter() * cap


def _retry_after(response: requests.Response, now: float) -> float | None:
    """``Retry-After`` as seconds (delta-seconds, or an HTTP date compared with ``now``)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _message(response: requests.Response) -> str:
    """The API's own short error text (``error``/``message`` fields), else the reason phrase."""
    try:
        body = response.json()
    except ValueError:
        return response.reason or "error"
    if isinstance(body, dict):
        text = body.get("message") or body.get("error") or response.reason
        return str(text)[:200]
    return response.reason or "error"
