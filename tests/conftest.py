"""Shared fixtures: factories that write tiny datasets in the exact published layouts.

`make_streethazards(root, ...)` writes StreetHazards (RGB PNG images, "L" PNG annotations with
raw values 1..14; anomaly raw 14 only in test, present in every test image).
`make_bdd100k(root, layout="current" | "seg", ...)` writes a BDD100K 10K segmentation release
(JPEG images, train-id masks with 255 regions); the first `n_anomalous_*` images of a split
contain train (16), motorcycle (17) or bicycle (18) pixels, cycling through the three.
Both return `root`; contents are random but reproducible (seeded).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest

SH_TOWNS = {"train": ("t1", "t2"), "validation": ("t4",), "test": ("t5",)}
SH_DIRS = {
    "train": ("train/images/training", "train/annotations/training"),
    "validation": ("train/images/validation", "train/annotations/validation"),
    "test": ("test/images/test", "test/annotations/test"),
}
SH_ANOMALY_RAW = 14


def write_rgb(path: Path, image: np.ndarray) -> None:
    """Write an (H, W, 3) RGB uint8 array (PNG or JPEG by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def write_gray(path: Path, label: np.ndarray) -> None:
    """Write an (H, W) uint8 array as a single-channel PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert label.dtype == np.uint8 and label.ndim == 2
    assert cv2.imwrite(str(path), label)


def _rect(rng: np.random.Generator, size: tuple[int, int]) -> tuple[slice, slice]:
    """A random rectangle covering a few pixels of an image of `size`."""
    h, w = size
    y, x = int(rng.integers(0, h - 3)), int(rng.integers(0, w - 3))
    return slice(y, y + int(rng.integers(2, 4))), slice(x, x + int(rng.integers(2, 4)))


def _spread(n: int, towns: Sequence[str]) -> list[tuple[str, int]]:
    """Distribute n images round-robin over towns: [(town, index within town), ...]."""
    return [(towns[i % len(towns)], i // len(towns)) for i in range(n)]


def _streethazards(
    root: Path,
    n_train: int = 4,
    n_val: int = 2,
    n_test: int = 3,
    size: tuple[int, int] = (24, 40),
    towns: Mapping[str, Sequence[str]] | None = None,
    raw_zero: bool = False,
    seed: int = 0,
) -> Path:
    """Write StreetHazards under `root`; n_* images per split, spread over `towns`.

    Files are `<town>/<index>.png`. `raw_zero` adds a few raw-0 (ignore) pixels to each label.
    """
    rng = np.random.default_rng(seed)
    towns = {**SH_TOWNS, **(towns or {})}
    for split, n in (("train", n_train), ("validation", n_val), ("test", n_test)):
        image_dir, label_dir = (root / d for d in SH_DIRS[split])
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for town, index in _spread(n, towns[split]):
            image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            label = rng.integers(1, SH_ANOMALY_RAW, size, dtype=np.uint8)  # 1..13
            if split == "test":
                label[_rect(rng, size)] = SH_ANOMALY_RAW
            if raw_zero:
                label[0, :3] = 0
            write_rgb(image_dir / town / f"{index}.png", image)
            write_gray(label_dir / town / f"{index}.png", label)
    return root


BDD_DIRS = {
    "current": ("images/10k/{split}", "labels/sem_seg/masks/{split}", ""),
    "seg": ("seg/images/{split}", "seg/labels/{split}", "_train_id"),
}
BDD_ANOMALY_IDS = (16, 17, 18)


def _bdd100k(
    root: Path,
    layout: str = "current",
    n_train: int = 6,
    n_val: int = 3,
    n_anomalous_train: int = 3,
    n_anomalous_val: int = 1,
    size: tuple[int, int] = (24, 40),
    seed: int = 0,
) -> Path:
    """Write a BDD100K 10K segmentation release in `layout` ("current" or "seg") under `root`.

    Stems are `<split>-<index>` (e.g. "train-0003"); masks hold train ids 0..15 and 255; the
    first n_anomalous_* images of a split also hold a patch of 16, 17 or 18. The current layout
    also gets an unlabeled images/10k/test folder, as in the release.
    """
    rng = np.random.default_rng(seed)
    image_tpl, label_tpl, suffix = BDD_DIRS[layout]
    splits = (("train", n_train, n_anomalous_train), ("val", n_val, n_anomalous_val))
    count = 0
    for split, n, n_anomalous in splits:
        image_dir = root / image_tpl.format(split=split)
        label_dir = root / label_tpl.format(split=split)
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            stem = f"{split}-{i:04d}"
            label = rng.integers(0, 16, size, dtype=np.uint8)
            label[_rect(rng, size)] = 255
            if i < n_anomalous:
                label[_rect(rng, size)] = BDD_ANOMALY_IDS[count % 3]
                count += 1
            write_rgb(image_dir / f"{stem}.jpg", rng.integers(0, 256, (*size, 3), dtype=np.uint8))
            write_gray(label_dir / f"{stem}{suffix}.png", label)
    if layout == "current":
        write_rgb(root / "images/10k/test/test-0000.jpg", np.zeros((*size, 3), np.uint8))
    return root


@pytest.fixture
def make_streethazards() -> Callable[..., Path]:
    """Factory: make_streethazards(root, n_train=4, n_val=2, n_test=3, size=(24, 40), towns=None,
    raw_zero=False, seed=0) -> root."""
    return _streethazards


@pytest.fixture
def make_bdd100k() -> Callable[..., Path]:
    """Factory: make_bdd100k(root, layout="current" | "seg", n_train=6, n_val=3,
    n_anomalous_train=3, n_anomalous_val=1, size=(24, 40), seed=0) -> root."""
    return _bdd100k


@pytest.fixture
def streethazards_root(tmp_path: Path) -> Path:
    """A ready tiny StreetHazards under tmp_path/streethazards (default factory arguments)."""
    return _streethazards(tmp_path / "streethazards")


@pytest.fixture
def bdd_anomaly_root(tmp_path: Path) -> Path:
    """A ready tiny BDD-Anomaly (built from the default BDD100K tree) under tmp_path/bdd_anomaly."""
    from segood.data.make_bdd import build_bdd_anomaly

    source = _bdd100k(tmp_path / "bdd100k")
    build_bdd_anomaly(source, tmp_path / "bdd_anomaly", progress=False)
    return tmp_path / "bdd_anomaly"
