"""Evaluation jobs: the datasets of one run -> an `EvalJob` each -> one report.

`run_datasets` is shared by model runs (`api.evaluate`) and saved predictions
(`predictions_api.evaluate_predictions`): every dataset and its score source are built and
checked first (so a wrong root or a missing file fails before anything is evaluated), then each
dataset is evaluated into `OUT/<name>/`, and one results.json / .csv / .md covers them all
(results of other datasets already in OUT are kept).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from segood.errors import SegoodError
from segood.evaluation.benchmarks import (
    DatasetSpec,
    class_count_warning,
    default_protocols,
    has_class_labels,
    leaderboard,
)
from segood.evaluation.options import option
from segood.evaluation.prediction_files import ScoreWriter
from segood.evaluation.report import render_panels, write_reports
from segood.evaluation.runner import EvalJob, Evaluation, item_name

SourceFactory = Callable[[DatasetSpec, Any], Any]  # (dataset spec, dataset) -> a score source


def excluded_classes(exclude_background: bool, dataset: Any) -> tuple[int, ...]:
    """The class channels dropped before scoring: the background with --exclude-background."""
    return (int(dataset.background_id),) if exclude_background else ()


def require_scorable(dataset: Any, spec: DatasetSpec, save_scores: bool) -> None:
    """A split published without labels can only have its scores saved (for a submission)."""
    if getattr(dataset, "has_labels", True) or save_scores:
        return
    raise SegoodError(
        f"{dataset.NAME} split {spec.split!r} is published without labels, so no metric can be "
        f"computed on it: save its scores for a submission with {option('save_scores')}, or "
        "evaluate the "
        f"labelled split {leaderboard(spec.name).split!r}"
    )


def job_for(
    options: Any, spec: DatasetSpec, dataset: Any, source: Any, rank: int, world: int,
    segmentation: bool = True,
) -> EvalJob:  # fmt: skip
    """The `EvalJob` of one dataset; a split without labels only saves its scores."""
    out = Path(options.out) / spec.report_name
    writer = None
    if options.save_scores:
        writer = ScoreWriter(out / "scores", options.save_dtype, options.save_format)
    labelled = getattr(dataset, "has_labels", True)
    return EvalJob(
        dataset=dataset,
        source=source,
        out=out,
        protocols=default_protocols(spec.name, options.protocol) if labelled else (),
        resume=options.resume,
        max_images=options.max_images,
        component_threshold=options.component_threshold,
        rank=rank,
        world=world,
        progress=options.progress and rank == 0,
        save_scores=writer,
        segmentation=segmentation,
    )


def build_jobs(
    options: Any, specs: list[DatasetSpec], make_source: SourceFactory, rank: int, world: int,
    model_classes: int | None = None,
) -> list[tuple[DatasetSpec, EvalJob]]:  # fmt: skip
    """Every dataset's job, all built (and their inputs checked) before any runs."""
    from segood.data import build_dataset

    jobs = []
    for spec in specs:
        dataset = build_dataset(spec.name, spec.root, spec.split)
        require_scorable(dataset, spec, options.save_scores)
        warning = class_count_warning(model_classes, dataset, spec.report_name)
        if warning and rank == 0:
            print(warning)
        source = make_source(spec, dataset)
        segmentation = has_class_labels(dataset) and warning is None
        jobs.append((spec, job_for(options, spec, dataset, source, rank, world, segmentation)))
    return jobs


def run_datasets(
    options: Any, jobs: list[tuple[DatasetSpec, EvalJob]], settings: Callable[[Any], dict],
    rank: int = 0,
) -> dict[str, Any] | None:  # fmt: skip
    """Evaluate every job; on rank 0 write one report over all of them and return it.

    `settings(source)` is what results.json records about a dataset's run besides the dataset.
    """
    collected = {}
    for spec, job in jobs:
        evaluation = Evaluation(job)
        results = evaluation.run()
        if results is not None:
            where = {"dataset": spec.name, "data_root": spec.root}
            record = {**where, **settings(evaluation.source)}
            collected[spec.report_name] = finish(evaluation, results, record, options.panels)
    if rank != 0:
        return None
    out = Path(options.out)
    all_results = _merge_previous(out, collected)
    write_reports(all_results, out)
    return all_results


def finish(
    evaluation: Evaluation, results: dict[str, Any], settings: dict[str, Any], panels: int
) -> dict[str, Any]:
    """One dataset's results with its settings recorded and its panels drawn."""
    job = evaluation.job
    out, dataset_name = job.out.parent, job.out.name
    results["settings"] = {
        **settings,
        "split": job.dataset.split,
        "scorers": list(evaluation.source.names),
        "protocols": list(job.protocols),
        "exclude_classes": evaluation.source.describe().get("exclude_classes", []),
        "fpr_rule": "nearest",
        "ap_rule": "step",
        "processes": job.world,
        **({"saved_scores": job.save_scores.describe()} if job.save_scores else {}),
    }
    if panels and evaluation.labelled:
        panel_path = out / f"panels_{dataset_name}.png"
        _panels(evaluation, panels, panel_path)
        results["panels"] = str(panel_path)
    return results


def _merge_previous(out: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Keep other datasets' entries of an earlier results.json in the same folder."""
    import json

    path = out / "results.json"
    if not path.exists():
        return results
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return results
    merged = {k: v for k, v in previous.items() if k not in results and isinstance(v, dict)}
    merged.update(results)
    return merged


def _panels(evaluation: Evaluation, count: int, path: Path) -> None:
    """Heat-map panels for `count` images with anomalies, evenly spread over the split."""
    job = evaluation.job
    ds = job.dataset
    names = []
    for _, meta in evaluation.store.read_all():
        caos = meta["protocols"].get("caos")
        if caos is None or caos["skipped"] is None:
            names.append(meta["name"])
    if not names:
        return
    index_of = {item_name(ds, i): i for i in range(len(ds))}
    chosen = [names[int(i)] for i in np.linspace(0, len(names) - 1, min(count, len(names)))]
    rows = []
    for name in dict.fromkeys(chosen):
        item = ds[index_of[name]]
        scores = evaluation.source.scores(item).maps
        step = max(1, item["image"].shape[1] // 480)
        rows.append(
            {
                "image": item["image"][::step, ::step],
                "label": np.asarray(item["label"])[::step, ::step],
                "anomaly": np.asarray(ds.is_anomaly(item["label"]), dtype=bool)[::step, ::step],
                "scores": {k: v[::step, ::step] for k, v in scores.items()},
            }
        )
    render_panels(rows, list(getattr(ds, "PALETTE", [(0, 0, 0)])), path)
