"""Reports of every classification protocol: a terminal table, JSON, CSV, Markdown, ROC/PR PNGs.

`results.json` holds only the numbers: for the OOD protocols it maps OOD set -> scorer ->
{fpr95, auroc, aupr, ...} (fractions). `run.json` states the protocol, the metric convention,
the scorer settings and the data sizes, which `results.md` repeats above the table. The ROC/PR
figures are drawn by `segood.evaluation.report.plot_curves`, the segmentation reports' code.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from segood.evaluation.report import json_ready, plot_curves
from segood.io import atomic_write_text

LABELS = {
    "fpr95": "FPR95↓",
    "auroc": "AUROC↑",
    "aupr": "AUPR↑",
    "aupr_in": "AUPR-In↑",
    "aupr_out": "AUPR-Out↑",
    "ap": "AP↑",
    "skew": "skew",
    "accuracy": "acc",
}


def ood_table(metrics: dict[str, dict[str, dict[str, float]]], title: str = "") -> str:
    """One row per (OOD set, scorer), one column per metric (percent); a mean block at the end
    when there are several OOD sets."""
    sets = list(metrics)
    scorers = list(dict.fromkeys(s for per in metrics.values() for s in per))
    keys = [k for k in LABELS if any(k in m for per in metrics.values() for m in per.values())]
    keys = [k for k in keys if k != "aupr" or "aupr_out" not in keys]  # aupr == aupr_out there
    header = ["OOD set", "scorer", *[LABELS[k] for k in keys]]
    rows = []
    for group in [*sets, "mean"] if len(sets) > 1 else sets:
        for i, name in enumerate(scorers):
            if group == "mean":
                vals = [metrics[s][name] for s in sets if name in metrics[s]]
                cells = {k: sum(v[k] for v in vals) / len(vals) for k in keys} if vals else {}
            else:
                cells = metrics[group].get(name, {})
            values = [f"{100 * cells[k]:.2f}" if k in cells else "-" for k in keys]
            rows.append([group if i == 0 else "", name, *values])
    return render(header, rows, title, left=2)


def render(header: list[str], rows: list[list[str]], title: str = "", left: int = 1) -> str:
    """A fixed-width table: the first `left` columns left-aligned, the rest right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [title] if title else []
    lines += [line(header), *[line(r) for r in rows]]
    return "\n".join(lines)


def flatten(tree: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Leaves of a nested dict as (path, value)."""
    if isinstance(tree, dict):
        out = []
        for key, value in tree.items():
            out += flatten(value, (*prefix, str(key)))
        return out
    return [(prefix, tree)]


def write_classification_reports(
    out: str | Path,
    results: dict[str, Any],
    run: dict[str, Any],
    table: str,
    columns: tuple[str, ...] = ("ood_set", "scorer", "metric"),
    curves: dict[str, dict[str, tuple]] | None = None,
) -> list[Path]:
    """Write results.json, run.json, results.csv, results.md (and roc_/pr_<set>.png)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results, run = json_ready(results), json_ready(run)
    written = []

    def put(name: str, text: str) -> None:
        path = out / name
        atomic_write_text(path, text)
        written.append(path)

    put("results.json", json.dumps(results, indent=2) + "\n")
    put("run.json", json.dumps(run, indent=2) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    protocol = run.get("protocol", "")
    writer.writerow(["protocol", "convention", *columns, "value"])
    for path, value in flatten(results):
        if isinstance(value, int | float):
            cells = list(path) + [""] * (len(columns) - len(path))
            writer.writerow([protocol, run.get("convention", ""), *cells, value])
    put("results.csv", buffer.getvalue())
    md = [
        f"# {protocol} protocol",
        "",
        "```",
        table,
        "```",
        "",
        "## Run (protocol, scorer settings, data sizes)",
        "",
        "```json",
        json.dumps(run, indent=2),
        "```",
        "",
    ]
    put("results.md", "\n".join(md))
    for name, per_scorer in (curves or {}).items():
        written += plot_curves(per_scorer, out, name)
    return written


def header_lines(run: dict[str, Any]) -> str:
    """One line stating the protocol, the convention and the data sizes, above a table."""
    parts = [f"protocol={run.get('protocol')}"]
    if run.get("convention"):
        parts.append(f"convention={run['convention']}")
    data = run.get("data", {})
    if "in_distribution" in data:
        ind = data["in_distribution"]
        parts.append(f"ID {ind['name']}: {ind['samples']} samples, {data.get('classes')} classes")
    if data.get("ood"):
        parts.append("OOD " + ", ".join(f"{k}: {v}" for k, v in data["ood"].items()))
    return " | ".join(parts) + " (percent)"
