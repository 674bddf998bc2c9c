"""Every environment variable the ``exporter`` handler reads (the drift test checks Terraform)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from carbon_aware.runtime.config import ConfigError, required

EXPORT_BUCKET = "CARBON_AWARE_EXPORT_BUCKET"
EXPORT_PREFIX = "CARBON_AWARE_EXPORT_PREFIX"


@dataclass(frozen=True)
class ExportSettings:
    """Where the exporter writes: ``s3://<bucket>/<prefix>/<table>/dt=YYYY-MM-DD/…``."""

    bucket: str
    prefix: str = "exports"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ExportSettings:
        """Load and validate; ConfigError naming the variable when wrong."""
        prefix = environ.get(EXPORT_PREFIX, "exports").strip().strip("/")
        if not prefix:
            raise ConfigError(f"environment variable {EXPORT_PREFIX} must not be empty")
        return cls(bucket=required(environ, EXPORT_BUCKET), prefix=prefix)
