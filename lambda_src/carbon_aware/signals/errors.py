"""Why a carbon-data provider gave no usable answer. Messages are short and never hold secrets."""

from __future__ import annotations


class ProviderError(Exception):
    """A provider gave no usable data. ``transient`` failures count against its circuit breaker."""

    transient = True

    def __init__(self, provider: str, reason: str, *, status: int | None = None) -> None:
        self.provider = provider
        self.reason = reason
        self.status = status
        super().__init__(f"{provider}: {reason}")


class ProviderUnavailable(ProviderError):
    """Timeout, connection failure, HTTP 5xx or 429; ``retry_after`` is the server's wish (s)."""

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, reason, status=status)
        self.retry_after = retry_after


class BadResponse(ProviderError):
    """The answer was not what the API documents: malformed JSON, wrong shape or units."""


class AuthError(ProviderError):
    """HTTP 401/403: a missing, wrong or expired credential, or a plan without access."""

    transient = False


class NoData(ProviderError):
    """The provider is up but has nothing usable for this zone and time."""

    transient = False


class Skipped(ProviderError):
    """Not called at all: circuit open, or the rate limit would make us wait too long."""

    transient = False
