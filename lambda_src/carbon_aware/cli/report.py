"""HTML backtest report with PNG charts beside it (matplotlib is a CLI-only dependency)."""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from carbon_aware.engine import Signal, SignalSet
from carbon_aware.engine.backtest import BacktestResult, JobOutcome
from carbon_aware.engine.timeutil import from_seconds, iso

MAX_REGION_CHARTS = 12
MAX_JOB_ROWS = 200


def write_report(
    result: BacktestResult, actual: SignalSet, path: str | Path, appendix: Sequence[str] = ()
) -> Path:
    """Write ``path`` (HTML) and its PNG charts into the same folder; returns the HTML path.
    ``appendix``: HTML sections added after the regions (the demo's panels and monthly report)."""
    import matplotlib

    matplotlib.use("Agg")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    by_home = _placed_by(result.outcomes, lambda o: [o.workload.home_region])
    by_run = _placed_by(result.outcomes, lambda o: sorted({s.region for s in o.placement.segments}))
    regions = sorted(by_run, key=lambda r: (-len(by_run[r]), r))[:MAX_REGION_CHARTS]
    summary_png = path.with_name(f"{path.stem}_summary.png")
    _summary_chart(by_home, summary_png)
    sections = []
    for region in regions:
        png = path.with_name(f"{path.stem}_{_slug(region)}.png")
        _region_chart(region, by_run[region], actual[region], png)
        sections.append(_region_section(region, by_run[region], by_home.get(region, []), png.name))
    page = _page(result, summary_png.name, [*sections, *appendix])
    path.write_text(page, encoding="utf-8")
    return path


def _placed_by(
    outcomes: tuple[JobOutcome, ...], keys: Callable[[JobOutcome], list[str]]
) -> dict[str, list[JobOutcome]]:
    groups: dict[str, list[JobOutcome]] = defaultdict(list)
    for outcome in outcomes:
        if outcome.emissions_g is not None:
            for key in keys(outcome):
                groups[key].append(outcome)
    return groups


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def _savings(outcomes: list[JobOutcome]) -> tuple[float, float, float]:
    return (
        sum(o.baseline_g for o in outcomes),
        sum(o.emissions_g for o in outcomes),
        sum(o.oracle_g for o in outcomes),
    )


def _summary_chart(by_region: dict[str, list[JobOutcome]], png: Path) -> None:
    import matplotlib.pyplot as plt

    regions = sorted(by_region)
    totals = np.array([_savings(by_region[r]) for r in regions]).reshape(-1, 3) / 1000.0
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(regions) + 2), 4))
    x = np.arange(len(regions))
    for i, (label, color) in enumerate(
        (("baseline (run now, home)", "#b0b0b0"), ("placed", "#2b8a3e"), ("oracle", "#1c7ed6"))
    ):
        ax.bar(x + (i - 1) * 0.27, totals[:, i], width=0.27, label=label, color=color)
    ax.set_xticks(x, regions, rotation=30, ha="right")
    ax.set_ylabel("kgCO2e")
    ax.set_title("Emissions by home region")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def _region_chart(region: str, outcomes: list[JobOutcome], signal: Signal, png: Path) -> None:
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    lo = min(o.workload.submitted_at for o in outcomes)
    hi = max(o.workload.deadline for o in outcomes)
    window = signal.window(max(lo, signal.start), min(hi, signal.end))
    times = [from_seconds(t) for t in [*window.times.tolist(), window.end]]
    values = [*window.values.tolist(), window.values[-1]]
    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.step(times, values, where="post", color="#495057", linewidth=0.8, label="intensity")
    top = max(values) * 1.05
    for n, outcome in enumerate(outcomes):
        for seg in (s for s in outcome.placement.segments if s.region == region):
            label = "chosen slots" if n == 0 else None
            ax.axvspan(
                from_seconds(seg.start),
                from_seconds(seg.end),
                ymax=0.08,
                color="#2b8a3e",
                alpha=0.35,
                label=label,
            )
    ax.set_ylim(0, top)
    ax.set_ylabel("gCO2e/kWh")
    ax.set_title(f"{region}: carbon intensity and chosen run slots")
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def _region_section(region: str, ran: list[JobOutcome], homed: list[JobOutcome], png: str) -> str:
    baseline, placed, oracle = _savings(homed)
    saved = 100.0 * (baseline - placed) / baseline if baseline else 0.0
    best = 100.0 * (baseline - oracle) / baseline if baseline else 0.0
    return (
        f"<h2>{html.escape(region)}</h2>"
        f"<p>{len(ran)} jobs ran here. {len(homed)} jobs homed here saved {saved:.1f}% "
        f"(oracle {best:.1f}%): {baseline / 1000:.3f} → {placed / 1000:.3f} kgCO2e.</p>"
        f'<img src="{html.escape(png)}" alt="{html.escape(region)} intensity and chosen slots">'
    )


def _page(result: BacktestResult, summary_png: str, sections: list[str]) -> str:
    summary = result.summary()
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary.items()
    )
    jobs = "".join(_job_row(o) for o in result.outcomes[:MAX_JOB_ROWS])
    more = len(result.outcomes) - MAX_JOB_ROWS
    note = f"<p>… and {more} more jobs in the JSON output.</p>" if more > 0 else ""
    heading = f"Backtest: {result.strategy} (forecast: {result.forecast})"
    body = f"""<h1>{html.escape(heading)}</h1>
<p>Baseline: each job starts at submission in its home region. Oracle: the same strategy with
perfect knowledge. Emissions are always evaluated on the actual series.</p>
<table>{rows}</table>
<img src="{html.escape(summary_png)}" alt="emissions by home region">
{"".join(sections)}
<h2>Jobs</h2>
<table><tr><th>id</th><th>status</th><th>segments</th><th>g placed</th><th>g baseline</th>
<th>g oracle</th></tr>{jobs}</table>{note}"""
    return html_page(f"Carbon-aware backtest: {result.strategy}", body)


def html_page(title: str, body: str) -> str:
    """A self-contained HTML page (the reports' shared style) around ``body``."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; max-width: 1200px; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
td, th {{ border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }}
img {{ max-width: 100%; }}
</style></head><body>
{body}
</body></html>
"""


def _job_row(outcome: JobOutcome) -> str:
    data = outcome.to_dict()
    segments = "; ".join(
        f"{s.region} {iso(s.start)} → {iso(s.end)}" for s in outcome.placement.segments
    )
    cells = [
        data["id"],
        data["status"] if data["reason"] is None else f"{data['status']}: {data['reason']}",
        segments,
        data["emissions_g"],
        data["baseline_g"],
        data["oracle_g"],
    ]
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"
