"""Outlier pixels for outlier exposure: paste object cut-outs into training images.

`PasteCutouts` is an albumentations transform that pastes K random cut-outs (RGBA PNGs whose
alpha channel is the object mask) from a folder into the image at random positions and scales
and writes `OUTLIER_INDEX` into the label under them. It runs first in a training pipeline
(`build_transform(name, paste=dict(folder=...))` prepends it), so the pasted objects are then
resized, flipped and normalised together with the scene.

Label values: `OUTLIER_INDEX = 254` marks outlier pixels. It is distinct from the ignore value
255 and from every class id (StreetHazards 0..13, BDD-Anomaly 0..19); `SegModel` refuses it if
it equals a class id or its ignore index, and treats it as "an outlier pixel" for the
outlier-exposure and energy losses (the auxiliary head ignores it). The sprite's alpha is
blended into the image; pixels with alpha >= 0.5 become `OUTLIER_INDEX`, partly transparent
edge pixels (0 < alpha < 0.5) become the ignore value (they mix the object and the scene), and
pixels with alpha 0 are left unchanged in both the image and the label.

Determinism: every draw comes from the transform's own generator, which `Compose.set_random_seed`
reseeds; `SegoodDataset` does that with the sampler's per-sample seed, so the pasted objects of a
sample depend only on (seed, stream position) and training resumes exactly.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from albumentations.core.transforms_interface import DualTransform

from segood.data.base import IGNORE_INDEX
from segood.data.io import decode_file
from segood.errors import SegoodError

OUTLIER_INDEX = 254
"""Label value of pasted outlier pixels (not a class id, not the ignore value 255)."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_RGBA = 6  # IHDR colour type "truecolour with alpha"


def png_color_type(path: Path) -> int | None:
    """The IHDR colour type of a PNG file (6 = RGBA), read from its header; None if not a PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">B", head[25:26])[0]


def list_cutouts(folder: str | Path) -> list[Path]:
    """The RGBA PNG cut-outs in `folder` (sorted), or a SegoodError naming the problem."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise SegoodError(
            f"cut-out folder {folder} does not exist; make one with "
            f"`python tools/make_outlier_sprites.py --out {folder}` or point paste.folder at a "
            "folder of RGBA PNG cut-outs"
        )
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise SegoodError(
            f"cut-out folder {folder} holds no .png files; it needs RGBA PNG cut-outs (alpha = "
            "object mask), e.g. from tools/make_outlier_sprites.py"
        )
    for path in files:
        color_type = png_color_type(path)
        if color_type != _PNG_RGBA:
            what = "not a PNG" if color_type is None else f"PNG colour type {color_type}"
            raise SegoodError(
                f"cut-out {path} is not an 8/16-bit RGBA PNG ({what}); the alpha channel is the "
                "object mask: save it as RGBA or remove it from the folder"
            )
    return files


def read_cutout(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(rgb (h, w, 3) uint8, alpha (h, w) float32 in [0, 1]) cropped to the alpha's bounding box;
    an all-transparent cut-out gives empty arrays."""
    raw = decode_file(path, cv2.IMREAD_UNCHANGED)
    if raw.ndim != 3 or raw.shape[2] != 4:
        raise SegoodError(f"cut-out {path} could not be read as an RGBA image; re-save it as RGBA")
    if raw.dtype == np.uint16:
        raw = (raw >> 8).astype(np.uint8)
    ys, xs = np.nonzero(raw[..., 3])
    if len(ys) == 0:
        return np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.float32)
    raw = raw[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    rgb = cv2.cvtColor(raw[..., :3], cv2.COLOR_BGR2RGB)
    return rgb, raw[..., 3].astype(np.float32) / 255.0


def resize_cutout(
    rgb: np.ndarray, alpha: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resize to `size` (h, w) with premultiplied alpha, so that the colours of transparent
    pixels (often black) do not bleed into the object's edge."""
    h, w = size
    interp = cv2.INTER_AREA if h * w < alpha.size else cv2.INTER_LINEAR
    premult = rgb.astype(np.float32) * alpha[..., None]
    a = np.clip(cv2.resize(alpha, (w, h), interpolation=interp), 0.0, 1.0)
    c = cv2.resize(premult, (w, h), interpolation=interp).reshape(h, w, 3)
    c = np.where(a[..., None] > 0, c / np.maximum(a[..., None], 1e-6), 0.0)
    return np.clip(np.rint(c), 0, 255).astype(np.uint8), a.reshape(h, w)


@dataclass(frozen=True)
class Placement:
    """One pasted cut-out: top-left corner and the resized sprite."""

    y: int
    x: int
    rgb: np.ndarray  # (h, w, 3) uint8
    alpha: np.ndarray  # (h, w) float32 in [0, 1]


def paste_image(image: np.ndarray, placements: Sequence[Placement]) -> np.ndarray:
    """Alpha-blend the placements into an (H, W, 3) uint8 image, in order (later on top)."""
    out = image.copy()
    for p in placements:
        h, w = p.alpha.shape
        region = out[p.y : p.y + h, p.x : p.x + w].astype(np.float32)
        a = p.alpha[..., None]
        blended = a * p.rgb.astype(np.float32) + (1.0 - a) * region
        under = p.alpha > 0
        out[p.y : p.y + h, p.x : p.x + w][under] = np.rint(blended[under]).astype(np.uint8)
    return out


def paste_mask(
    mask: np.ndarray,
    placements: Sequence[Placement],
    outlier_index: int = OUTLIER_INDEX,
    ignore_index: int = IGNORE_INDEX,
) -> np.ndarray:
    """The label under the placements: alpha >= 0.5 -> outlier, 0 < alpha < 0.5 -> ignore."""
    out = mask.copy()
    for p in placements:
        h, w = p.alpha.shape
        region = out[p.y : p.y + h, p.x : p.x + w]
        region[(p.alpha > 0) & (p.alpha < 0.5)] = ignore_index
        region[p.alpha >= 0.5] = outlier_index
    return out


class PasteCutouts(DualTransform):
    """Paste `count` (min, max; inclusive) random cut-outs from `folder` into the image.

    Each cut-out (cropped to its alpha) is resized so its longer side is a fraction drawn
    uniformly from `scale` of the image's shorter side (capped to fit inside the image), flipped
    horizontally with probability 0.5, and placed uniformly at random fully inside the image.
    Labels: see the module docstring. `p` is the probability that an image gets any cut-outs.
    """

    def __init__(
        self,
        folder: str,
        count: Sequence[int] = (1, 3),
        scale: Sequence[float] = (0.08, 0.3),
        outlier_index: int = OUTLIER_INDEX,
        ignore_index: int = IGNORE_INDEX,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        lo, hi = (int(v) for v in count)
        if not 0 <= lo <= hi:
            raise SegoodError(f"paste.count={tuple(count)} must be (min, max) with 0 <= min <= max")
        s_lo, s_hi = (float(v) for v in scale)
        if not 0 < s_lo <= s_hi <= 1:
            raise SegoodError(f"paste.scale={tuple(scale)} must satisfy 0 < low <= high <= 1")
        if outlier_index == ignore_index:
            raise SegoodError(
                f"paste.outlier_index={outlier_index} equals the ignore value; use {OUTLIER_INDEX}"
            )
        self.folder = str(folder)
        self.files = list_cutouts(folder)
        self.count = (lo, hi)
        self.scale = (s_lo, s_hi)
        self.outlier_index = int(outlier_index)
        self.ignore_index = int(ignore_index)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def targets(self) -> dict[str, Callable[..., Any]]:
        return {"image": self.apply, "mask": self.apply_to_mask}

    def _cutout(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index not in self._cache:
            self._cache[index] = read_cutout(self.files[index])
        return self._cache[index]

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        height, width = params["shape"][:2]
        rng = self.random_generator
        placements = []
        for _ in range(int(rng.integers(self.count[0], self.count[1] + 1))):
            index = int(rng.integers(len(self.files)))
            frac = float(rng.uniform(*self.scale))
            flip = bool(rng.random() < 0.5)
            rgb, alpha = self._cutout(index)
            if alpha.size == 0:
                continue
            h, w = alpha.shape
            long_side = frac * min(height, width)
            k = min(long_side / max(h, w), height / h, width / w)
            nh, nw = max(1, round(h * k)), max(1, round(w * k))
            rgb_s, alpha_s = resize_cutout(rgb, alpha, (nh, nw))
            if flip:
                rgb_s, alpha_s = rgb_s[:, ::-1], alpha_s[:, ::-1]
            y = int(rng.integers(0, height - nh + 1))
            x = int(rng.integers(0, width - nw + 1))
            placements.append(Placement(y, x, np.ascontiguousarray(rgb_s), alpha_s))
        return {"placements": placements}

    def apply(self, img: np.ndarray, placements: list[Placement], **params: Any) -> np.ndarray:
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise SegoodError(
                "PasteCutouts must come first in the pipeline (it takes the (H, W, 3) uint8 RGB "
                f"image), got {img.dtype} {img.shape}"
            )
        return paste_image(img, placements)

    def apply_to_mask(
        self, mask: np.ndarray, placements: list[Placement], **params: Any
    ) -> np.ndarray:
        return paste_mask(mask, placements, self.outlier_index, self.ignore_index)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("folder", "count", "scale", "outlier_index", "ignore_index")
