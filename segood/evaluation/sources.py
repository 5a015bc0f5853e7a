"""Where the evaluation's per-image score maps come from: the one seam of the evaluation loop.

The loop (`runner.Evaluation`) asks a *source* for the score maps of each dataset item and
never cares how they were made. Two sources exist:
- `model_source.ModelSource`: runs a segmentation model (and its helpers) on the image and
  every scorer on the outputs (tools/eval_caos.py CONFIG --checkpoint ...);
- `predictions.PredictionSource`: reads maps (or logits, then scored by the same scorer
  objects) that another framework saved, one file per image (tools/eval_caos.py --predictions).

A source has:
- `names`: the score columns it produces (scorer names, or "method" / "method/scorer");
- `check(dataset, indices)`: raise `SegoodError` before anything is written if it cannot
  produce every listed image (missing files, wrong shapes, NaN, ...);
- `prepare(cache, rank)`: one-time work before the first image (fitting fitted scorers);
- `scores(item) -> ImageScores`;
- `describe()`: what results.json records about it (and what `--resume` must find unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from segood.errors import SegoodError


@dataclass
class ImageScores:
    """The score maps of one image, and the predicted classes when the source knows them."""

    maps: dict[str, np.ndarray]  # column -> (H, W) float32, higher = more anomalous
    classes: np.ndarray | None = None  # (H, W) predicted class ids, for the mIoU
    num_classes: int = 0  # the classifier's output count (classes < num_classes)
    seconds: dict[str, float] = field(default_factory=dict)  # time per stage, for the report


class ScoreSource(Protocol):
    names: list[str]

    def check(self, dataset: Any, indices: list[int]) -> None: ...

    def prepare(self, cache: Any, rank: int) -> None: ...

    def scores(self, item: dict[str, Any]) -> ImageScores: ...

    def describe(self) -> dict[str, Any]: ...


CLASS_AXIS = {"logits": 1, "dropout_logits": 2}  # outputs with a class axis, and where it is


def drop_classes(outputs: dict[str, Any], classes: tuple[int, ...]) -> dict[str, Any]:
    """The outputs without the class channels `classes` (the reference's `--exclude_back`).

    Applies to every output with a class axis (`CLASS_AXIS`) and to the classifier's rows
    (`classifier` (W (C, D), b (C,))); the others pass unchanged.
    """
    if not classes:
        return outputs
    out = dict(outputs)
    for key, axis in CLASS_AXIS.items():
        if key not in out:
            continue
        n = out[key].shape[axis]
        bad = [c for c in classes if not 0 <= c < n]
        if bad:
            raise SegoodError(f"cannot exclude classes {bad}: {key} has {n} classes (0..{n - 1})")
        keep = torch.tensor([c for c in range(n) if c not in classes], device=out[key].device)
        out[key] = out[key].index_select(axis, keep)
    if "classifier" in out:
        weight, bias = out["classifier"]
        keep = [c for c in range(len(weight)) if c not in classes]
        out["classifier"] = (weight[keep], bias[keep])
    return out


def score_maps(
    scorers: dict[str, Any], outputs: dict[str, Any], exclude_classes: tuple[int, ...] = ()
) -> dict[str, np.ndarray]:
    """(H, W) float32 score map per scorer, at the resolution of `outputs["logits"]`.

    A map on another grid (feature scorers score the stride-8 decoder grid) is resized
    bilinearly (align_corners=False) to the image before any metric: the one place it is.
    """
    size = tuple(outputs["logits"].shape[-2:])
    inputs = drop_classes(outputs, exclude_classes)
    maps = {}
    for name, scorer in scorers.items():
        scores = torch.as_tensor(scorer(**{k: inputs[k] for k in scorer.requires}))
        if tuple(scores.shape[-2:]) != size:
            scores = F.interpolate(
                scores[:, None].float(), size=size, mode="bilinear", align_corners=False
            )[:, 0]
        maps[name] = scores[0].detach().float().cpu().numpy()
    return maps


def predicted_classes(logits: torch.Tensor) -> tuple[np.ndarray, int]:
    """(argmax class map (H, W), class count) of logits (1, C, H, W)."""
    return logits[0].argmax(dim=0).cpu().numpy(), int(logits.shape[1])
