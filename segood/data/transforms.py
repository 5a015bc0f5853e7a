"""Joint image/mask pipelines (albumentations) and the reference's multi-scale sizes.

Every pipeline takes `image` (H, W, 3) uint8 RGB and `mask` (H, W) class ids and ends with
ImageNet normalisation and `ToTensorV2`. Masks are only ever resized with nearest neighbour and
padded with the ignore value, so no new label value can appear.

- `reference_train`: the reference recipe (no crop): short side drawn from {300, ..., 600}, long
  side <= 1000 (aspect kept), horizontal flip, normalise, pad bottom/right to a multiple of 8.
  The image is padded with 0 after normalisation, as the reference does (zero-filled batch).
- `scale_crop_train`: the usual recipe: random scale 0.5-2.0, pad (ignore) and random crop,
  flip, colour jitter.
- `eval_transform`: optional resize to one size of `eval_sizes`, normalise, to tensor.

`build_transform(name, **kw)` picks one by name so configs can say `dict(name="eval")`;
`paste=dict(folder=..., ...)` prepends `segood.data.paste.PasteCutouts` (outlier exposure:
object cut-outs pasted into the image, labelled `OUTLIER_INDEX`).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network check on import

import albumentations as A
import cv2
import numpy as np
from albumentations.core.transforms_interface import DualTransform
from albumentations.pytorch import ToTensorV2

from segood.data.base import IGNORE_INDEX
from segood.errors import SegoodError

SHORT_SIDES = (300, 375, 450, 525, 600)
MAX_LONG = 1000
MULTIPLE = 8
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def round_up(value: int, multiple: int) -> int:
    """Smallest multiple of `multiple` that is >= `value`."""
    return ((value - 1) // multiple + 1) * multiple


def scaled_size(
    height: int, width: int, short_side: int, max_long: int = MAX_LONG
) -> tuple[int, int]:
    """Size after scaling the short side to `short_side` with the long side capped at `max_long`.

    scale = min(short_side / short, max_long / long); sides are truncated to int, as the
    reference does.
    """
    scale = min(short_side / min(height, width), max_long / max(height, width))
    return int(height * scale), int(width * scale)


def eval_sizes(
    height: int,
    width: int,
    short_sides: Sequence[int] = SHORT_SIDES,
    max_long: int = MAX_LONG,
    multiple: int = MULTIPLE,
    full_resolution: bool = False,
) -> list[tuple[int, int]]:
    """The reference's evaluation sizes (h, w): `scaled_size` rounded up to `multiple`.

    The image is resized straight to each size (the reference pads nothing at test time).
    `full_resolution` appends the original size, rounded up to `multiple` (720x1280 unchanged).
    E.g. 720x1280 -> [(304, 536), (376, 672), (456, 800), (528, 936), (568, 1000)].
    """
    sizes = []
    for short in short_sides:
        h, w = scaled_size(height, width, short, max_long)
        sizes.append((round_up(h, multiple), round_up(w, multiple)))
    if full_resolution:
        sizes.append((round_up(height, multiple), round_up(width, multiple)))
    return sizes


class RandomShortSideResize(DualTransform):
    """Resize so the short side is drawn from `short_sides` and the long side <= `max_long`.

    One resize (bilinear image, nearest mask); sizes as in `scaled_size`.
    """

    class InitSchema(DualTransform.InitSchema):
        short_sides: tuple[int, ...]
        max_long: int

    def __init__(
        self,
        short_sides: Sequence[int] = SHORT_SIDES,
        max_long: int = MAX_LONG,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        self.short_sides = tuple(short_sides)
        self.max_long = max_long

    @property
    def targets(self) -> dict[str, Callable[..., Any]]:
        return {"image": self.apply, "mask": self.apply_to_mask}

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        height, width = params["shape"][:2]
        short = random.choice(self.short_sides)
        return {"size": scaled_size(height, width, short, self.max_long)}

    def apply(self, img: np.ndarray, size: tuple[int, int], **params: Any) -> np.ndarray:
        return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)

    def apply_to_mask(self, mask: np.ndarray, size: tuple[int, int], **params: Any) -> np.ndarray:
        return cv2.resize(mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("short_sides", "max_long")


def reference_train(
    short_sides: Sequence[int] = SHORT_SIDES,
    max_long: int = MAX_LONG,
    multiple: int = MULTIPLE,
    flip_p: float = 0.5,
    ignore_index: int = IGNORE_INDEX,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> A.Compose:
    """The reference training recipe (see module docstring); output sides are multiples of 8."""
    return A.Compose(
        [
            RandomShortSideResize(short_sides, max_long),
            A.HorizontalFlip(p=flip_p),
            A.Normalize(mean=mean, std=std),
            _pad_bottom_right(
                ignore_index, pad_height_divisor=multiple, pad_width_divisor=multiple
            ),
            ToTensorV2(),
        ]
    )


def scale_crop_train(
    crop_size: tuple[int, int] = (512, 1024),
    scale_range: tuple[float, float] = (0.5, 2.0),
    flip_p: float = 0.5,
    jitter: float = 0.3,
    hue: float = 0.02,
    jitter_p: float = 0.8,
    ignore_index: int = IGNORE_INDEX,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> A.Compose:
    """Random scale in `scale_range`, pad with ignore to `crop_size`, random crop, flip, jitter."""
    lo, hi = scale_range
    if not 0 < lo <= hi:
        raise SegoodError(f"scale_range={scale_range} must satisfy 0 < low <= high")
    crop_h, crop_w = crop_size
    return A.Compose(
        [
            A.RandomScale(
                scale_limit=(lo - 1.0, hi - 1.0),
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
                p=1.0,
            ),
            _pad_bottom_right(ignore_index, min_height=crop_h, min_width=crop_w),
            A.RandomCrop(height=crop_h, width=crop_w),
            A.HorizontalFlip(p=flip_p),
            A.ColorJitter(
                brightness=jitter, contrast=jitter, saturation=jitter, hue=hue, p=jitter_p
            ),
            A.Normalize(mean=mean, std=std),
            ToTensorV2(),
        ]
    )


def eval_transform(
    size: tuple[int, int] | None = None,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> A.Compose:
    """Normalise and convert to tensor; with `size` (h, w) first resize (mask: nearest)."""
    steps: list[Any] = []
    if size is not None:
        steps.append(
            A.Resize(
                height=size[0],
                width=size[1],
                interpolation=cv2.INTER_LINEAR,
                mask_interpolation=cv2.INTER_NEAREST,
            )
        )
    steps += [A.Normalize(mean=mean, std=std), ToTensorV2()]
    return A.Compose(steps)


def _pad_bottom_right(ignore_index: int, **size: int) -> A.PadIfNeeded:
    """Pad bottom/right (image with 0, mask with `ignore_index`) to the `size` PadIfNeeded
    takes: min_height/min_width, or pad_height_divisor/pad_width_divisor."""
    size = {"min_height": None, "min_width": None, **size}
    return A.PadIfNeeded(
        **size, position="top_left", border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=ignore_index
    )


TRANSFORMS: dict[str, Callable[..., A.Compose]] = {
    "reference_train": reference_train,
    "scale_crop_train": scale_crop_train,
    "eval": eval_transform,
}


def build_transform(name: str, paste: Mapping[str, Any] | None = None, **kwargs: Any) -> A.Compose:
    """Build the pipeline called `name` ("reference_train", "scale_crop_train", "eval").

    paste: kwargs of `segood.data.paste.PasteCutouts` (folder, count, scale, ...); the cut-outs
    are pasted first, into the image as read, then everything else runs on the result.
    """
    if name not in TRANSFORMS:
        raise SegoodError(f"unknown transform {name!r}; choose one of {', '.join(TRANSFORMS)}")
    pipeline = TRANSFORMS[name](**kwargs)
    if not paste:
        return pipeline
    from segood.data.paste import PasteCutouts

    paste = dict(paste)
    paste.setdefault("ignore_index", kwargs.get("ignore_index", IGNORE_INDEX))
    try:
        step = PasteCutouts(**paste)
    except TypeError as e:
        raise SegoodError(
            f"transform.paste={paste}: {e}; see segood.data.paste.PasteCutouts"
        ) from e
    return A.Compose([step, *pipeline.transforms])
