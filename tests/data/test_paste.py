"""Paste transform: labels under alpha, image changed only under alpha, seeded, clear errors."""

from __future__ import annotations

from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest

from segood.data.paste import (
    OUTLIER_INDEX,
    PasteCutouts,
    Placement,
    list_cutouts,
    paste_image,
    paste_mask,
)
from segood.data.transforms import build_transform
from segood.errors import SegoodError

MAGENTA = (255, 0, 255)


def write_rgba(path: Path, rgba: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))


@pytest.fixture
def cutouts(tmp_path: Path) -> Path:
    """Two magenta cut-outs with a transparent margin (a square and a disc)."""
    square = np.zeros((12, 16, 4), np.uint8)
    square[2:10, 3:13] = (*MAGENTA, 255)
    disc = np.zeros((15, 15, 4), np.uint8)
    cv2.circle(disc, (7, 7), 6, (*MAGENTA, 255), -1)
    write_rgba(tmp_path / "cut" / "a.png", square)
    write_rgba(tmp_path / "cut" / "b.png", disc)
    return tmp_path / "cut"


def scene(h: int = 40, w: int = 60) -> tuple[np.ndarray, np.ndarray]:
    image = np.random.default_rng(0).integers(0, 200, (h, w, 3), dtype=np.uint8)
    image[..., 1] = 100  # never magenta
    return image, np.full((h, w), 3, np.uint8)


def run(transform, seed: int, image: np.ndarray, mask: np.ndarray) -> dict:
    pipeline = A.Compose([transform])
    pipeline.set_random_seed(seed)
    return pipeline(image=image, mask=mask)


def test_paste_functions_by_hand():
    image = np.full((4, 5, 3), 10, np.uint8)
    mask = np.full((4, 5), 2, np.uint8)
    alpha = np.array([[1.0, 0.5], [0.25, 0.0]], np.float32)
    rgb = np.full((2, 2, 3), 210, np.uint8)
    p = Placement(y=1, x=2, rgb=rgb, alpha=alpha)
    out = paste_image(image, [p])
    assert out[1, 2, 0] == 210 and out[1, 3, 0] == 110 and out[2, 2, 0] == 60
    assert out[2, 3, 0] == 10  # alpha 0: untouched
    changed = (out != image).any(-1)
    assert changed.sum() == 3
    labels = paste_mask(mask, [p], OUTLIER_INDEX, 255)
    assert labels[1, 2] == labels[1, 3] == OUTLIER_INDEX  # alpha >= 0.5
    assert labels[2, 2] == 255  # 0 < alpha < 0.5: mixed pixel, ignored
    assert labels[2, 3] == 2 and (labels[changed == 0] == 2).all()


def test_labels_under_alpha_and_image_changed_only_there(cutouts):
    image, mask = scene()
    out = run(PasteCutouts(str(cutouts), count=(3, 3), scale=(0.3, 0.5)), 7, image, mask)
    img, lab = out["image"], out["mask"]
    assert img.shape == image.shape and lab.dtype == mask.dtype
    assert set(np.unique(lab)) <= {3, OUTLIER_INDEX, 255}
    outlier = lab == OUTLIER_INDEX
    assert outlier.sum() > 20
    changed = (img != image).any(-1)
    assert not (changed & (lab == 3)).any(), "image changed outside the pasted alpha"
    assert changed[outlier].all()
    # outlier pixels are mostly the cut-out's colour (alpha >= 0.5)
    assert (img[outlier][:, 0] >= 127).all() and (img[outlier][:, 1] <= 100).all()


def test_seeded_per_sample(cutouts):
    image, mask = scene()
    t = PasteCutouts(str(cutouts), count=(1, 4))
    a, b, c = (run(t, s, image, mask) for s in (1, 1, 2))
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["mask"], b["mask"])
    assert not np.array_equal(a["mask"], c["mask"])


def test_build_transform_prepends_paste(cutouts):
    image, mask = scene()
    t = build_transform(
        "reference_train", short_sides=(32,), max_long=80,
        paste=dict(folder=str(cutouts), count=(2, 2), scale=(0.4, 0.6)),
    )  # fmt: skip
    assert isinstance(t.transforms[0], PasteCutouts)
    t.set_random_seed(3)
    out = t(image=image, mask=mask)
    assert out["image"].shape[0] == 3 and (out["mask"] == OUTLIER_INDEX).any()
    assert build_transform("eval").transforms[0].__class__ is not PasteCutouts


def test_count_zero_and_probability_zero_leave_the_sample_alone(cutouts):
    image, mask = scene()
    for t in (PasteCutouts(str(cutouts), count=(0, 0)), PasteCutouts(str(cutouts), p=0.0)):
        out = run(t, 0, image, mask)
        assert np.array_equal(out["image"], image) and np.array_equal(out["mask"], mask)


def test_errors(tmp_path, cutouts):
    with pytest.raises(SegoodError, match=r"does not exist.*make_outlier_sprites"):
        PasteCutouts(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SegoodError, match=r"holds no \.png files"):
        PasteCutouts(str(tmp_path / "empty"))
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    assert cv2.imwrite(str(rgb / "x.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(SegoodError, match=r"x\.png is not an 8/16-bit RGBA PNG"):
        list_cutouts(rgb)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "y.png").write_bytes(b"not a png at all, just text")
    with pytest.raises(SegoodError, match="not a PNG"):
        PasteCutouts(str(fake))
    with pytest.raises(SegoodError, match="count"):
        PasteCutouts(str(cutouts), count=(3, 1))
    with pytest.raises(SegoodError, match="scale"):
        PasteCutouts(str(cutouts), scale=(0.0, 0.5))
    with pytest.raises(SegoodError, match="ignore value"):
        PasteCutouts(str(cutouts), outlier_index=255)
    with pytest.raises(SegoodError, match=r"transform\.paste"):
        build_transform("reference_train", paste=dict(folder=str(cutouts), colour="red"))
