"""The synthetic OOD sets of the appendix of Hendrycks et al. (and of Outlier Exposure).

Each set is generated in the [-1, 1] image space of those papers and returned in [0, 1] pixel
space, (x + 1) / 2, float32 (N, C, H, W), so that it goes through the same normalisation as the
in-distribution images:
- "gaussian": x ~ N(0, sigma = 0.5) per pixel and channel, clipped to [-1, 1].
- "rademacher": x = +1 or -1 with probability 1/2 each.
- "blobs": Bernoulli(0.7) pixels, blurred by a Gaussian of sigma 1.5 over the (H, W, C) volume
  (skimage's `gaussian(multichannel=False)` of the reference, border mode "nearest"), values
  below 0.75 set to 0; the blurred values are the [0, 1] pixels (the reference maps them by
  2b - 1 to [-1, 1]): amorphous shapes with definite edges.
"""

from __future__ import annotations

import numpy as np

from segood.errors import SegoodError

KINDS = ("gaussian", "rademacher", "blobs")


def synthetic_ood(
    kind: str, n: int, size: tuple[int, int], channels: int = 3, seed: int = 0
) -> np.ndarray:
    """`n` images (n, channels, H, W) of a synthetic OOD kind, float32 in [0, 1]."""
    if kind not in KINDS:
        raise SegoodError(f"unknown synthetic OOD set {kind!r}; choose from {', '.join(KINDS)}")
    if n < 1:
        raise SegoodError(f"synthetic OOD set {kind!r} needs at least 1 image, got {n}")
    rng = np.random.default_rng(seed)
    h, w = size
    if kind == "gaussian":
        x = np.clip(rng.normal(0.0, 0.5, size=(n, channels, h, w)), -1.0, 1.0)
        return ((x + 1) / 2).astype(np.float32)
    if kind == "rademacher":
        return rng.binomial(1, 0.5, size=(n, channels, h, w)).astype(np.float32)
    from scipy.ndimage import gaussian_filter

    b = rng.binomial(1, 0.7, size=(n, h, w, channels)).astype(np.float64)
    b = gaussian_filter(b, sigma=(0, 1.5, 1.5, 1.5), mode="nearest")  # per image, over H, W, C
    b[b < 0.75] = 0.0
    return np.ascontiguousarray(b.transpose(0, 3, 1, 2)).astype(np.float32)
