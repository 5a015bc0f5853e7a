"""`evaluate_predictions`: evaluate saved predictions of any framework, without a model.

    python tools/eval_caos.py --predictions DIR | NAME=DIR ... --dataset streethazards
        --data-root ROOT [--split test] --out OUT

Same loop, protocols, reports, `--resume`, sharding and `--save-scores` as a model run
(`api.evaluate`); the score maps come from files (`predictions.PredictionSource`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segood.errors import SegoodError
from segood.evaluation.api import excluded_classes, finish, job_for
from segood.evaluation.predictions import PredictionSource, logit_scorers, parse_predictions
from segood.evaluation.runner import Evaluation


@dataclass
class PredictionOptions:
    """The `--predictions` command line of tools/eval_caos.py, as data."""

    predictions: list[str]
    dataset: str
    data_root: str
    split: str = "test"
    scorers: list[str] | None = None  # for logits; None = every logit scorer without a fit
    scorer_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    protocol: str = "caos"
    out: str = "outputs/eval"
    resume: bool = False
    max_images: int | None = None
    panels: int = 4
    component_threshold: float | None = None
    exclude_background: bool = False
    save_scores: bool = False
    save_dtype: str = "float16"
    save_format: str = "npz"
    progress: bool = True


def evaluate_predictions(
    options: PredictionOptions, rank: int = 0, world: int = 1
) -> dict[str, Any] | None:
    """Run the evaluation of saved predictions; on rank 0 write the reports, return results."""
    import segood.scorers as scorers
    from segood.data import build_dataset

    methods = parse_predictions(options.predictions)
    dataset_name = options.dataset.lower().replace("-", "_")
    dataset = build_dataset(dataset_name, options.data_root, options.split)
    names = options.scorers or logit_scorers()
    unused = sorted(set(options.scorer_options) - set(names))
    if unused:
        raise SegoodError(f"--set names scorers that are not evaluated: {unused}")
    built = {name: scorers.get(name, **options.scorer_options.get(name, {})) for name in names}
    source = PredictionSource(
        dataset,
        methods,
        built,
        exclude_classes=excluded_classes(options.exclude_background, dataset),
        count=options.max_images,
        progress=options.progress and rank == 0,
    )
    if options.scorers and not any(m.kind == "logits" for m in methods):
        raise SegoodError("--scorers applies to logits; the --predictions folders hold score maps")
    out = Path(options.out)
    evaluation = Evaluation(job_for(options, dataset, source, out / dataset_name, rank, world))
    results = evaluation.run()
    if results is None:
        return None
    settings = {"dataset": dataset_name, "data_root": options.data_root, **source.describe()}
    return finish(evaluation, results, settings, options.panels)
