"""Small supervised training loops for the embedded classification benchmarks (CPU, minutes).

`ImageSet` keeps images as uint8 or float pixels in [0, 1] with labels; `train_classifier`
runs Adam on cross-entropy, optionally with the rotation-prediction auxiliary loss and an
extra loss term (the energy bounds of `energy_finetune`); `predict` returns logits / features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from segood.classification.models import logits_and_features


@dataclass
class ImageSet:
    pixels: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray  # (N,) int64 (-1 = no label)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, keep: np.ndarray) -> ImageSet:
        return ImageSet(self.pixels[keep], self.labels[keep])


def to_symmetric_range(pixels: Tensor) -> Tensor:
    """[0, 1] -> [-1, 1]: the space of the synthetic OOD sets of Hendrycks et al."""
    return pixels * 2 - 1


def digits(seed: int = 0, test_fraction: float = 1 / 3) -> tuple[ImageSet, ImageSet]:
    """scikit-learn's bundled digits (1,797 real 8x8 images, 10 classes): a stratified split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    pixels = (data.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    labels = data.target.astype(np.int64)
    tr, te = train_test_split(
        np.arange(len(labels)), test_size=test_fraction, stratify=labels, random_state=seed
    )
    return ImageSet(pixels[tr], labels[tr]), ImageSet(pixels[te], labels[te])


def rotation_loss(model: nn.Module, x: Tensor) -> Tensor:
    """Cross-entropy of predicting which of the 4 rotations (0/90/180/270) each copy of x has."""
    rotated = torch.cat([torch.rot90(x, r, dims=(2, 3)) for r in range(4)])
    targets = torch.arange(4).repeat_interleave(len(x))
    return F.cross_entropy(model.rotation(model.forward_features(rotated)), targets)


def train_classifier(
    model: nn.Module,
    data: ImageSet,
    epochs: int,
    *,
    lr: float = 1e-3,
    batch_size: int = 64,
    rotation_weight: float = 0.0,
    extra_loss: Callable[[Tensor, Tensor, int], Tensor] | None = None,
    seed: int = 0,
) -> list[float]:
    """Adam on CE (+ lambda * rotation CE, + extra_loss(logits, targets, step)); mean loss/epoch."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x_all = torch.from_numpy(data.pixels)
    y_all = torch.from_numpy(data.labels)
    history = []
    step = 0
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y_all), generator=g)
        total = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            x, y = to_symmetric_range(x_all[idx]), y_all[idx]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            if rotation_weight:
                loss = loss + rotation_weight * rotation_loss(model, x)
            if extra_loss is not None:
                loss = loss + extra_loss(logits, y, step)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            step += 1
        history.append(total / len(order))
    model.eval()
    return history


@torch.no_grad()
def predict(
    model: nn.Module, pixels: np.ndarray, batch_size: int = 256, mc_passes: int = 0
) -> dict[str, np.ndarray]:
    """{"logits" (N, C), "features" (N, D)[, "dropout_logits" (T, N, C)]} of [0, 1] pixels."""
    from segood.classification.models import dropout_passes

    model.eval()
    out: dict[str, list] = {"logits": [], "features": [], "dropout_logits": []}
    for i in range(0, len(pixels), batch_size):
        x = to_symmetric_range(torch.from_numpy(pixels[i : i + batch_size]))
        logits, features = logits_and_features(model, x)
        out["logits"].append(logits.numpy())
        out["features"].append(features.numpy())
        if mc_passes:
            out["dropout_logits"].append(dropout_passes(model, x, mc_passes).numpy())
    result = {k: np.concatenate(v) for k, v in out.items() if k != "dropout_logits"}
    if mc_passes:
        result["dropout_logits"] = np.concatenate(out["dropout_logits"], axis=1)
    return result
