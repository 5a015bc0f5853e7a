"""Results people can look at: the paper's table, JSON/CSV/Markdown, ROC/PR curves, panels."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from segood.evaluation.options import option
from segood.evaluation.protocols import protocol_class, protocol_names
from segood.io import atomic_write_bytes, atomic_write_text, write_json

DATASET_TITLES = {
    "streethazards": "StreetHazards",
    "bdd_anomaly": "BDD-Anomaly",
    "smiyc-anomaly": "RoadAnomaly21",
    "smiyc-obstacle": "RoadObstacle21",
    "fishyscapes-laf": "Fishyscapes L&F",
    "lostandfound": "Lost and Found",
    "road-anomaly": "Road Anomaly",
    "cityscapes": "Cityscapes",
    "sim-hazards": "sim-hazards (synthetic)",  # `make demo`: loopback-renderer scenes
}


def title(dataset: str) -> str:
    return DATASET_TITLES.get(dataset, dataset)


def table_rows(
    results: dict[str, Any], protocol: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """(header, rows) in the paper's layout: a row per dataset and metric, a column per scorer.

    `protocol` None: one table over every dataset and each of its protocols, with a protocol
    column (a run over several benchmarks, each under its leaderboard's protocol).
    """
    pairs = [
        (dataset, p)
        for dataset, per_dataset in results.items()
        for p in protocol_names()
        if p in per_dataset and (protocol is None or p == protocol)
    ]
    scorers: list[str] = []
    for dataset, p in pairs:
        scorers += [name for name in results[dataset][p] if name not in scorers]
    extra = ["protocol"] if protocol is None else []
    header = ["dataset", *extra, "metric", *scorers]
    rows = []
    for dataset, p in pairs:
        for key, label in protocol_class(p).ROWS:
            cells = [title(dataset), *([p] if extra else []), label]
            for name in scorers:
                value = results[dataset][p].get(name, {}).get(key)
                cells.append("-" if value is None or value != value else f"{100 * value:.1f}")
            rows.append(cells)
    return header, rows


def format_table(results: dict[str, Any], protocol: str | None = "caos") -> str:
    """A fixed-width table for the terminal (percentages); `protocol` None: every protocol."""
    header, rows = table_rows(results, protocol)
    labels = 3 if protocol is None else 2  # the label columns (left-aligned)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [f"{protocol or 'leaderboard'} protocol (percent)"]
    last = None
    for row in [header, *rows]:
        cells = list(row)
        if row is not header and cells[: labels - 1] == last:
            cells[: labels - 1] = [""] * (labels - 1)
        elif row is not header:
            last = cells[: labels - 1]
        lines.append(
            "  ".join(
                c.ljust(w) if i < labels else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )
    return "\n".join(lines)


def markdown_table(results: dict[str, Any], protocol: str | None) -> str:
    header, rows = table_rows(results, protocol)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def several_datasets(results: dict[str, Any]) -> bool:
    """Whether several datasets have metrics (then one table covers them all)."""
    return sum(1 for r in results.values() if set(r) & set(protocol_names())) > 1


def print_summary(results: dict[str, Any], out: str) -> None:
    """The tables (one per protocol; one over all datasets when there are several), the mIoU
    and where the reports and saved scores are."""
    for protocol in [None] if several_datasets(results) else protocol_names():
        if protocol is None or any(protocol in r for r in results.values()):
            print(format_table(results, protocol))
            print()
    for dataset, r in results.items():
        if "segmentation" in r:
            print(f"{dataset}: mIoU {100 * r['segmentation']['miou']:.1f}%, {r['images']} images")
    print(f"reports in {out}/: results.json, .csv, .md, roc_*.png, pr_*.png, panels_*.png")
    for dataset, r in results.items():
        saved = r.get("settings", {}).get("saved_scores")
        if saved:
            print(f"{dataset}: score maps saved in {saved['folder']}/<scorer>/ (evaluate them "
                  f"with {option('predictions', 'NAME=FOLDER')})")  # fmt: skip


def json_ready(results: dict[str, Any]) -> dict[str, Any]:
    """The results without the curve samples, with numpy numbers as Python numbers."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "curves"}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    return clean(results)


def write_reports(results: dict[str, Any], out: Path) -> list[Path]:
    """results.csv / .md, ROC and PR curves per dataset, then results.json (last, so a run
    killed while writing never looks finished); returns the files written.

    `results` maps dataset -> {protocol -> scorer -> metrics, "segmentation" (when the source
    predicts classes), "images", "settings", "curves"}.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    plain = json_ready(results)

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["dataset", "protocol", "scorer", "metric", "value"])
    for dataset, per_dataset in plain.items():
        for protocol in protocol_names():
            for scorer, values in per_dataset.get(protocol, {}).items():
                for metric, value in values.items():
                    if isinstance(value, int | float):
                        writer.writerow([dataset, protocol, scorer, metric, value])
    path = out / "results.csv"
    atomic_write_text(path, buffer.getvalue())
    written.append(path)

    sections = ["# Results"]
    if several_datasets(plain):
        sections += ["", "## Every dataset, its leaderboard's protocol (percent)", "",
                     markdown_table(plain, None)]  # fmt: skip
    for protocol in protocol_names():
        if any(protocol in d for d in plain.values()):
            sections += [
                "",
                f"## {protocol} protocol (percent)",
                "",
                markdown_table(plain, protocol),
            ]
    sections += ["", "## Segmentation", ""]
    for dataset, per_dataset in plain.items():
        seg = per_dataset.get("segmentation")
        miou = f"mIoU {100 * seg['miou']:.1f}%" if seg else "no class predictions"
        sections.append(f"- {title(dataset)}: {miou} over {per_dataset['images']} images")
    sections += ["", "## Settings"]
    for dataset, per_dataset in plain.items():
        settings = json.dumps(per_dataset.get("settings", {}), indent=2)
        sections += ["", f"### {title(dataset)}", "", "```json", settings, "```"]
    path = out / "results.md"
    atomic_write_text(path, "\n".join(sections) + "\n")
    written.append(path)

    for dataset, per_dataset in results.items():
        if per_dataset.get("curves"):
            written += plot_curves(per_dataset["curves"], out, dataset)
    path = out / "results.json"
    write_json(path, plain, indent=2)
    return [*written, path]


def plot_curves(curves: dict[str, tuple], out: Path, dataset: str) -> list[Path]:
    """ROC and PR curves, one line per scorer, from the weighted pixel samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    paths = []
    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=120)
        for name, (scores, labels, weights) in curves.items():
            if labels.all() or not labels.any():
                continue
            if kind == "roc":
                x, y, _ = roc_curve(labels, scores, sample_weight=weights)
            else:
                y, x, _ = precision_recall_curve(labels, scores, sample_weight=weights)
            ax.plot(x, y, label=name, linewidth=1.3)
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="0.7", linestyle=":", linewidth=1)
            ax.axhline(0.95, color="0.8", linewidth=0.8)
            ax.set(xlabel="false-positive rate", ylabel="true-positive rate")
        else:
            ax.set(xlabel="recall", ylabel="precision")
        ax.set(
            title=f"{title(dataset)}: {kind.upper()} (pixel sample)", xlim=(0, 1), ylim=(0, 1.01)
        )
        if ax.get_legend_handles_labels()[0]:  # a split without anomalies draws no curve
            ax.legend(fontsize=8, loc="lower right" if kind == "roc" else "upper right")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out / f"{kind}_{dataset}.png"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths


def _outline(mask: np.ndarray) -> np.ndarray:
    """The boundary pixels of a boolean mask (mask minus its 4-neighbour erosion)."""
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def render_panels(
    rows: list[dict[str, Any]], palette: list[tuple[int, int, int]], path: Path, top: float = 0.1
) -> Path:
    """Figure-4-style panels: image, ground truth, then each scorer's top `top` scores.

    `rows`: dicts with `image` (H, W, 3 uint8), `label` (H, W int), `anomaly` (H, W bool) and
    `scores` {name: (H, W)}. A scorer's column shows its highest-scoring `top` fraction of
    pixels in a heat colour over the dimmed image, with the true anomaly outlined in cyan, so
    what each scorer flags can be compared at a glance.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows[0]["scores"])
    cols = 2 + len(names)
    fig, axes = plt.subplots(
        len(rows), cols, figsize=(2.6 * cols, 1.7 * len(rows)), dpi=110, squeeze=False
    )
    colours = np.array(palette, dtype=np.uint8)
    heat = plt.get_cmap("inferno")
    for r, row in enumerate(rows):
        image, label = row["image"], np.asarray(row["label"])
        shown = np.where((label >= 0) & (label < len(colours)), label, 0)
        gt = colours[shown]
        gt[(label < 0) | (label >= len(colours))] = 0
        axes[r, 0].imshow(image)
        axes[r, 1].imshow(gt)
        dim = (image.astype(np.float32) * 0.35).astype(np.uint8)
        edge = _outline(np.asarray(row.get("anomaly", np.zeros(label.shape, bool))))
        for c, name in enumerate(names, start=2):
            score = row["scores"][name]
            ranks = score.argsort(axis=None).argsort().reshape(score.shape) / max(score.size - 1, 1)
            mask = ranks >= 1 - top
            panel = dim.copy()
            strength = (ranks[mask] - (1 - top)) / top  # 0..1 within the top fraction
            panel[mask] = (heat(0.35 + 0.65 * strength)[:, :3] * 255).astype(np.uint8)
            panel[edge] = (0, 255, 255)  # the ground-truth anomaly, outlined
            axes[r, c].imshow(panel)
        for c, head in enumerate(["image", "ground truth", *names]):
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
            if r == 0:
                axes[r, c].set_title(head, fontsize=9)
    fig.tight_layout(pad=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path
