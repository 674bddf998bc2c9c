"""UK NESO Carbon Intensity API (no key; data CC BY 4.0): Great Britain, half hours, gCO2/kWh.

National: ``/intensity`` (current window, with ``actual`` once measured),
``/intensity/{from}/fw48h`` and ``/intensity/{from}/{to}`` (at most 14 days). Regional, for an AWS
region mapped to a NESO region id (London is 13): ``/regional/regionid/{id}``,
``/regional/intensity/{from}/fw48h/regionid/{id}`` and
``/regional/intensity/{from}/{to}/regionid/{id}``; regional data have forecasts only, so their
"observations" are flagged estimated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from carbon_aware.engine.signal import Signal, SignalType
from carbon_aware.signals.errors import BadResponse, NoData
from carbon_aware.signals.http import HttpClient
from carbon_aware.signals.providers.base import HOUR, chunks, to_signal
from carbon_aware.signals.sanity import clean
from carbon_aware.signals.targets import Target

NAME = "ukci"
DEFAULT_URL = "https://api.carbonintensity.org.uk"
GB_ZONE = "GB"
STEP = 1800.0
MAX_FORECAST = 48 * HOUR
HISTORY_CHUNK = 14 * 24 * HOUR


class UkCarbonIntensity:
    """NESO for average targets in the GB zone; ``regional`` maps AWS regions to NESO region ids."""

    name = NAME
    live = True

    def __init__(
        self, http: HttpClient, *, regional: Mapping[str, int] | None = None, max_age: float = HOUR
    ) -> None:
        self.http = http
        self.regional = dict(regional or {})
        self.max_age = max_age

    def supports(self, target: Target) -> bool:
        """Average targets whose Electricity Maps zone is GB."""
        return (
            target.signal_type is SignalType.AVERAGE and target.info.electricitymaps_zone == GB_ZONE
        )

    def latest(self, target: Target, now: float) -> Signal:
        """The current half hour: ``actual`` when measured, else NESO's estimate (flagged)."""
        region_id = self.regional.get(target.region)
        if region_id is None:
            windows = _windows(self.http.get_json("intensity"))
        else:
            windows = _windows(self.http.get_json(f"regional/regionid/{region_id}"))
        return self._signal(target, windows, oldest=now - self.max_age, newest=now + STEP)

    def forecast(self, target: Target, now: float, horizon: float) -> Signal:
        """The 48-hour forecast from the current half hour (cut to ``horizon``)."""
        path = f"intensity/{_minute(now)}/fw48h"
        region_id = self.regional.get(target.region)
        if region_id is not None:
            path = f"regional/{path}/regionid/{region_id}"
        windows = _windows(self.http.get_json(path))
        newest = now + min(horizon, MAX_FORECAST)
        return self._signal(target, windows, oldest=now - STEP, newest=newest, forecast=True)

    def history(self, target: Target, start: float, end: float) -> Signal:
        """Half-hour values on ``[start, end)``, 14 days per request."""
        region_id = self.regional.get(target.region)
        windows: list[Any] = []
        for a, b in chunks(start, end, HISTORY_CHUNK):
            path = f"intensity/{_minute(a)}/{_minute(b)}"
            if region_id is not None:
                path = f"regional/{path}/regionid/{region_id}"
            windows.extend(_windows(self.http.get_json(path)))
        return self._signal(target, windows, oldest=math.floor(start), newest=end)

    def _signal(
        self,
        target: Target,
        windows: list[Any],
        *,
        oldest: float,
        newest: float,
        forecast: bool = False,
    ) -> Signal:
        points, estimated = [], False
        for w in windows:
            intensity = w.get("intensity") if isinstance(w, dict) else None
            if not isinstance(intensity, dict):
                raise BadResponse(NAME, "window without an 'intensity' object")
            actual = None if forecast else intensity.get("actual")
            estimated = estimated or (not forecast and actual is None)
            points.append((w.get("from"), intensity.get("forecast") if actual is None else actual))
        cleaned = clean(NAME, target.zone, points, oldest=oldest, newest=newest)
        return to_signal(
            NAME, target, cleaned, step=STEP, signal_type=SignalType.AVERAGE, estimated=estimated
        )


def _windows(body: Any) -> list[Any]:
    """The half-hour windows of a national or regional answer."""
    data = body.get("data") if isinstance(body, dict) else None
    # Regional answers nest the windows one level down, in a list of one region or not.
    nested = isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict)
    if nested and "data" in data[0]:
        data = data[0]
    if isinstance(data, dict):
        data = data.get("data")
    if not isinstance(data, list):
        raise BadResponse(NAME, "response field 'data' missing or not a list")
    if not data:
        raise NoData(NAME, "empty data")
    return data


def _minute(t: float) -> str:
    """NESO's path datetime format, ``YYYY-MM-DDTHH:MMZ``."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")
