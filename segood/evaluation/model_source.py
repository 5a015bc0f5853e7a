"""Score maps from a model: images -> model outputs -> every scorer (see `sources`).

One forward pass per image and scale feeds all scorers (`inference.infer`); a confidence-branch
model and an autoencoder run only when a scorer needs them. Fitted scorers are fitted once on
the in-distribution split (rank 0 fits, every rank loads the cached fit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segood.errors import SegoodError
from segood.evaluation.inference import InferenceSettings, image_seed, infer, reconstruct
from segood.evaluation.options import option
from segood.evaluation.sources import ImageScores, drop_classes, predicted_classes, score_maps
from segood.io import read_json, write_json
from segood.progress import show_progress
from segood.scorers import FittedScorer, Scorer


def normalize(image: np.ndarray, device: str) -> torch.Tensor:
    """HxWx3 uint8 RGB -> (1, 3, H, W) float, ImageNet mean/std (as the training transforms)."""
    from segood.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    x = torch.from_numpy(np.ascontiguousarray(image)).to(device=device, dtype=torch.float32)
    x = x.permute(2, 0, 1)[None] / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=device)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD, device=device)[None, :, None, None]
    return (x - mean) / std


def needed_outputs(scorers: dict[str, Scorer]) -> set[str]:
    return {key for scorer in scorers.values() for key in scorer.requires}


def logits_function(model: torch.nn.Module):
    """The `model` output of gradient scorers: a normalised image (B, 3, H, W) -> logits
    (B, C, H, W) at its own resolution, one scale, eval mode, gradients enabled."""

    def logits(x: torch.Tensor) -> torch.Tensor:
        if model.training:
            raise SegoodError("gradient scorers need the model in eval mode (model.eval())")
        with torch.enable_grad():
            return model(x)

    return logits


@dataclass
class ModelSource:
    """Runs `model` (and helpers) on each image and every scorer on its outputs."""

    model: torch.nn.Module
    scorers: dict[str, Scorer]
    settings: InferenceSettings = field(default_factory=InferenceSettings)
    fit_dataset: Any = None  # in-distribution split for fitted scorers
    autoencoder: torch.nn.Module | None = None
    branch_model: torch.nn.Module | None = None
    device: str = "cpu"
    fit_images: int | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)  # what the fits depend on
    exclude_classes: tuple[int, ...] = ()  # class channels dropped before scoring
    progress: bool = True

    def __post_init__(self) -> None:
        self.needs = needed_outputs(self.scorers)
        self.names = list(self.scorers)
        if {"image", "reconstruction"} & self.needs and self.autoencoder is None:
            raise SegoodError(
                f"scorer 'ae' needs an autoencoder: pass {option('ae_checkpoint')} (a checkpoint "
                f"trained with an ae_* config), or leave 'ae' out of {option('scorers')}"
            )
        has_branch = getattr(self.model, "confidence_head", None) is not None
        if "confidence" in self.needs and not has_branch and self.branch_model is None:
            raise SegoodError(
                f"scorer 'branch' needs a confidence branch: pass {option('branch_checkpoint')} "
                f"(a model trained with a pspnet-conf_* config), or leave 'branch' out of "
                f"{option('scorers')}"
            )

    def check(self, dataset: Any, indices: list[int]) -> None:
        """Nothing to check before the run: the images are the dataset's own."""

    def describe(self) -> dict[str, Any]:
        return {
            "scorer_settings": {name: repr(s) for name, s in self.scorers.items()},
            "settings": repr(self.settings),
            "exclude_classes": list(self.exclude_classes),
            "model": self.fingerprint,
        }

    def outputs(self, image: torch.Tensor, name: str) -> dict[str, Any]:
        """Every output the scorers need, for one normalised image.

        Gradient scorers (ODIN, PRO) get `model`, a function image -> logits (see
        `logits_function`), and `inputs`, the normalised image, and run the model themselves.
        """
        seed = image_seed(name)
        outputs: dict[str, Any] = infer(self.model, image, self.settings, self.needs, seed)
        if {"model", "inputs"} & self.needs:
            outputs["model"] = logits_function(self.model)
            outputs["inputs"] = image
        if "confidence" in self.needs and "confidence" not in outputs:
            outputs["confidence"] = infer(
                self.branch_model, image, self.settings, {"confidence"}, seed
            )["confidence"]
        if {"image", "reconstruction"} & self.needs:
            outputs.update(reconstruct(self.autoencoder, image))
        return outputs

    def score(self, outputs: dict[str, Any]) -> dict[str, np.ndarray]:
        """(H, W) float32 score map per scorer (see `sources.score_maps`)."""
        return score_maps(self.scorers, outputs, self.exclude_classes)

    def scores(self, item: dict[str, Any]) -> ImageScores:
        outputs = self.outputs(normalize(item["image"], self.device), item["name"])
        classes, num_classes = predicted_classes(outputs["logits"])
        return ImageScores(self.score(outputs), classes, num_classes)

    def prepare(self, cache: Path, rank: int) -> None:
        """Fit the fitted scorers on the in-distribution split, or load the cached fit.

        Rank 0 fits (or finds a valid cached fit in `cache`) and saves it; the other ranks wait
        for it and load it, so every shard scores with the same statistics.
        """
        fitted = {n: s for n, s in self.scorers.items() if isinstance(s, FittedScorer)}
        if not fitted:
            return
        key = {
            **self.fingerprint,
            "settings": repr(self.settings),
            "fit_images": self.fit_images,
            **({"exclude_classes": list(self.exclude_classes)} if self.exclude_classes else {}),
        }
        if rank == 0:
            stale = {name: s for name, s in fitted.items() if not _fit_is_cached(cache, name, key)}
            if stale:
                self._fit_on_in_distribution(stale)
                for name, scorer in stale.items():
                    scorer.save(cache / f"{name}.pt")
                    write_json(cache / f"{name}.json", key, sort_keys=True)
        barrier()
        for name, scorer in fitted.items():
            if not scorer.fitted:
                scorer.load(cache / f"{name}.pt")

    def _fit_on_in_distribution(self, pending: dict[str, FittedScorer]) -> None:
        if self.fit_dataset is None:
            raise SegoodError(
                f"scorers {sorted(pending)} must be fitted on in-distribution data, but the "
                "dataset has no validation split to fit them on"
            )
        indices = range(len(self.fit_dataset))
        if self.fit_images is not None:
            picked = np.linspace(0, len(self.fit_dataset) - 1, min(self.fit_images, len(indices)))
            indices = sorted({int(i) for i in picked})
        needs = needed_outputs(pending)
        for index in show_progress(
            indices, desc=f"fit {','.join(pending)}", disable=not self.progress
        ):
            item = self.fit_dataset[index]
            image = normalize(item["image"], self.device)
            outputs = infer(self.model, image, self.settings, needs, image_seed(item["name"]))
            label = torch.as_tensor(item["label"], device=self.device)
            keep = (label >= 0) & (label < outputs["logits"].shape[1])
            outputs = drop_classes(outputs, self.exclude_classes)
            for scorer in pending.values():
                scorer.update(**{k: outputs[k] for k in scorer.requires}, mask=keep[None])


def barrier() -> None:
    """Wait for every process of a sharded run (no-op in a single process)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _fit_is_cached(cache: Path, name: str, key: dict[str, Any]) -> bool:
    meta, state = cache / f"{name}.json", cache / f"{name}.pt"
    return meta.exists() and state.exists() and read_json(meta) == key
