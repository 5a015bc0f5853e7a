"""`evaluate_predictions`: evaluate saved predictions of any framework, without a model.

    python tools/eval_caos.py --predictions DIR | NAME=DIR ... --dataset NAME [NAME ...]
        --data-root ROOT [ROOT ...] [--split SPLIT ...] --out OUT

Same loop, protocols, reports, `--resume`, sharding and `--save-scores` as a model run
(`api.evaluate`); the score maps come from files (`predictions.PredictionSource`). With
several datasets, each predictions folder holds one sub-folder per dataset, named as the
dataset (`DIR/smiyc-anomaly/...`, `DIR/fishyscapes-laf/...`), as SegmentMeIfYouCan's
`anomaly_p/<method>/<dataset>/` does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from segood.errors import SegoodError
from segood.evaluation.benchmarks import DatasetSpec
from segood.evaluation.jobs import build_jobs, excluded_classes, run_datasets
from segood.evaluation.options import EvalOptions, option
from segood.evaluation.predictions import PredictionSource, logit_scorers, parse_predictions

PredictionOptions = EvalOptions  # the `--predictions` command line uses the same record


def evaluate_predictions(
    options: EvalOptions, rank: int = 0, world: int = 1
) -> dict[str, Any] | None:
    """Run the evaluation of saved predictions; on rank 0 write the reports, return results."""
    import segood.scorers as scorers

    methods = parse_predictions(options.predictions or [])
    specs = options.dataset_specs()
    names = options.scorers or logit_scorers()
    unused = sorted(set(options.scorer_options) - set(names))
    if unused:
        raise SegoodError(
            f"{option('scorer_options')} names scorers that are not evaluated: {unused}"
        )

    def source_for(spec: DatasetSpec, dataset: Any) -> PredictionSource:
        built = {n: scorers.get(n, **options.scorer_options.get(n, {})) for n in names}
        per_dataset = methods
        if len(specs) > 1:  # one sub-folder per dataset
            per_dataset = [replace(m, folder=m.folder / spec.name) for m in methods]
            for method in per_dataset:
                if not method.folder.is_dir():
                    listed = ", ".join(s.name for s in specs)
                    raise SegoodError(
                        f"{method.folder} not found: with several datasets each "
                        f"{option('predictions')} "
                        f"folder holds one sub-folder per dataset ({listed})"
                    )
        source = PredictionSource(
            dataset,
            per_dataset,
            built,
            exclude_classes=excluded_classes(options.exclude_background, dataset),
            count=options.max_images,
            progress=options.progress and rank == 0,
        )
        if options.scorers and not any(m.kind == "logits" for m in per_dataset):
            raise SegoodError(
                f"{option('scorers')} applies to logits; the {option('predictions')} folders "
                "hold score maps"
            )
        return source

    jobs = build_jobs(options, specs, source_for, rank, world)
    return run_datasets(options, jobs, lambda source: source.describe(), rank)
