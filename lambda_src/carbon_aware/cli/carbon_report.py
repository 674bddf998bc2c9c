"""The carbon report of a period: HTML, CSV and PNG from a :class:`~.ledger.Ledger`.

Each view (location-based, marginal, market-based) has its own tables and charts; no figure of
one view is ever added to a figure of another.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

from carbon_aware.cli.ledger import (
    DIMENSIONS,
    LOCATION,
    MARKET,
    VALUATION_NOTE,
    Ledger,
    Totals,
    View,
)
from carbon_aware.cli.report import html_page
from carbon_aware.cli.report_inputs import GRAMS_PER_TONNE
from carbon_aware.cli.verify import Verification

CSV_COLUMNS = ("view", "dimension", "key", "workloads", "emissions_g", "baseline_g", "saved_g")
MAX_CHART_BARS = 20


def write_carbon_report(
    ledger: Ledger, out: Path, verification: Verification | None = None
) -> Path:
    """Write ``report.html``, ``groups.csv``, ``workloads.csv``, ``summary.json`` and PNG charts
    into ``out``; returns the HTML path."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    _groups_csv(ledger, out / "groups.csv")
    _workloads_csv(ledger, out / "workloads.csv")
    sections = []
    for name in sorted(ledger.views):
        view = ledger.views[name]
        charts = [_chart(view, dimension, out) for dimension in ("region", "strategy", "team")]
        sections.append(_view_section(view, charts))
    if not ledger.market_configured:
        sections.append(
            f"<h2>{MARKET}</h2><p>Not configured: give the renewable coverage of each region "
            "(RECs, PPAs) with <code>--coverage FILE</code>.</p>"
        )
    summary = _summary(ledger, verification)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    page = out / "report.html"
    page.write_text(_page(ledger, summary, sections, verification), encoding="utf-8")
    return page


def _summary(ledger: Ledger, verification: Verification | None) -> dict[str, object]:
    views = {
        name: {
            "workloads": v.total.count,
            "emissions_g": round(v.total.emissions_g, 6),
            "baseline_g": round(v.total.baseline_g, 6),
            "saved_g": round(v.total.saved_g, 6),
            "estimated_share": v.estimated_share,
        }
        for name, v in sorted(ledger.views.items())
    }
    return {
        "from": ledger.start.isoformat(),
        "to": ledger.end.isoformat(),
        "views": views,
        "flagged": ledger.flagged,
        "market_based_configured": ledger.market_configured,
        "oracle_fraction": ledger.oracle_fraction,
        "oracle_workloads": ledger.oracle_count,
        "valuation_usd": ledger.valuation_usd,
        "price_usd_per_tco2e": ledger.price_per_tonne,
        "fleets": ledger.fleets,
        "migrations": {kind: t.to_dict() for kind, t in sorted(ledger.migrations.items())},
        "verification": None
        if verification is None
        else {
            "checked": verification.checked,
            "matched": verification.matched,
            "largest_relative_error": verification.largest_error,
            "mismatches": verification.mismatches,
        },
    }


def _groups_csv(ledger: Ledger, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for name, view in sorted(ledger.views.items()):
            writer.writerow([name, "total", "all", *_cells(view.total)])
            for dimension in DIMENSIONS:
                for key, totals in sorted(view.groups[dimension].items()):
                    writer.writerow([name, dimension, key, *_cells(totals)])


def _cells(totals: Totals) -> list[object]:
    return [
        totals.count,
        f"{totals.emissions_g:.6f}",
        f"{totals.baseline_g:.6f}",
        f"{totals.saved_g:.6f}",
    ]


def _workloads_csv(ledger: Ledger, path: Path) -> None:
    columns = [
        "workload_id",
        "status",
        "strategy",
        "region",
        "home_region",
        "started_at",
        "ended_at",
        "signal_type",
        "view",
        "provider",
        "estimated",
        "emissions_g",
        "baseline_g",
        "saved_g",
        "oracle_g",
        "tags",
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for e in ledger.entries:
            tags = ";".join(f"{k}={v}" for k, v in sorted(e.tags.items()))
            row = {**e.__dict__, "view": e.view, "tags": tags}
            writer.writerow([row[c] for c in columns])


def _chart(view: View, dimension: str, out: Path) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    groups = sorted(view.groups[dimension].items(), key=lambda kv: -kv[1].baseline_g)
    groups = groups[:MAX_CHART_BARS]
    names = [k for k, _ in groups]
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names) + 2), 3.8))
    x = np.arange(len(names))
    ax.bar(
        x - 0.2, [t.baseline_g / 1000 for _, t in groups], 0.4, label="baseline", color="#adb5bd"
    )
    ax.bar(
        x + 0.2, [t.emissions_g / 1000 for _, t in groups], 0.4, label="emitted", color="#2b8a3e"
    )
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("kgCO2e")
    ax.set_title(f"{view.name}: by {dimension}")
    ax.legend()
    fig.tight_layout()
    name = f"{view.name.split()[0]}_{dimension}.png"
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return name


def _table(view: View, dimension: str) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(key)}</td>{_numbers(t)}</tr>"
        for key, t in sorted(view.groups[dimension].items())
    )
    return (
        f"<h3>By {dimension}</h3><table><tr><th>{dimension}</th><th>workloads</th>"
        f"<th>emitted g</th><th>baseline g</th><th>saved g</th><th>saved %</th></tr>{rows}</table>"
    )


def _numbers(t: Totals) -> str:
    pct = f"{100 * t.saved_g / t.baseline_g:.1f}" if t.baseline_g else "–"
    return (
        f"<td>{t.count}</td><td>{t.emissions_g:.3f}</td><td>{t.baseline_g:.3f}</td>"
        f"<td>{t.saved_g:.3f}</td><td>{pct}</td>"
    )


def _view_section(view: View, charts: list[str]) -> str:
    share = view.estimated_share
    estimated = "–" if share is None else f"{100 * share:.1f} %"
    method = {
        LOCATION: "Average grid intensity where and when each run ran (GHG Protocol Scope 2 "
        "location-based). The baseline is the same run started at submission in its home region.",
        MARKET: "The location-based grams of each run times the share of its region's "
        "electricity NOT covered by your renewable contracts in that month (your --coverage "
        "file). A separate view: never add it to the location-based figures.",
    }.get(
        view.name,
        "Marginal intensity: the emissions a change in demand causes (consequential). Not a "
        "Scope 2 figure; never add it to the location- or market-based figures.",
    )
    images = "".join(f'<img src="{html.escape(c)}" alt="{html.escape(c)}">' for c in charts)
    tables = "".join(_table(view, d) for d in DIMENSIONS)
    return (
        f"<h2>{html.escape(view.name)}</h2><p>{html.escape(method)}</p>"
        f"<table><tr><th></th><th>workloads</th><th>emitted g</th><th>baseline g</th>"
        f"<th>saved g</th><th>saved %</th></tr><tr><th>total</th>{_numbers(view.total)}</tr>"
        f"</table><p>Share of emitted grams computed from estimates: {estimated}.</p>"
        f"{images}{tables}"
    )


def _page(
    ledger: Ledger,
    summary: dict[str, object],
    sections: list[str],
    verification: Verification | None,
) -> str:
    flagged = "".join(f"<li>{html.escape(f)}</li>" for f in ledger.flagged)
    parts = [
        f"<p>{len(ledger.entries)} finished workloads ended between {ledger.start} and "
        f"{ledger.end} (UTC). {len(ledger.flagged)} records were left out of every sum:</p>"
        f"<ul>{flagged}</ul>"
    ]
    if ledger.oracle_fraction is not None:
        parts.append(
            f"<p>Realised fraction of the perfect-forecast saving: "
            f"{100 * ledger.oracle_fraction:.1f} % over {ledger.oracle_count} workloads that "
            "record it (location-based).</p>"
        )
    else:
        parts.append("<p>Realised fraction of the perfect-forecast saving: no record has it.</p>")
    parts.extend(sections)
    parts.append(_valuation(ledger))
    parts.append(_fleets(ledger))
    parts.append(_migrations(ledger))
    parts.append(_reconciliation(ledger))
    parts.append(_verification(verification))
    body = f"""<h1>Carbon report {ledger.start} to {ledger.end}</h1>
{"".join(parts)}
<p>Machine-readable: groups.csv, workloads.csv, summary.json.</p>"""
    return html_page(f"Carbon report {ledger.start} to {ledger.end}", body)


def _valuation(ledger: Ledger) -> str:
    value = ledger.valuation_usd
    if value is None:
        return "<h2>Carbon-credit valuation</h2><p>Not configured (give --price-per-tonne).</p>"
    saved = ledger.views[LOCATION].total.saved_g / GRAMS_PER_TONNE
    return (
        f"<h2>Carbon-credit valuation</h2><p>{saved:.6f} tCO2e avoided (location-based) at "
        f"${ledger.price_per_tonne:.2f}/tCO2e: <b>${value:.4f}</b>.</p>"
        f"<p><b>{html.escape(VALUATION_NOTE)}</b></p>"
    )


def _fleets(ledger: Ledger) -> str:
    if not ledger.fleets:
        return "<h2>Fleets</h2><p>No fleet decision records in this period.</p>"

    def figure(sums: dict[str, float], name: str, digits: int) -> str:
        return f"{sums[name]:.{digits}f}" if name in sums else "–"

    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{int(s['decisions'])}</td>"
        f"<td>{int(s.get('accounted', 0))}</td><td>{figure(s, 'emissions_g', 1)}</td>"
        f"<td>{figure(s, 'baseline_g', 1)}</td><td>{figure(s, 'saved_g', 1)}</td>"
        f"<td>{figure(s, 'cost_usd', 4)}</td></tr>"
        for name, s in sorted(ledger.fleets.items())
    )
    return (
        "<h2>Fleets</h2><p>Each optimizer decision accounts the interval since the previous one: "
        "the instances InService then, their power (vCPUs and memory, CCF coefficients), the "
        "intensity over the interval and each type's spot price. The baseline runs the same "
        "instances in the fleet's home (first) Region. Intervals a decision did not account "
        "(the first run, gaps over an hour) are not guessed. Fleet grams are never added to "
        "the workloads' grams.</p><table><tr><th>fleet</th><th>decisions</th><th>accounted</th>"
        "<th>grams</th><th>home-Region grams</th><th>saved grams</th><th>spot dollars</th></tr>"
        f"{rows}</table>"
    )


def _migrations(ledger: Ledger) -> str:
    if not ledger.migrations:
        return "<h2>Migrations</h2><p>No migration ended in this period.</p>"
    outcomes = ("completed", "rolled_back", "failed", "cancelled")
    rows = "".join(
        f"<tr><td>{html.escape(kind)}</td>"
        + "".join(f"<td>{t.outcomes.get(o, 0)}</td>" for o in outcomes)
        + f"<td>{t.accounted}</td><td>{t.gross_g:.3f}</td><td>{t.overhead_g:.3f}</td>"
        f"<td>{t.net_g:.3f}</td></tr>"
        for kind, t in sorted(ledger.migrations.items())
    )
    return (
        "<h2>Migrations</h2><p>Migrations between Regions that ended in the period. Grams are "
        "those a migration recorded from the basis given at its start (the intensities of both "
        "Regions and the power moved): gross saving minus the overhead of running in both "
        "Regions at once (a rolled-back migration keeps its overhead) gives net, which can be "
        "negative. They are estimates of the move's effect and are not added to the workloads' "
        "grams above, which already count where each workload ran.</p><table><tr><th>kind</th>"
        "<th>completed</th><th>rolled back</th><th>failed</th><th>cancelled</th>"
        "<th>with grams</th><th>gross g</th><th>overhead g</th><th>net g</th></tr>"
        f"{rows}</table>"
    )


def _reconciliation(ledger: Ledger) -> str:
    if not ledger.reconciliation:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(r.region)}</td><td>{r.month}</td>"
        f"<td>{r.ours_location_g:.3f}</td><td>{_g(r.aws.location_g)}</td>"
        f"<td>{_g(r.ours_market_g)}</td><td>{_g(r.aws.market_g)}</td>"
        f"<td>{_share(r.ours_location_g, r.aws.location_g)}</td></tr>"
        for r in ledger.reconciliation
    )
    return (
        "<h2>Reconciliation with the AWS customer carbon footprint export</h2><p>AWS's figures "
        "cover all of the account's usage in the region and month with AWS's own model; ours "
        "cover the runs this module placed. Ours should be a part of theirs; a share above "
        "100 % means a model or scope difference to look into.</p><table><tr><th>region</th>"
        "<th>month</th><th>ours location g</th><th>AWS location g</th><th>ours market g</th>"
        f"<th>AWS market g</th><th>ours / AWS (location)</th></tr>{rows}</table>"
    )


def _g(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _share(ours: float, theirs: float | None) -> str:
    return "–" if not theirs else f"{100 * ours / theirs:.2f} %"


def _verification(verification: Verification | None) -> str:
    if verification is None:
        return "<h2>Reproducibility</h2><p>Not verified in this run (add --verify).</p>"
    status = "all match" if verification.ok else f"{len(verification.mismatches)} do NOT match"
    items = "".join(f"<li>{html.escape(m)}</li>" for m in verification.mismatches)
    return (
        f"<h2>Reproducibility</h2><p>{verification.checked} workloads recomputed from the "
        f"exported record and the stored intensities: {status} (largest relative error "
        f"{verification.largest_error:.2e}; tolerance 0.1 %).</p><ul>{items}</ul>"
    )
