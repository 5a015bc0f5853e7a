"""The subcommands of tools/eval_cls.py: argparse namespace -> library calls -> reports.

Each function returns the protocol's result dict (with "table", printed by the tool).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from segood.classification.logits_io import OutputSet, load_output_set, parse_named
from segood.classification.pipeline import run_ood_benchmark
from segood.errors import SegoodError
from segood.scorers.registry import parse_options as scorer_options


def logits(args: argparse.Namespace) -> dict[str, Any]:
    """Saved logits: --id ID.npz --ood NAME=PATH ... [--fit FIT.npz]."""
    id_set = load_output_set(args.id, "id")
    ood_sets = [load_output_set(path, name) for name, path in map(parse_named, args.ood)]
    fit = load_output_set(args.fit, "fit") if args.fit else None
    extra, extra_run = feature_detectors(fit, id_set, ood_sets)
    return run_ood_benchmark(
        "logits",
        id_set,
        ood_sets,
        fit=fit,
        scorer_names=args.scorers,
        scorer_options=scorer_options(args.set),
        convention=args.convention,
        extra_scores=extra,
        extra_run=extra_run,
        out=args.out,
        plots=not args.no_plots,
    )


def feature_detectors(
    fit: OutputSet | None, id_set: OutputSet, ood_sets: list[OutputSet]
) -> tuple[dict, dict]:
    """iForest / LOF scores when every set has features and a fit set gives training features."""
    from segood.classification.feature_detectors import DETECTORS, fit_detector

    sets = [id_set, *ood_sets]
    if fit is None or not all("features" in s.outputs for s in [fit, *sets]):
        return {}, {"feature_detectors": "skipped: need --fit and 'features' in every file"}
    extra, run = {}, {}
    for name in DETECTORS:
        detector, settings = fit_detector(name, fit.outputs["features"])
        extra[name] = (
            detector(id_set.outputs["features"]),
            {o.name: detector(o.outputs["features"]) for o in ood_sets},
        )
        run[name] = settings
    return extra, {"feature_detectors": run}


def folders(args: argparse.Namespace) -> dict[str, Any]:
    """A checkpoint + ImageFolder directories + synthetic OOD sets."""
    from segood.classification import folders as F
    from segood.classification.models import load_classifier
    from segood.classification.pipeline import select_scorers
    from segood.classification.synthetic_ood import synthetic_ood

    if not args.ood_dir and not args.synthetic:
        raise SegoodError("no OOD set given; pass --ood-dir NAME=DIR and/or --synthetic KIND")
    pre = F.Preprocess(args.size, args.resize, tuple(args.mean), tuple(args.std))
    model = load_classifier(
        args.arch, args.weights, use_timm=args.timm, num_classes=args.num_classes
    ).to(args.device)
    outputs = {"logits", "features", *F.GRADIENT_KEYS}
    if args.mc_passes:
        outputs.add("dropout_logits")
    options = scorer_options(args.set)
    pre_sel = select_scorers(args.scorers, outputs, False, options)
    grad = F.needing_gradients(pre_sel.scorers)
    plain = [n for n in pre_sel.scorers if n not in grad]

    def run(name: str, batches, labels=None, source=""):
        settings = dict(mc_passes=args.mc_passes, gradient_scorers=grad, device=args.device)
        return F.collect(
            name, model, batches, pre.standardize, labels=labels, source=source, **settings
        )

    files, labels, classes = F.list_images(args.id_dir, "in-distribution", args.max_images)
    id_set, id_grad = run(
        "id", F.batches_from_files(files, pre, args.batch_size), labels, args.id_dir
    )
    ood = []
    for name, root in map(parse_named, args.ood_dir):
        ofiles = F.list_images(root, f"OOD set {name!r}", args.max_images)[0]
        ood.append(run(name, F.batches_from_files(ofiles, pre, args.batch_size), None, root))
    for i, kind in enumerate(args.synthetic):
        pixels = synthetic_ood(
            kind, args.synthetic_count, (args.size, args.size), len(args.mean), i
        )
        ood.append(run(kind, F.batches_from_array(pixels, args.batch_size), None, "synthetic"))
    ood_sets, ood_grad = [o for o, _ in ood], {o.name: g for o, g in ood}
    if args.save_logits:
        F.save_output_sets(Path(args.out), [id_set, *ood_sets])
    library = "timm" if args.timm else "torchvision"
    record = {
        "model": {"arch": args.arch, "library": library, "weights": str(args.weights)},
        "preprocess": pre.record(),
        "id_folder_classes": len(classes),
        "synthetic": {k: args.synthetic_count for k in args.synthetic},
        "gradient_scorers": sorted(grad),
        "skipped_scorers_pre": pre_sel.skipped,
    }
    record["model"]["classes"] = id_set.num_classes
    extra = {n: (id_grad[n], {o: ood_grad[o][n] for o in ood_grad}) for n in grad}
    report = dict(convention=args.convention, out=args.out, plots=not args.no_plots)
    selection = dict(scorer_names=plain, scorer_options=options, extra_scores=extra)
    return run_ood_benchmark("folders", id_set, ood_sets, extra_run=record, **selection, **report)


def multilabel(args: argparse.Namespace) -> dict[str, Any]:
    """Sigmoid classifiers: saved .npz files, or the embedded digit-pairs demo."""
    from segood.classification import multilabel as ml

    if args.id:
        if not args.ood:
            raise SegoodError("multilabel with --id needs --ood NAME=PATH ...")
        id_set = load_output_set(args.id, "id")
        ood_sets = [load_output_set(path, name) for name, path in map(parse_named, args.ood)]
        fit = load_output_set(args.fit, "fit") if args.fit else None
        info: dict[str, Any] = {"dataset": args.id}
    else:
        if args.ood or args.fit:
            raise SegoodError("--ood / --fit need --id (without them the demo runs)")
        id_set, ood_sets, fit, info = ml.demo_sets(args.epochs, args.mc_passes, args.seed)
    extra, extra_run = feature_detectors(fit, id_set, ood_sets)
    names = args.scorers or ml.default_scorers([id_set, *ood_sets])
    return run_ood_benchmark(
        "multilabel",
        id_set,
        ood_sets,
        scorer_names=names,
        scorer_options=scorer_options(args.set),
        convention=args.convention,
        extra_scores=extra,
        extra_run={**extra_run, "demo" if not args.id else "source": info},
        out=args.out,
        plots=not args.no_plots,
    )


def holdout(args: argparse.Namespace) -> dict[str, Any]:
    """Hold-out-class AP on digits (default) or ImageFolder train/test trees."""
    from segood.classification.holdout import image_folder, run_holdout
    from segood.classification.report import write_classification_reports
    from segood.classification.training import digits

    if bool(args.train_dir) != bool(args.test_dir):
        raise SegoodError("give both --train-dir and --test-dir (or neither, for digits)")
    if args.train_dir:
        train = image_folder(args.train_dir, args.size, args.max_per_class)
        test = image_folder(args.test_dir, args.size, args.max_per_class)
        dataset = f"folders {args.train_dir} / {args.test_dir}"
    else:
        train, test = digits(args.seed)
        dataset = "digits (scikit-learn)"
    r = run_holdout(
        train,
        test,
        classes=args.classes,
        scorer_names=tuple(args.scorers),
        epochs=args.epochs,
        rotation_weight=args.rotation,
        seed=args.seed,
        dataset=dataset,
    )
    write_classification_reports(
        args.out, r["results"], r["run"], r["table"], columns=("held_out", "scorer", "metric")
    )
    return r


def energy_ft(args: argparse.Namespace) -> dict[str, Any]:
    """Energy-bounded fine-tuning on digits with synthetic auxiliary outliers."""
    from segood.classification.energy_finetune import run_energy_demo

    return run_energy_demo(
        epochs=args.epochs,
        ft_epochs=args.ft_epochs,
        m_in=args.m_in,
        m_out=args.m_out,
        weight=args.weight,
        scorer_names=args.scorers,
        convention=args.convention,
        seed=args.seed,
        out=args.out,
        plots=not args.no_plots,
    )
