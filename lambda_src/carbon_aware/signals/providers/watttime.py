"""WattTime API v3: marginal operating emissions rate (MOER), converted to gCO2/kWh.

``GET /login`` with HTTP Basic returns a token valid about 30 minutes: it is cached, renewed
before it expires, and renewed once more when a data call answers 401. Data calls send
``Authorization: Bearer``. Values come in the units ``meta.units`` names (``lbs_co2_per_mwh``:
x 0.4536); any other unit (e.g. ``percentile`` from ``signal-index``) is rejected. WattTime
allows 3,000 requests per 5 minutes and 100 logins per 5 minutes: the provider's two token
buckets are sized to stay inside both (see :func:`carbon_aware.signals.settings.build_chain`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from carbon_aware.engine.issued import IssuedForecast
from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.engine.timeutil import iso, parse_seconds
from carbon_aware.signals.clock import Clock
from carbon_aware.signals.errors import AuthError, BadResponse, NoData
from carbon_aware.signals.http import HttpClient
from carbon_aware.signals.providers.base import HOUR, chunks, field, to_signal
from carbon_aware.signals.sanity import clean
from carbon_aware.signals.targets import Target

NAME = "watttime"
DEFAULT_URL = "https://api.watttime.org"
SIGNAL = "co2_moer"
STEP = 300.0
TOKEN_LIFETIME = 30 * 60.0
TOKEN_MARGIN = 5 * 60.0
MAX_FORECAST_HOURS = 72
HISTORY_CHUNK = 30 * 24 * HOUR
FORECAST_HISTORY_CHUNK = 24 * HOUR
# gCO2/kWh per unit: 1 lb/MWh = 453.6 g / 1000 kWh.
UNITS = {"lbs_co2_per_mwh": 0.4536, "kg_co2_per_mwh": 1.0, "g_co2_per_kwh": 1.0}
_COORDINATES = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class WattTime:
    """WattTime for marginal targets with a WattTime region (or coordinates to look one up)."""

    name = NAME
    live = True

    def __init__(
        self,
        api: HttpClient,
        login: HttpClient,
        username: str,
        password: str,
        *,
        clock: Clock,
        max_age: float = HOUR,
    ) -> None:
        self.api = api
        self.login_http = login
        self._credentials = (username, password)
        self.clock = clock
        self.max_age = max_age
        self._token: str | None = None
        self._token_expires = -math.inf
        self._regions: dict[str, str] = {}
        self.logins = 0

    def supports(self, target: Target) -> bool:
        """Marginal targets whose region has a WattTime region id or ``lat,lon`` location."""
        info = target.info
        located = bool(info.location and _COORDINATES.match(info.location))
        return target.signal_type is SignalType.MARGINAL and (bool(info.watttime_region) or located)

    def latest(self, target: Target, now: float) -> Signal:
        """``/v3/historical`` over the last ``max_age`` seconds."""
        body = self._data(
            "v3/historical", target, start=iso(now - self.max_age), end=iso(now + STEP)
        )
        return self._series(body, target, oldest=now - self.max_age, newest=now + STEP)

    def forecast(self, target: Target, now: float, horizon: float) -> Signal:
        """``/v3/forecast`` for ``horizon`` seconds (at most 72 hours)."""
        hours = max(1, min(MAX_FORECAST_HOURS, math.ceil(horizon / HOUR)))
        body = self._data("v3/forecast", target, horizon_hours=hours)
        return self._series(body, target, oldest=now - HOUR, newest=now + horizon + HOUR)

    def history(self, target: Target, start: float, end: float) -> Signal:
        """``/v3/historical`` over ``[start, end)``, 30 days per request."""
        rows: list[Any] = []
        scale = None
        for a, b in chunks(start, end, HISTORY_CHUNK):
            body = self._data("v3/historical", target, start=iso(a), end=iso(b))
            rows.extend(field(body, "data", list, NAME))
            scale = _scale(body, target)
        return self._signal(target, rows, scale or 1.0, oldest=math.floor(start), newest=end)

    def forecast_history(self, target: Target, start: float, end: float) -> list[IssuedForecast]:
        """``/v3/forecast/historical``: every forecast generated in ``[start, end)``, a day per
        request (needs a plan with historical forecasts; otherwise the API answers 403)."""
        forecasts: dict[float, IssuedForecast] = {}  # by issue time: chunk edges may repeat one
        for a, b in chunks(start, end, FORECAST_HISTORY_CHUNK):
            body = self._data("v3/forecast/historical", target, start=iso(a), end=iso(b))
            scale = _scale(body, target)
            for item in field(body, "data", list, NAME):
                issued = _issued_at(item, target)
                rows = field(item, "forecast", list, NAME)
                newest = issued + (MAX_FORECAST_HOURS + 1) * HOUR
                signal = self._signal(target, rows, scale, oldest=issued - HOUR, newest=newest)
                forecasts[issued] = IssuedForecast(target.zone, issued, signal)
        return [forecasts[t] for t in sorted(forecasts)]

    def region_of(self, target: Target) -> str:
        """The WattTime region: from the catalog, else ``/v3/region-from-loc`` (cached)."""
        if target.info.watttime_region:
            return target.info.watttime_region
        if target.region not in self._regions:
            match = _COORDINATES.match(target.info.location or "")
            if match is None:
                raise NoData(NAME, f"{target.region}: no WattTime region and no coordinates")
            body = self._authorized(
                "v3/region-from-loc",
                {"latitude": match[1], "longitude": match[2], "signal_type": SIGNAL},
            )
            self._regions[target.region] = field(body, "region", str, NAME)
        return self._regions[target.region]

    def _data(self, path: str, target: Target, **params: str | int) -> Any:
        query = {"region": self.region_of(target), "signal_type": SIGNAL, **params}
        return self._authorized(path, query)

    def _authorized(self, path: str, params: dict[str, str | int]) -> Any:
        """A data call with the cached token; on 401 log in again and retry once."""
        try:
            return self.api.get_json(path, params=params, headers=self._bearer())
        except AuthError as exc:
            if exc.status != 401:
                raise
            self._token = None
            return self.api.get_json(path, params=params, headers=self._bearer())

    def _bearer(self) -> dict[str, str]:
        now = self.clock.now()
        if self._token is None or now >= self._token_expires:
            body = self.login_http.get_json("login", auth=self._credentials)
            self._token = field(body, "token", str, NAME)
            self._token_expires = now + TOKEN_LIFETIME - TOKEN_MARGIN
            self.logins += 1
        return {"Authorization": f"Bearer {self._token}"}

    def _series(self, body: Any, target: Target, *, oldest: float, newest: float) -> Signal:
        rows = field(body, "data", list, NAME)
        return self._signal(target, rows, _scale(body, target), oldest=oldest, newest=newest)

    def _signal(
        self, target: Target, rows: list[Any], scale: float, *, oldest: float, newest: float
    ) -> Signal:
        pairs = [
            (r.get("point_time"), r.get("value")) if isinstance(r, dict) else (None, None)
            for r in rows
        ]
        cleaned = clean(NAME, target.zone, pairs, scale=scale, oldest=oldest, newest=newest)
        return to_signal(NAME, target, cleaned, step=STEP, signal_type=SignalType.MARGINAL)


def _issued_at(item: Any, target: Target) -> float:
    """A historical forecast's ``generated_at`` (:class:`BadResponse` when missing or bad)."""
    try:
        return parse_seconds(field(item, "generated_at", str, NAME))
    except ValueError:
        bad = item["generated_at"]
        raise BadResponse(NAME, f"{target.zone}: bad generated_at {bad!r}") from None


def _scale(body: Any, target: Target) -> float:
    """gCO2/kWh per unit of the response; :class:`BadResponse` for other signals or units."""
    meta = field(body, "meta", dict, NAME)
    signal = meta.get("signal_type", SIGNAL)
    if signal != SIGNAL:
        raise BadResponse(NAME, f"{target.zone}: asked for {SIGNAL}, got {signal!r}")
    units = meta.get("units")
    if units not in UNITS:
        raise BadResponse(
            NAME, f"{target.zone}: unknown units {units!r} (expected lbs_co2_per_mwh)"
        )
    return UNITS[units]
