"""The folder protocol: a classifier checkpoint, an in-distribution image folder, OOD folders
(e.g. ImageNet vs Places365, Textures, Species) and the synthetic OOD sets.

A folder is read recursively (ImageFolder layout: `<root>/<class>/<image>`; a flat folder of
images works too, for OOD sets); in-distribution labels are the sorted first-level subfolders,
as torchvision's ImageFolder numbers them. Images are resized (short side), center-cropped and
normalised; synthetic OOD images are generated at the crop size in [0, 1] and normalised alike.

One forward pass per batch gives `logits` and `features`; with `mc_passes` T >= 2, T more
passes with dropout on give `dropout_logits`. A scorer that needs input gradients (ODIN, PRO)
declares `"model"` and `"inputs"` in its `requires`: it is then called per batch as
`scorer(model=model, inputs=x, logits=..., features=...)` with the normalised input batch x
(gradients enabled), and its scores are pooled with the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from segood.classification.logits_io import OutputSet
from segood.classification.models import dropout_passes, logits_and_features
from segood.errors import SegoodError
from segood.scorers import Scorer

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
GRADIENT_KEYS = ("model", "inputs")


@dataclass
class Preprocess:
    size: int = 224
    resize: int | None = None  # short side before the crop; None = size * 8 / 7 (256 for 224)
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)

    def standardize(self, pixels: Tensor) -> Tensor:  # (N, C, H, W) in [0, 1]
        mean = torch.tensor(self.mean, dtype=pixels.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=pixels.dtype).view(1, -1, 1, 1)
        return (pixels - mean) / std

    def record(self) -> dict[str, Any]:
        """The settings as the run record states them."""
        resize = self.resize or round(self.size * 8 / 7)
        return {"resize": resize, "crop": self.size, "mean": list(self.mean), "std": list(self.std)}

    def load(self, path: Path) -> Tensor:
        """One image file -> (C, size, size) float in [0, 1]."""
        from PIL import Image, UnidentifiedImageError
        from torchvision.transforms import functional as F

        try:
            with Image.open(path) as im:
                im = im.convert("RGB" if len(self.mean) == 3 else "L")
        except (UnidentifiedImageError, OSError) as err:
            raise SegoodError(f"cannot read image {path}: {err}; remove or replace it") from None
        im = F.resize(im, self.resize or round(self.size * 8 / 7))
        im = F.center_crop(im, [self.size, self.size])
        return F.to_tensor(im)


def list_images(
    root: str | Path, what: str, limit: int | None = None
) -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, class names) of an image folder, read recursively; sorted; the first
    `limit` files (and labels) when a limit is given."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise SegoodError(f"{what} folder {root} does not exist; check the path")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SegoodError(
            f"{what} folder {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
            "point it at a folder of images or of class subfolders of images"
        )
    classes = sorted({p.relative_to(root).parts[0] for p in files if p.parent != root})
    index = {c: i for i, c in enumerate(classes)}
    labels = [index.get(p.relative_to(root).parts[0], -1) for p in files]
    if limit:
        files, labels = files[:limit], labels[:limit]
    return files, labels, classes


def needing_gradients(scorers: dict[str, Scorer]) -> dict[str, Scorer]:
    """The scorers that need the model and its inputs (gradients), by name."""
    return {n: s for n, s in scorers.items() if set(s.requires) & set(GRADIENT_KEYS)}


def save_output_sets(folder: Path, sets: list[OutputSet]) -> None:
    """Each set's outputs (and labels) as `<folder>/<name>.npz`, written atomically."""
    from segood.io import atomic_write

    for s in sets:
        arrays = dict(s.outputs)
        if s.labels is not None:
            arrays["labels"] = s.labels
        atomic_write(folder / f"{s.name}.npz", lambda f, a=arrays: np.savez(f, **a))


def batches_from_files(files: list[Path], pre: Preprocess, batch: int) -> Iterator[Tensor]:
    for i in range(0, len(files), batch):
        yield torch.stack([pre.load(p) for p in files[i : i + batch]])


def batches_from_array(pixels: np.ndarray, batch: int) -> Iterator[Tensor]:
    for i in range(0, len(pixels), batch):
        yield torch.from_numpy(pixels[i : i + batch])


def collect(
    name: str,
    model: nn.Module,
    pixel_batches: Iterator[Tensor],
    standardize,
    *,
    mc_passes: int = 0,
    gradient_scorers: dict[str, Scorer] | None = None,
    labels: list[int] | None = None,
    device: str = "cpu",
    source: str = "",
) -> tuple[OutputSet, dict[str, np.ndarray]]:
    """Run the model over pixel batches: (OutputSet, {gradient scorer: scores (N,)})."""
    keys = ["logits", "features"] + (["dropout_logits"] if mc_passes else [])
    parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    grad_parts: dict[str, list[np.ndarray]] = {n: [] for n in gradient_scorers or {}}
    model.eval()
    for pixels in pixel_batches:
        x = standardize(pixels.to(torch.float32)).to(device)
        with torch.no_grad():
            logits, features = logits_and_features(model, x)
        parts["logits"].append(logits.float().cpu().numpy())
        parts["features"].append(features.float().cpu().numpy())
        if mc_passes:
            drops = dropout_passes(model, x, mc_passes)
            parts["dropout_logits"].append(drops.float().cpu().numpy())
        for sname, scorer in (gradient_scorers or {}).items():
            with torch.enable_grad():
                s = scorer(model=model, inputs=x.clone(), logits=logits, features=features)
            grad_parts[sname].append(np.asarray(torch.as_tensor(s).detach().cpu(), np.float64))
    if not parts["logits"]:
        raise SegoodError(f"set {name!r} has no images")
    outputs = {
        k: np.concatenate(v, axis=1 if k == "dropout_logits" else 0) for k, v in parts.items()
    }
    if not np.isfinite(outputs["logits"]).all():
        raise SegoodError(f"the model gave NaN/Inf logits on set {name!r}; check the checkpoint")
    lab = np.asarray(labels) if labels is not None else None
    grads = {n: np.concatenate(v) for n, v in grad_parts.items()}
    return OutputSet(name, outputs, source, lab), grads
