"""The hold-out-class benchmark (Ahmed & Courville, "Detecting semantic anomalies", AAAI 2020).

For each class k: train a classifier on the other classes, score every test image with the
registry's scorers, and treat the test images of class k as the anomalies. The metric is the
average precision with the anomaly as the positive class (`segood.metrics.ood_metrics`, step
rule = sklearn's `average_precision_score`), per held-out class and averaged over classes; the
skew (the anomaly fraction of the test set) is the AP of a random scorer. An optional
rotation-prediction head (weight lambda; Hendrycks et al. 2019) is trained alongside.

Default data: scikit-learn's bundled digits (8x8, 10 classes), a stratified 2/3 : 1/3 split,
a `SmallCNN` trained for a few epochs per held-out class on the CPU. Folders of, e.g., CIFAR-10
or STL-10 (ImageFolder layout, `train` and `test`) are read with `image_folder`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from segood import scorers as registry
from segood.classification.models import SmallCNN
from segood.classification.training import ImageSet, predict, train_classifier
from segood.errors import SegoodError
from segood.metrics import ood_metrics


def image_folder(root: str | Path, size: int, max_per_class: int | None = None) -> ImageSet:
    """An ImageFolder tree as pixels (N, 3, size, size) in [0, 1] and class labels."""
    from segood.classification.folders import Preprocess, list_images

    files, labels, classes = list_images(root, "hold-out")
    if len(classes) < 2:
        raise SegoodError(f"{root} needs at least 2 class subfolders, found {len(classes)}")
    if max_per_class:
        counts: dict[int, int] = {}
        keep = []
        for i, lab in enumerate(labels):
            counts[lab] = counts.get(lab, 0) + 1
            if counts[lab] <= max_per_class:
                keep.append(i)
        files, labels = [files[i] for i in keep], [labels[i] for i in keep]
    pre = Preprocess(size=size, resize=size, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    pixels = np.stack([pre.load(p).numpy() for p in files]).astype(np.float32)
    return ImageSet(pixels, np.asarray(labels, dtype=np.int64))


def holdout_class(
    k: int,
    train: ImageSet,
    test: ImageSet,
    scorer_names: list[str],
    *,
    epochs: int,
    rotation_weight: float = 0.0,
    seed: int = 0,
) -> dict[str, Any]:
    """Train without class k, score the test set: {scorer: {ap, skew}}, accuracy, sizes."""
    classes = np.unique(train.labels)
    kept = classes[classes != k]
    if len(kept) == len(classes):
        raise SegoodError(f"held-out class {k} is not among the classes {classes.tolist()}")
    remap = {int(c): i for i, c in enumerate(kept)}
    inlier = train.subset(train.labels != k)
    inlier = ImageSet(inlier.pixels, np.array([remap[int(c)] for c in inlier.labels]))
    torch.manual_seed(seed + k)
    model = SmallCNN(len(kept), train.pixels.shape[1], rotation_head=rotation_weight > 0)
    train_classifier(model, inlier, epochs, rotation_weight=rotation_weight, seed=seed + k)
    out = predict(model, test.pixels)
    is_anomaly = test.labels == k
    known = ~is_anomaly
    predicted = kept[out["logits"].argmax(1)]
    metrics = {}
    for name in scorer_names:
        scores = registry.get(name)(out["logits"])
        ap = ood_metrics(scores, is_anomaly, ap_rule="step")["aupr"]
        metrics[name] = {"ap": ap, "skew": float(is_anomaly.mean())}
    return {
        "metrics": metrics,
        "accuracy": float((predicted[known] == test.labels[known]).mean()),
        "train_samples": len(inlier),
        "test_samples": len(test),
        "anomalies": int(is_anomaly.sum()),
    }


def run_holdout(
    train: ImageSet,
    test: ImageSet,
    *,
    classes: list[int] | None = None,
    scorer_names: tuple[str, ...] = ("msp", "maxlogit", "energy"),
    epochs: int = 8,
    rotation_weight: float = 0.0,
    seed: int = 0,
    dataset: str = "digits",
) -> dict[str, Any]:
    """Every held-out class: results {class_k: {scorer: {ap, skew}}, mean: ...} and the run."""
    _check_logit_scorers(scorer_names)
    all_classes = sorted(int(c) for c in np.unique(train.labels))
    classes = all_classes if classes is None else classes
    results, accuracy, sizes = {}, {}, {}
    for k in classes:
        if k not in all_classes:
            raise SegoodError(f"--classes: {k} is not a class of the data ({all_classes})")
        r = holdout_class(
            k, train, test, list(scorer_names), epochs=epochs, rotation_weight=rotation_weight,
            seed=seed,
        )  # fmt: skip
        results[f"class_{k}"] = r["metrics"]
        accuracy[f"class_{k}"] = r["accuracy"]
        sizes[f"class_{k}"] = {
            "train": r["train_samples"],
            "test": r["test_samples"],
            "anomalies": r["anomalies"],
        }
    mean = {
        name: {m: float(np.mean([results[c][name][m] for c in results])) for m in ("ap", "skew")}
        for name in scorer_names
    }
    results["mean"] = mean
    run = {
        "protocol": "holdout",
        "dataset": dataset,
        "metric": "average precision, held-out class = positive (step rule, sklearn AP)",
        "scorers": {n: repr(registry.get(n)) for n in scorer_names},
        "model": "SmallCNN (conv32-conv64-pool-conv128-gap, dropout 0.3)",
        "training": {
            "epochs": epochs,
            "optimizer": "Adam lr 1e-3, batch 64",
            "rotation_weight": rotation_weight,
            "seed": seed,
        },
        "data": dict(
            classes=all_classes, held_out=classes, train=len(train), test=len(test), per_class=sizes
        ),
        "accuracy": accuracy,
        "mean_accuracy": float(np.mean(list(accuracy.values()))),
    }
    return {"results": results, "run": run, "table": holdout_table(results, run)}


def _check_logit_scorers(names: tuple[str, ...]) -> None:
    for name in names:
        scorer = registry.get(name)
        if tuple(scorer.requires) != ("logits",) or isinstance(scorer, registry.FittedScorer):
            raise SegoodError(f"hold-out scores logits only; scorer {name!r} cannot run here")


def holdout_table(results: dict[str, Any], run: dict[str, Any]) -> str:
    from segood.classification.report import render

    scorers = list(results["mean"])
    header = ["held out", *[f"{s} AP" for s in scorers], "skew", "acc"]
    rows = []
    for key, per in results.items():
        acc = run["accuracy"].get(key, run["mean_accuracy"])
        first = per[scorers[0]]
        rows.append(
            [
                key,
                *[f"{100 * per[s]['ap']:.2f}" for s in scorers],
                f"{100 * first['skew']:.2f}",
                f"{100 * acc:.2f}",
            ]
        )
    title = (
        f"protocol=holdout | {run['dataset']}: train {run['data']['train']}, test "
        f"{run['data']['test']} | epochs {run['training']['epochs']}, rotation lambda "
        f"{run['training']['rotation_weight']} (percent)"
    )
    return render(header, rows, title)
