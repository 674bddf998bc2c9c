"""Electricity Maps API v3: average carbon intensity (gCO2eq/kWh), lifecycle factors by default.

Endpoints (header ``auth-token``): ``carbon-intensity/latest``, ``/forecast`` (``horizonHours`` up
to 72; needs a plan with forecasts), ``/history`` (last 24 h) and ``/past-range`` (at most 10 days
of hourly data per request, so longer ranges are split); ``power-breakdown/latest`` for the zone's
renewable share. An answer for another zone or another
emission factor type than asked for is rejected as a unit mix-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.engine.timeutil import iso, parse_iso
from carbon_aware.signals.errors import BadResponse
from carbon_aware.signals.http import HttpClient
from carbon_aware.signals.providers.base import HOUR, chunks, field, to_signal
from carbon_aware.signals.sanity import Cleaned, clean
from carbon_aware.signals.targets import Target

NAME = "electricitymaps"
DEFAULT_URL = "https://api.electricitymap.org/v3"
EMISSION_FACTOR_TYPES = ("lifecycle", "direct")
MAX_FORECAST_HOURS = 72
PAST_RANGE_SECONDS = 10 * 24 * HOUR


@dataclass(frozen=True)
class RenewableShare:
    """A zone's renewable share of consumption (0..1) for the hour starting at ``at``."""

    zone: str
    share: float
    at: float
    estimated: bool


class ElectricityMaps:
    """Electricity Maps for targets whose region has an Electricity Maps zone."""

    name = NAME
    live = True

    def __init__(
        self,
        http: HttpClient,
        api_key: str,
        *,
        emission_factor_type: str = "lifecycle",
        max_age: float = 3 * HOUR,
    ) -> None:
        if emission_factor_type not in EMISSION_FACTOR_TYPES:
            raise ValueError(
                f"emission_factor_type must be one of {', '.join(EMISSION_FACTOR_TYPES)}, "
                f"got {emission_factor_type!r}"
            )
        self.http = http
        self._headers = {"auth-token": api_key}
        self.emission_factor_type = emission_factor_type
        self.max_age = max_age

    def supports(self, target: Target) -> bool:
        """Average targets with an Electricity Maps zone."""
        return target.signal_type is SignalType.AVERAGE and bool(target.info.electricitymaps_zone)

    def latest(self, target: Target, now: float) -> Signal:
        """``carbon-intensity/latest``: one hourly point, flagged as Electricity Maps flags it."""
        body = self._get("carbon-intensity/latest", target)
        self._check(body, target)
        points = [(body.get("datetime"), body.get("carbonIntensity"))]
        cleaned = clean(NAME, target.zone, points, oldest=now - self.max_age, newest=now + HOUR)
        return self._signal(target, cleaned, bool(body.get("isEstimated")))

    def forecast(self, target: Target, now: float, horizon: float) -> Signal:
        """``carbon-intensity/forecast`` for ``horizon`` seconds (at most 72 hours)."""
        hours = max(1, min(MAX_FORECAST_HOURS, math.ceil(horizon / HOUR)))
        body = self._get("carbon-intensity/forecast", target, horizonHours=hours)
        rows = field(body, "forecast", list, NAME)
        self._check(body, target, rows)
        cleaned = clean(
            NAME, target.zone, _pairs(rows), oldest=now - HOUR, newest=now + horizon + HOUR
        )
        return self._signal(target, cleaned, False)

    def history(self, target: Target, start: float, end: float) -> Signal:
        """``carbon-intensity/past-range`` over ``[start, end)``, 10 days per request."""
        rows: list[Any] = []
        for a, b in chunks(start, end, PAST_RANGE_SECONDS):
            body = self._get("carbon-intensity/past-range", target, start=iso(a), end=iso(b))
            chunk = field(body, "data", list, NAME)
            self._check(body, target, chunk)
            rows.extend(chunk)
        cleaned = clean(NAME, target.zone, _pairs(rows), oldest=math.floor(start), newest=end)
        estimated = any(isinstance(r, dict) and r.get("isEstimated") for r in rows)
        return self._signal(target, cleaned, estimated)

    def renewable_share(self, target: Target, now: float) -> RenewableShare:
        """``power-breakdown/latest``: the zone's ``renewablePercentage`` as a fraction."""
        body = self.http.get_json(
            "power-breakdown/latest", params={"zone": target.zone}, headers=self._headers
        )
        self._check(body, target)
        percent = body.get("renewablePercentage") if isinstance(body, dict) else None
        if not isinstance(percent, int | float) or isinstance(percent, bool):
            raise BadResponse(NAME, f"{target.zone}: renewablePercentage missing or not a number")
        if not 0 <= percent <= 100:
            raise BadResponse(NAME, f"{target.zone}: renewablePercentage {percent!r} not in 0..100")
        try:
            at = parse_iso(str(field(body, "datetime", str, NAME))).timestamp()
        except ValueError as exc:
            raise BadResponse(NAME, f"{target.zone}: bad datetime: {exc}") from None
        if not now - self.max_age <= at <= now + HOUR:
            raise BadResponse(NAME, f"{target.zone}: power breakdown of {iso(at)} is stale")
        return RenewableShare(target.zone, percent / 100.0, at, bool(body.get("isEstimated")))

    def _get(self, path: str, target: Target, **params: str | int) -> Any:
        query = {"zone": target.zone, "emissionFactorType": self.emission_factor_type, **params}
        return self.http.get_json(path, params=query, headers=self._headers)

    def _check(self, body: Any, target: Target, rows: list[Any] | None = None) -> None:
        """Reject an answer for another zone or another emission factor type."""
        zone = body.get("zone") if isinstance(body, dict) else None
        if zone is not None and zone != target.zone:
            raise BadResponse(NAME, f"asked for zone {target.zone}, got {zone}")
        for row in [body, *(rows or [])]:
            kind = row.get("emissionFactorType") if isinstance(row, dict) else None
            if kind is not None and kind != self.emission_factor_type:
                raise BadResponse(
                    NAME,
                    f"{target.zone}: asked for {self.emission_factor_type} factors, got {kind}",
                )

    def _signal(self, target: Target, cleaned: Cleaned, estimated: bool) -> Signal:
        return to_signal(
            NAME, target, cleaned, step=HOUR, signal_type=SignalType.AVERAGE, estimated=estimated
        )


def _pairs(rows: list[Any]) -> list[tuple[object, object]]:
    return [
        (r.get("datetime"), r.get("carbonIntensity")) if isinstance(r, dict) else (None, None)
        for r in rows
    ]
