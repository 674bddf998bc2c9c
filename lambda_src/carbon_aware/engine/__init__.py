"""Pure placement, forecasting and accounting engine: standard library and numpy only.

Nothing here talks to AWS or the network, and nothing here imports the rest of the package.
Names are imported on first use (PEP 562), so ``from carbon_aware.engine import Workload`` loads
only the modules behind it: validation and accounting run without numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> the module that defines it.
_EXPORTS = {
    "place_all": "batch",
    "Distribution": "fleet",
    "FleetError": "fleet",
    "RegionCapacity": "fleet",
    "distribute": "fleet",
    "Placement": "placement",
    "Segment": "placement",
    "Signal": "signal",
    "SignalSet": "signal",
    "SignalError": "signal_type",
    "SignalType": "signal_type",
    "STRATEGIES": "strategies",
    "Strategy": "strategies",
    "StrategyError": "strategies",
    "get_strategy": "strategies",
    "RegionPrice": "workload",
    "Workload": "workload",
    "WorkloadError": "workload",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
