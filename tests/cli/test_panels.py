"""Dashboard panels of the demo: metric series read back from recorded EMF lines."""

from __future__ import annotations

import json

from carbon_aware.cli.panels import metric_values


def emf(name: str, dimension: str, value: str, number: float) -> str:
    metrics = [
        {"Namespace": "CarbonAware", "Dimensions": [[dimension]], "Metrics": [{"Name": name}]}
    ]
    return json.dumps(
        {"_aws": {"Timestamp": 0, "CloudWatchMetrics": metrics}, dimension: value, name: [number]}
    )


def test_metric_values_per_dimension_in_emission_order_skipping_other_lines():
    lines = [
        emf("CarbonIntensity", "Region", "eu-west-1", 400.0),
        "a log line, not EMF",
        emf("CarbonIntensity", "Region", "eu-north-1", 20.0),
        emf("ProviderUsed", "Provider", "profile", 5.0),
        emf("CarbonIntensity", "Region", "eu-west-1", 380.0),
        json.dumps({"_aws": "broken"}),
    ]
    assert metric_values(lines, "CarbonIntensity", "Region") == {
        "eu-west-1": [400.0, 380.0],
        "eu-north-1": [20.0],
    }
    assert metric_values(lines, "ProviderUsed", "Provider") == {"profile": [5.0]}
