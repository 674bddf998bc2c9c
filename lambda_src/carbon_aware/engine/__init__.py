"""Pure placement, forecasting and accounting engine: standard library and numpy only.

Nothing here talks to AWS or the network, and nothing here imports the rest of the package.
"""

from carbon_aware.engine.batch import place_all
from carbon_aware.engine.fleet import Distribution, FleetError, RegionCapacity, distribute
from carbon_aware.engine.placement import Placement, Segment
from carbon_aware.engine.signal import Signal, SignalError, SignalSet, SignalType
from carbon_aware.engine.strategies import STRATEGIES, Strategy, StrategyError, get_strategy
from carbon_aware.engine.workload import RegionPrice, Workload, WorkloadError

__all__ = [
    "STRATEGIES",
    "Distribution",
    "FleetError",
    "Placement",
    "RegionCapacity",
    "RegionPrice",
    "Segment",
    "Signal",
    "SignalError",
    "SignalSet",
    "SignalType",
    "Strategy",
    "StrategyError",
    "Workload",
    "WorkloadError",
    "distribute",
    "get_strategy",
    "place_all",
]
