"""The dashboard's key panels as PNGs, drawn from a run's recorded EMF metrics and its records
(the demo has no CloudWatch to draw them)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def metric_values(lines: Iterable[str], name: str, dimension: str) -> dict[str, list[float]]:
    """Values of metric ``name`` per value of ``dimension``, in the order they were emitted;
    lines that are not EMF documents are skipped."""
    series: dict[str, list[float]] = defaultdict(list)
    for line in lines:
        try:
            doc = json.loads(line)
            declared = doc["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            continue
        names = {m["Name"] for d in declared for m in d.get("Metrics", [])}
        if name in names and dimension in doc:
            values = doc[name] if isinstance(doc[name], list) else [doc[name]]
            series[str(doc[dimension])].extend(float(v) for v in values)
    return dict(series)


def draw_panels(
    metrics_log: Path, records: list[Mapping[str, Any]], out: Path, *, start: float, step: float
) -> list[str]:
    """Intensity per region (one sample per monitor run: ``start + i * step``), grams saved per
    day and cumulative, provider used, and workloads by state; returns the PNG names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = metrics_log.read_text(encoding="utf-8").splitlines()
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    ax = axes[0][0]
    for region, values in sorted(metric_values(lines, "CarbonIntensity", "Region").items()):
        times = [datetime.fromtimestamp(start + i * step, UTC) for i in range(len(values))]
        ax.step(times, values, where="post", label=region, linewidth=1)
    ax.set_title("Carbon intensity per region (gCO2e/kWh)")
    ax.legend(fontsize=7)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)

    saved: dict[str, float] = defaultdict(float)
    for record in records:
        result = record.get("result") or {}
        if isinstance(result.get("saved_g"), int | float) and "ended_at" in result:
            day = datetime.fromtimestamp(float(result["ended_at"]), UTC).strftime("%m-%d")
            saved[day] += float(result["saved_g"])
    days = sorted(saved)
    ax = axes[0][1]
    ax.bar(days, [saved[d] for d in days], color="#2b8a3e", label="per day")
    total = 0.0
    cumulative = [total := total + saved[d] for d in days]
    ax.plot(days, cumulative, color="#1c7ed6", marker="o", label="cumulative")
    ax.set_title("Grams saved (sum)")
    ax.legend(fontsize=7)

    providers = {k: sum(v) for k, v in metric_values(lines, "ProviderUsed", "Provider").items()}
    ax = axes[1][0]
    ax.bar(list(providers), list(providers.values()), color="#868e96")
    ax.set_title("Provider used (monitor refreshes)")

    states = Counter(str(r.get("status")) for r in records)
    ax = axes[1][1]
    ax.bar(list(states), list(states.values()), color="#495057")
    ax.set_title("Workloads by state")
    fig.tight_layout()
    name = "dashboard_panels.png"
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return [name]
