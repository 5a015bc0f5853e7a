"""Transforms: hand-computed multi-scale sizes; masks keep their values; padding = ignore."""

from __future__ import annotations

import numpy as np
import pytest

from segood.data.transforms import (
    SHORT_SIDES,
    build_transform,
    eval_sizes,
    round_up,
    scaled_size,
)
from segood.errors import SegoodError

IGNORE = 255


def sample(h: int = 24, w: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = rng.integers(0, 14, (h, w), dtype=np.uint8)
    return image, mask


def test_round_up_and_scaled_size():
    assert [round_up(v, 8) for v in (1, 8, 9, 300, 533, 1000)] == [8, 8, 16, 304, 536, 1000]
    # 720x1280, short 300: scale = 300/720; long = 1280 * 300/720 = 533.33 -> 533
    assert scaled_size(720, 1280, 300) == (300, 533)
    # short 600: 600/720 = 0.833 would give long 1066 > 1000, so scale = 1000/1280
    assert scaled_size(720, 1280, 600) == (562, 1000)  # 720 * 0.78125 = 562.5
    assert scaled_size(1280, 720, 300) == (533, 300)  # portrait


def test_eval_sizes_hand_values():
    # short 300 -> (300, 533.33) -> (304, 536); 375 -> (375, 666.67) -> (376, 672);
    # 450 -> (450, 800) -> (456, 800); 525 -> (525, 933.33) -> (528, 936);
    # 600 -> capped by long: (562.5, 1000) -> (568, 1000)
    expected = [(304, 536), (376, 672), (456, 800), (528, 936), (568, 1000)]
    assert eval_sizes(720, 1280) == expected
    assert eval_sizes(720, 1280, full_resolution=True) == [*expected, (720, 1280)]
    assert eval_sizes(721, 1281, short_sides=(), full_resolution=True) == [(728, 1288)]
    assert eval_sizes(100, 100, short_sides=(300,), max_long=1000, multiple=32) == [(320, 320)]
    for h, w in eval_sizes(375, 1242):  # KITTI-like aspect: long side binds early
        assert h % 8 == 0 and w % 8 == 0 and w <= 1000


def test_reference_train_sizes_values_and_padding():
    image, mask = sample(24, 40)
    transform = build_transform("reference_train", flip_p=0.0)
    unpadded = {}
    for short in SHORT_SIDES:
        size = scaled_size(24, 40, short)  # e.g. 300 -> (300, 500), padded to (304, 504)
        unpadded[tuple(round_up(v, 8) for v in size)] = size
    assert len(unpadded) == len(SHORT_SIDES)
    seen = set()
    for _ in range(12):
        out = transform(image=image, mask=mask)
        img, m = out["image"], out["mask"].numpy()
        h, w = m.shape
        assert tuple(img.shape) == (3, h, w)
        assert h % 8 == 0 and w % 8 == 0 and max(h, w) <= 1000
        sh, sw = unpadded[(h, w)]  # the size before padding
        seen.add(sh)
        assert set(np.unique(m[:sh, :sw])) <= set(np.unique(mask))  # nearest: no new values
        assert (m[sh:, :] == IGNORE).all() and (m[:, sw:] == IGNORE).all()
        assert (img[:, sh:, :] == 0).all() and (img[:, :, sw:] == 0).all()
    assert len(seen) > 1  # the short side is drawn at random


def test_reference_train_long_side_capped():
    image, mask = sample(20, 80)  # aspect 4: short 300 would give long 1200
    out = build_transform("reference_train")(image=image, mask=mask)
    assert out["mask"].shape[1] == 1000 and out["mask"].shape[0] <= 256


def test_reference_train_flip_is_joint():
    image, mask = sample(24, 40)
    mask[:, :20] = 1
    mask[:, 20:] = 2
    image[:] = 0
    image[:, :20] = 255
    out = build_transform("reference_train", flip_p=1.0, short_sides=(24,))(image=image, mask=mask)
    m, img = out["mask"].numpy(), out["image"].numpy()
    assert (m[:24, :20] == 2).all() and (m[:24, 20:40] == 1).all()
    assert img[0, 0, 0] < 0 < img[0, 0, 39]  # dark left (normalized), bright right


def test_scale_crop_train_values_and_pad():
    image, mask = sample(24, 40)
    transform = build_transform("scale_crop_train", crop_size=(64, 96), scale_range=(0.5, 2.0))
    for _ in range(8):
        out = transform(image=image, mask=mask)
        m = out["mask"].numpy()
        assert m.shape == (64, 96) and tuple(out["image"].shape) == (3, 64, 96)
        assert set(np.unique(m)) <= {*np.unique(mask).tolist(), IGNORE}
        assert (m == IGNORE).any()  # image (<= 48x80) is smaller than the crop: padded


def test_scale_crop_train_signed_ignore():
    image, mask = sample(24, 40)
    out = build_transform("scale_crop_train", crop_size=(100, 100), ignore_index=-1)(
        image=image, mask=mask.astype(np.int16)
    )
    assert out["mask"].min().item() == -1


def test_eval_transform():
    image, mask = sample(24, 40)
    out = build_transform("eval")(image=image, mask=mask)
    assert tuple(out["image"].shape) == (3, 24, 40)
    np.testing.assert_array_equal(out["mask"].numpy(), mask)
    mean = np.array([0.485, 0.456, 0.406]) * 255
    std = np.array([0.229, 0.224, 0.225]) * 255
    np.testing.assert_allclose(out["image"][:, 3, 5].numpy(), (image[3, 5] - mean) / std, rtol=1e-4)
    out = build_transform("eval", size=(304, 536))(image=image, mask=mask)
    assert tuple(out["image"].shape) == (3, 304, 536)
    assert set(np.unique(out["mask"].numpy())) <= set(np.unique(mask))


def test_unknown_transform():
    with pytest.raises(SegoodError, match="unknown transform 'fancy'"):
        build_transform("fancy")
    with pytest.raises(SegoodError, match="scale_range"):
        build_transform("scale_crop_train", scale_range=(2.0, 0.5))
