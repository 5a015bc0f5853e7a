"""The subcommands of tools/eval_cls.py: argparse namespace -> library calls -> reports.

Each function returns the protocol's result dict (with "table", printed by the tool).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

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
    grad = {n: s for n, s in pre_sel.scorers.items() if set(s.requires) & set(F.GRADIENT_KEYS)}
    plain = [n for n in pre_sel.scorers if n not in grad]

    def run(name: str, batches, labels=None, source=""):
        return F.collect(
            name,
            model,
            batches,
            pre.standardize,
            mc_passes=args.mc_passes,
            gradient_scorers=grad,
            labels=labels,
            device=args.device,
            source=source,
        )

    def files_of(root: str, what: str):
        files, labels, classes = F.list_images(root, what)
        if args.max_images:
            files, labels = files[: args.max_images], labels[: args.max_images]
        return files, labels, classes

    files, labels, classes = files_of(args.id_dir, "in-distribution")
    id_set, id_grad = run(
        "id", F.batches_from_files(files, pre, args.batch_size), labels, args.id_dir
    )
    ood_sets, ood_grad = [], {}
    for spec in args.ood_dir:
        name, root = parse_named(spec)
        ofiles, _, _ = files_of(root, f"OOD set {name!r}")
        o, g = run(name, F.batches_from_files(ofiles, pre, args.batch_size), None, root)
        ood_sets.append(o)
        ood_grad[name] = g
    channels = len(args.mean)
    for i, kind in enumerate(args.synthetic):
        pixels = synthetic_ood(kind, args.synthetic_count, (args.size, args.size), channels, i)
        o, g = run(kind, F.batches_from_array(pixels, args.batch_size), None, "synthetic")
        ood_sets.append(o)
        ood_grad[kind] = g
    if args.save_logits:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        for s in [id_set, *ood_sets]:
            arrays = dict(s.outputs)
            if s.labels is not None:
                arrays["labels"] = s.labels
            np.savez(Path(args.out) / f"{s.name}.npz", **arrays)
    extra = {n: (id_grad[n], {o: ood_grad[o][n] for o in ood_grad}) for n in grad}
    return run_ood_benchmark(
        "folders",
        id_set,
        ood_sets,
        scorer_names=plain,
        scorer_options=options,
        convention=args.convention,
        extra_scores=extra,
        extra_run={
            "model": {
                "arch": args.arch,
                "library": "timm" if args.timm else "torchvision",
                "weights": str(args.weights),
                "classes": id_set.num_classes,
            },
            "preprocess": {
                "resize": pre.resize or round(pre.size * 8 / 7),
                "crop": pre.size,
                "mean": list(pre.mean),
                "std": list(pre.std),
            },
            "id_folder_classes": len(classes),
            "synthetic": {k: args.synthetic_count for k in args.synthetic},
            "gradient_scorers": sorted(grad),
            "skipped_scorers_pre": pre_sel.skipped,
        },
        out=args.out,
        plots=not args.no_plots,
    )


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
