"""Fixtures for the classification protocols: small saved-logit files, tiny image folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)


def make_logits(n: int, c: int, confidence: float, seed: int, d: int = 6) -> dict:
    """Logits with the true class boosted by `confidence`, labels and features."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    logits = rng.normal(0, 1, (n, c))
    logits[np.arange(n), labels] += confidence
    features = rng.normal(confidence, 1, (n, d))
    drops = logits[None] + rng.normal(0, 1.5 / (1 + confidence), (4, n, c))
    return {
        "logits": logits.astype(np.float32),
        "labels": labels,
        "features": features.astype(np.float32),
        "dropout_logits": drops.astype(np.float32),
    }


@pytest.fixture
def npz_files(tmp_path: Path) -> dict[str, Path]:
    """id.npz (confident), fit.npz, near.npz / far.npz (less confident), 5 classes."""
    files = {}
    for name, n, conf, seed in (
        ("id", 60, 4.0, 0),
        ("fit", 80, 4.0, 1),
        ("near", 40, 2.0, 2),
        ("far", 30, 0.5, 3),
    ):
        arrays = make_logits(n, 5, conf, seed)
        if name in ("near", "far"):
            arrays.pop("labels")
        files[name] = tmp_path / f"{name}.npz"
        np.savez(files[name], **arrays)
    return files


def write_png(path: Path, rng: np.random.Generator, size: tuple[int, int] = (40, 48)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def image_dirs(tmp_path: Path) -> dict[str, Path]:
    """id/<class a|b>/*.png (3 each) and a flat ood/ folder (4 images)."""
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        for i in range(3):
            write_png(tmp_path / "id" / cls / f"{i}.png", rng)
    for i in range(4):
        write_png(tmp_path / "ood" / f"{i}.png", rng)
    (tmp_path / "empty").mkdir()
    return {"id": tmp_path / "id", "ood": tmp_path / "ood", "empty": tmp_path / "empty"}
