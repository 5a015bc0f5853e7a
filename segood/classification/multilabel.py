"""Multi-label OOD detection (Hendrycks et al., ICML 2022, section 4).

A multi-label classifier has C independent sigmoid outputs; its logits (N, C) are scored by the
registry's multi-label scorers: `multilabel_maxlogit` (-max_i f_i), `logitavg` (-mean_i f_i),
`multilabel_msp` (softmax over the multi-label logits, as the paper does) and `mc_dropout` (T
passes with dropout on), plus isolation forest and LOF (20 neighbours) on penultimate features
fitted on in-distribution training features (`feature_detectors`).

The embedded demo ("digit pairs") is a small synthetic multi-label set built from scikit-learn's
real digits: an image is two 8x8 digits side by side (8x16), its labels the digits it shows.
In-distribution: digits 0-6 (7 sigmoid outputs); OOD: pairs of digits 7-9 only (classes never
seen). A `SmallCNN` with dropout is trained with binary cross-entropy on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from segood.classification.logits_io import OutputSet
from segood.errors import SegoodError
from segood.scorers.registry import defaults_for

ID_DIGITS = tuple(range(7))
OOD_DIGITS = (7, 8, 9)


def digit_pairs(
    pixels: np.ndarray, labels: np.ndarray, digits: tuple[int, ...], n: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 1, 8, 16) of two random digits from `digits`, and multi-hot labels over
    ID_DIGITS (all zero for OOD digits)."""
    rng = np.random.default_rng(seed)
    pool = np.nonzero(np.isin(labels, digits))[0]
    if len(pool) == 0:
        raise SegoodError(f"no images of digits {digits} to build pairs from")
    a, b = rng.choice(pool, n), rng.choice(pool, n)
    images = np.concatenate([pixels[a], pixels[b]], axis=3)  # (n, 1, 8, 16)
    target = np.zeros((n, len(ID_DIGITS)), np.float32)
    for i, (la, lb) in enumerate(zip(labels[a], labels[b], strict=True)):
        for lab in (la, lb):
            if lab in ID_DIGITS:
                target[i, ID_DIGITS.index(lab)] = 1.0
    return images.astype(np.float32), target


def train_multilabel(model, images: np.ndarray, targets: np.ndarray, epochs: int, seed: int):
    """Adam on binary cross-entropy with logits (independent sigmoids)."""
    from segood.classification.training import to_symmetric_range

    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all, y_all = torch.from_numpy(images), torch.from_numpy(targets)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_all), generator=g)
        for i in range(0, len(order), 64):
            idx = order[i : i + 64]
            logits = model(to_symmetric_range(x_all[idx]))
            loss = F.binary_cross_entropy_with_logits(logits, y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def demo_sets(
    epochs: int = 15, mc_passes: int = 8, seed: int = 0, n_train: int = 4000, n_test: int = 600
) -> tuple[OutputSet, list[OutputSet], OutputSet, dict[str, Any]]:
    """(ID test, [OOD], ID train (fit), info) outputs of a sigmoid SmallCNN on digit pairs."""
    from segood.classification.models import SmallCNN
    from segood.classification.training import digits, predict

    train, test = digits(seed)
    x_tr, y_tr = digit_pairs(train.pixels, train.labels, ID_DIGITS, n_train, seed)
    x_id, y_id = digit_pairs(test.pixels, test.labels, ID_DIGITS, n_test, seed + 1)
    x_ood, _ = digit_pairs(test.pixels, test.labels, OOD_DIGITS, n_test, seed + 2)
    torch.manual_seed(seed)
    model = train_multilabel(SmallCNN(len(ID_DIGITS), 1), x_tr, y_tr, epochs, seed)
    id_out = predict(model, x_id, mc_passes=mc_passes)
    ood_out = predict(model, x_ood, mc_passes=mc_passes)
    fit_out = predict(model, x_tr)
    exact = float(((id_out["logits"] > 0) == (y_id > 0.5)).all(axis=1).mean())
    info = {
        "dataset": "digit pairs (sklearn digits, two 8x8 digits side by side)",
        "id_digits": list(ID_DIGITS),
        "ood_digits": list(OOD_DIGITS),
        "model": "SmallCNN, 7 sigmoid outputs, BCE, dropout 0.3",
        "training": {"epochs": epochs, "pairs": n_train, "optimizer": "Adam lr 1e-3, batch 64"},
        "id_exact_match": exact,
    }
    return (
        OutputSet("digit_pairs", id_out, "generated"),
        [OutputSet("unseen_digits", ood_out, "generated")],
        OutputSet("train", fit_out, "generated"),
        info,
    )


def default_scorers(sets: list[OutputSet]) -> list[str]:
    """The section-4 scorers the outputs allow (MC dropout needs dropout_logits everywhere)."""
    has_drop = all("dropout_logits" in s.outputs for s in sets)
    return [n for n in defaults_for("multilabel") if n != "mc_dropout" or has_drop]
