"""Spot fleets at run time: settings, signals, the optimizer, scaling and the decisions table."""
