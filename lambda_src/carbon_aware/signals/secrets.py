"""Provider credentials from AWS Secrets Manager or SSM Parameter Store, cached, never logged.

A reference names where the value lives:

- ``arn:aws:secretsmanager:...`` or ``secretsmanager:<name>`` or a bare name: Secrets Manager;
- ``arn:aws:ssm:...:parameter/...`` or ``ssm:<name>`` or a name starting with ``/``: an SSM
  (SecureString) parameter, decrypted.

Values are kept for ``max_age`` seconds so that a warm Lambda does not call AWS on every run, and
a rotated secret is picked up after at most that long.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.signals.clock import SYSTEM_CLOCK, Clock


class SecretError(ValueError):
    """A credential could not be read or has the wrong shape; names the reference, not the value."""


class SecretResolver:
    """Reads and caches secret values; clients are made on first use."""

    def __init__(
        self,
        client: Callable[[str], Any],
        *,
        clock: Clock = SYSTEM_CLOCK,
        max_age: float = 900.0,
    ) -> None:
        self._client = client
        self._clients: dict[str, Any] = {}
        self.clock = clock
        self.max_age = max_age
        self._cache: dict[str, tuple[str, float]] = {}

    def get(self, reference: str) -> str:
        """The secret's value (a string)."""
        now = self.clock.now()
        hit = self._cache.get(reference)
        if hit is not None and now - hit[1] < self.max_age:
            return hit[0]
        service, name = _locate(reference)
        try:
            if service == "ssm":
                response = self._service("ssm").get_parameter(Name=name, WithDecryption=True)
                value = response["Parameter"]["Value"]
            else:
                value = (
                    self._service("secretsmanager")
                    .get_secret_value(SecretId=name)
                    .get("SecretString")
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise SecretError(f"secret {reference}: {code}") from None
        except BotoCoreError as exc:
            raise SecretError(f"secret {reference}: {type(exc).__name__}") from None
        if not isinstance(value, str) or not value.strip():
            raise SecretError(f"secret {reference}: empty or not a string")
        self._cache[reference] = (value, now)
        return value

    def get_fields(self, reference: str, *names: str) -> tuple[str, ...]:
        """String fields of a JSON-object secret, in the order asked."""
        try:
            data = json.loads(self.get(reference))
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise SecretError(f"secret {reference}: must be a JSON object with {', '.join(names)}")
        for name in names:
            if not isinstance(data.get(name), str) or not data[name]:
                raise SecretError(f"secret {reference}: field {name!r} missing or empty")
        return tuple(data[name] for name in names)

    def _service(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client(service)
        return self._clients[service]


def _locate(reference: str) -> tuple[str, str]:
    """``(service, name or ARN)`` of a reference."""
    ref = reference.strip()
    if not ref:
        raise SecretError("secret reference is empty")
    if ref.startswith("arn:"):
        parts = ref.split(":", 5)
        if len(parts) == 6 and parts[2] in ("ssm", "secretsmanager"):
            return parts[2], ref
        raise SecretError(f"secret {reference}: not a Secrets Manager or SSM parameter ARN")
    for prefix in ("ssm:", "secretsmanager:"):
        if ref.startswith(prefix):
            return prefix[:-1], ref[len(prefix) :]
    return ("ssm", ref) if ref.startswith("/") else ("secretsmanager", ref)
