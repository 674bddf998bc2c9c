"""What every price and capacity source returns: a value with where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Sources named in provenance.
SPOT_HISTORY = "ec2:DescribeSpotPriceHistory"
PRICE_LIST = "pricing:GetProducts"
PLACEMENT_SCORES = "ec2:GetSpotPlacementScores"
NEUTRAL = "neutral-default"


class PriceSourceError(Exception):
    """A price or score source could not answer (API error, malformed response)."""


@dataclass(frozen=True)
class QuoteProvenance:
    """Where a quote came from: the API (or default) and when it was fetched. ``fallback`` says
    the quote is not a fresh answer (last known value served because the source failed or the
    budget was spent, or a neutral default)."""

    source: str
    fetched_at: float
    fallback: bool = False
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON shape (decisions, cache items)."""
        return {
            "source": self.source,
            "fetched_at": self.fetched_at,
            "fallback": self.fallback,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> QuoteProvenance:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(raw["source"]),
            float(raw["fetched_at"]),
            bool(raw.get("fallback", False)),
            str(raw.get("detail", "")),
        )


@dataclass(frozen=True)
class PriceQuote:
    """A price in USD per ``unit`` (``instance-hour``, ``vcpu-hour``, ``gb-hour``); ``value`` is
    None when no source knows it (``provenance.detail`` says why)."""

    value: float | None
    unit: str
    provenance: QuoteProvenance

    @property
    def known(self) -> bool:
        """Whether there is a price."""
        return self.value is not None


@dataclass(frozen=True)
class ScoreQuote:
    """A spot placement score (1..10) of one region for one request."""

    region: str
    score: int
    provenance: QuoteProvenance
