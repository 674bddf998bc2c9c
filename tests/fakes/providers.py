"""Fake Electricity Maps, WattTime and UK NESO APIs answering in their documented formats.

Values follow a smooth daily cycle per zone so tests can predict them (:func:`intensity`). Each app
checks credentials the way the real API does and reads "now" from the shared fake clock.
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from typing import Any

from carbon_aware.engine.timeutil import parse_iso
from fakes.clock import FakeClock
from fakes.server import Reply, Request

HOUR = 3600.0
EM_KEY = "em-secret-key-0123"
WT_USER, WT_PASSWORD = "wt-user", "wt-secret-password-0123"


def intensity(zone: str, t: float) -> float:
    """gCO2/kWh of a zone at ``t``: a per-zone base plus a daily swing, to 2 decimals."""
    base = 100 + sum(map(ord, zone)) % 400
    return round(base + 60 * math.sin(2 * math.pi * (t % 86400) / 86400), 2)


def em_time(t: float) -> str:
    """Electricity Maps' datetime format."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def wt_time(t: float) -> str:
    """WattTime's datetime format."""
    return datetime.fromtimestamp(t, tz=UTC).isoformat()


def neso_time(t: float) -> str:
    """NESO's datetime format."""
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%MZ")


def _floor(t: float, step: float) -> float:
    return math.floor(t / step) * step


class ElectricityMapsApp:
    """``/v3/carbon-intensity/{latest,forecast,past-range}`` and ``/v3/power-breakdown/latest``
    with header ``auth-token``."""

    def __init__(self, clock: FakeClock, key: str = EM_KEY) -> None:
        self.clock = clock
        self.key = key

    def __call__(self, request: Request) -> Reply:
        if request.headers.get("auth-token") != self.key:
            return Reply(401, {"message": "Invalid authentication token"})
        zone = request.query.get("zone", "")
        factor = request.query.get("emissionFactorType", "lifecycle")
        now = self.clock.now()
        if request.path == "/v3/power-breakdown/latest":
            return Reply(body=self.power_breakdown(zone, _floor(now, HOUR)))
        kind = request.path.removeprefix("/v3/carbon-intensity/")
        if kind == "latest":
            return Reply(body=self.point(zone, _floor(now, HOUR), factor))
        if kind == "forecast":
            hours = int(request.query.get("horizonHours", "24"))
            first = _floor(now, HOUR) + HOUR
            rows = [
                {
                    "carbonIntensity": intensity(zone, first + i * HOUR),
                    "datetime": em_time(first + i * HOUR),
                }
                for i in range(hours)
            ]
            return Reply(body={"zone": zone, "updatedAt": em_time(now), "forecast": rows})
        if kind == "past-range":
            start = parse_iso(request.query["start"]).timestamp()
            end = parse_iso(request.query["end"]).timestamp()
            times = [start + i * HOUR for i in range(int((end - start) // HOUR))]
            return Reply(body={"zone": zone, "data": [self.point(zone, t, factor) for t in times]})
        return Reply(404, {"message": "not found"})

    @staticmethod
    def power_breakdown(zone: str, t: float) -> dict[str, Any]:
        """The v3 ``power-breakdown/latest`` shape (fields as in the API's documented sample,
        shortened breakdowns); the renewable share falls as the zone's intensity rises."""
        renewable = max(0, min(100, round(100 - intensity(zone, t) / 8)))
        return {
            "zone": zone,
            "datetime": em_time(t),
            "updatedAt": em_time(t + 1200),
            "createdAt": em_time(t - 3 * 86400),
            "powerConsumptionBreakdown": {"wind": 6998, "solar": 0, "gas": 10334, "coal": 23893},
            "powerProductionBreakdown": {"wind": 6415, "solar": 0, "gas": 9602, "coal": 23339},
            "fossilFreePercentage": min(100, renewable + 1),
            "renewablePercentage": renewable,
            "powerConsumptionTotal": 52901,
            "powerProductionTotal": 48570,
            "isEstimated": False,
            "estimationMethod": None,
        }

    @staticmethod
    def point(zone: str, t: float, factor: str = "lifecycle") -> dict[str, Any]:
        return {
            "zone": zone,
            "carbonIntensity": intensity(zone, t),
            "datetime": em_time(t),
            "updatedAt": em_time(t + 1200),
            "createdAt": em_time(t - 3 * 86400),
            "emissionFactorType": factor,
            "isEstimated": False,
            "estimationMethod": None,
        }


class WattTimeApp:
    """``/login`` (Basic, tokens valid 30 min on the fake clock) and the v3 data endpoints."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.tokens: dict[str, float] = {}

    def __call__(self, request: Request) -> Reply:
        now = self.clock.now()
        if request.path == "/login":
            expected = base64.b64encode(f"{WT_USER}:{WT_PASSWORD}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return Reply(403, raw="<html><head><title>403 Forbidden</title></head></html>")
            token = f"jwt-{len(self.tokens) + 1}"
            self.tokens[token] = now + 1800
            return Reply(body={"token": token})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.tokens.get(token, -math.inf) <= now:
            return Reply(401, {"error": "Unauthorized"})
        region = request.query.get("region", "")
        meta = {
            "data_point_period_seconds": 300,
            "region": region,
            "signal_type": "co2_moer",
            "model": {"date": "2023-03-01"},
            "units": "lbs_co2_per_mwh",
            "warnings": [],
        }
        if request.path == "/v3/forecast":
            hours = int(request.query.get("horizon_hours", "24"))
            first = _floor(now, 300)
            rows = [self.point(region, first + i * 300) for i in range(hours * 12)]
            meta |= {"generated_at_period_seconds": 300, "generated_at": wt_time(first)}
            return Reply(body={"data": rows, "meta": meta})
        if request.path == "/v3/forecast/historical":
            # The documented shape (real sample: v3_forecast_historical_CAISO_NORTH.json): one
            # entry per generated forecast; here one an hour, each 24 h of 5-minute points.
            start = _floor(parse_iso(request.query["start"]).timestamp(), HOUR)
            end = parse_iso(request.query["end"]).timestamp()
            issued = [start + i * HOUR for i in range(int((end - start) // HOUR))]
            data = [
                {
                    "generated_at": wt_time(g),
                    "forecast": [self.point(region, g + i * 300) for i in range(24 * 12)],
                }
                for g in issued
            ]
            meta |= {"generated_at_period_seconds": 3600}
            return Reply(body={"data": data, "meta": meta})
        if request.path == "/v3/historical":
            start = _floor(parse_iso(request.query["start"]).timestamp(), 300)
            end = parse_iso(request.query["end"]).timestamp()
            times = [start + i * 300 for i in range(int((end - start) // 300))]
            return Reply(body={"data": [self.point(region, t) for t in times], "meta": meta})
        if request.path == "/v3/region-from-loc":
            return Reply(
                body={
                    "region": "PSCO",
                    "region_full_name": "Public Service Co of Colorado",
                    "signal_type": "co2_moer",
                }
            )
        return Reply(404, {"error": "not found"})

    @staticmethod
    def point(region: str, t: float) -> dict[str, Any]:
        """A MOER point in lbs/MWh (so that it is ``intensity`` in g/kWh after conversion)."""
        return {"point_time": wt_time(t), "value": round(intensity(region, t) / 0.4536, 4)}


class NesoApp:
    """National and regional (London, id 13) intensity, half-hour windows, no key."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def __call__(self, request: Request) -> Reply:
        now = self.clock.now()
        parts = request.path.strip("/").split("/")
        regional = parts[0] == "regional"
        if regional:
            parts = parts[1:]
            region_id = int(parts[-1]) if "regionid" in parts else None
            parts = parts[: parts.index("regionid")] if "regionid" in parts else parts
        if parts == ["intensity"] or (regional and parts == []):
            windows = [self.window(_floor(now, 1800), actual=not regional)]
        elif len(parts) == 3 and parts[2] == "fw48h":
            first = _floor(parse_iso(parts[1]).timestamp(), 1800)
            windows = [self.window(first + i * 1800, actual=False) for i in range(96)]
        elif len(parts) == 3:
            a, b = (parse_iso(p).timestamp() for p in parts[1:])
            windows = [
                self.window(a + i * 1800, actual=not regional) for i in range(int((b - a) // 1800))
            ]
        else:
            return Reply(400, {"error": {"code": "400 Bad Request", "message": "Invalid path"}})
        if not regional:
            return Reply(body={"data": windows})
        region = {
            "regionid": region_id,
            "dnoregion": "UKPN London",
            "shortname": "London",
            "data": windows,
        }
        nested = region if parts and parts[-1] == "fw48h" else [region]
        return Reply(body={"data": nested})

    @staticmethod
    def window(t: float, *, actual: bool) -> dict[str, Any]:
        value = round(intensity("GB", t))
        return {
            "from": neso_time(t),
            "to": neso_time(t + 1800),
            "intensity": {"forecast": value, "actual": value if actual else None, "index": "low"},
        }
