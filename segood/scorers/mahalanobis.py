"""Mahalanobis distance to class-conditional Gaussians with a shared covariance, per pixel.

Lee, Lee, Lee and Shin, "A Simple Unified Framework for Detecting Out-of-Distribution Samples
and Adversarial Attacks", NeurIPS 2018. Fitted on in-distribution pixels of the decoder
features x (D channels): class means mu_k and one covariance shared by the classes,
Sigma = (1/N) sum_k sum_{i in k} (x_i - mu_k)(x_i - mu_k)^T. Score (the paper's confidence
score M(x) with its sign flipped), higher = more anomalous:
    score = min_k (x - mu_k)^T Sigma^+ (x - mu_k).
The paper's input preprocessing and feature ensemble over layers are left out: this is its
score on the last features (the PSPNet decoder's, at stride 8; a classifier's penultimate).

Choices:
- Classes are the argmax of the logits on the features' grid (logits at image resolution are
  resized bilinearly to it), so no labels are needed (as KL matching). Lee et al. use the
  training labels; on in-distribution validation pixels the two mostly agree. A class never
  predicted during the fit has no Gaussian and is left out of the minimum. At score time only
  the features matter (the logits are required for the fit).
- Sigma^+ is the pseudo-inverse, as sklearn's EmpiricalCovariance in the reference code
  (directions with no variance in the fit, e.g. dead channels, are ignored). It is applied as a
  whitening W (r x D, W^T W = Sigma^+) from the eigendecomposition, so a distance is the sum of
  squares ||W x - W mu_k||^2: no cancellation, float32 is accurate.
- Streaming fit in float64: per class the count n_k and the sum s_k (K x D), and the scatter
  S = sum x x^T (D x D); Sigma = (S - sum_k s_k s_k^T / n_k) / N. Sums merge exactly (the
  batch order changes the fit only by rounding).
- A fit mask at image resolution is resampled to the feature grid (nearest, pixel centres).

Compared with pytorch-ood 0.4.0's Mahalanobis (by design; expect different numbers):
- Covariance: pytorch-ood sums the class-centred outer products without dividing by N, adds
  1e-6 I and inverts (torch.linalg.inv); segood divides by N, as the paper's Sigma and the
  reference code's sklearn EmpiricalCovariance, and takes the pseudo-inverse. For a full-rank
  Sigma the two distances differ by the factor N (pytorch-ood's are about d / N: same ranking,
  up to the ridge); where Sigma is singular (dead channels, fewer fit pixels than D),
  pytorch-ood's ridge weighs each direction without variance by 1e6, so those directions
  dominate its ranking, while segood ignores them.
- Score: pytorch-ood reports half the squared distance, 0.5 min_k d_k (the Gaussian
  log-density's factor); segood min_k d_k (monotone: same ranking).
- pytorch-ood fits on class labels (all classes 0..C-1 must occur) and averages (B, D, H, W)
  features over space (one score per image, in float32 with the quadratic form expanded);
  segood fits on the predicted classes and scores every pixel.

Memory (D channels, K classes, rank r <= D), for any image size: fit state 8 (D^2 + K D + K)
bytes (2.1 MB for D = 512, K = 13); a fit step works on blocks of 4096 pixels in float64,
peak beyond inputs and state about 4096 * 12 D bytes (under 32 MB at D = 512). Scoring state
4 r (D + K) bytes (1.1 MB); scoring runs over `chunk` pixels at a time (default 4096), peak
beyond inputs, state and the (B, h, w) output about 4 chunk (2 r + 2) bytes (under 20 MB at
D = 512). Both bounds are checked on a 720x1280 image by the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import FittedScorer
from segood.scorers.registry import register

FIT_CHUNK = 4096  # pixels per float64 block during a fit


def check_count(scorer: str, what: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SegoodError(f"{scorer}: {what} must be an integer >= {minimum}, got {value!r}")
    return value


def on_grid(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, C, H, W) maps on the (h, w) grid of the features: unchanged if already there, else
    resized bilinearly (align_corners=False), e.g. image-resolution logits -> stride 8."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=False)


def pixel_chunks(chunk: int, *maps: Tensor) -> Iterator[tuple[slice, list[Tensor]]]:
    """Blocks of up to `chunk` pixels of maps (B, C_i, h, w) sharing B, h, w, as (rows of the
    flat (B * h * w) output, [(c, C_i) per map]). Views, not copies, for contiguous maps."""
    b, _, h, w = maps[0].shape
    if h * w == 1:  # a classifier batch (N, C, 1, 1): chunk over the samples
        rows = [m.reshape(b, -1) for m in maps]
        for start in range(0, b, chunk):
            part = slice(start, min(start + chunk, b))
            yield part, [r[part] for r in rows]
        return
    flat = [m.flatten(2) for m in maps]  # (B, C_i, h * w)
    for i in range(b):
        for start in range(0, h * w, chunk):
            stop = min(start + chunk, h * w)
            yield slice(i * h * w + start, i * h * w + stop), [f[i, :, start:stop].T for f in flat]


def map_pixels(chunk: int, fn: Callable[..., Tensor], features: Tensor, *maps: Tensor) -> Tensor:
    """fn(pixels (c, D), *others (c, C_i)) -> (c,), over every pixel: (B, h, w) scores."""
    b, _, h, w = features.shape
    out = features.new_empty(b * h * w)
    for rows, blocks in pixel_chunks(chunk, features, *maps):
        out[rows] = fn(*blocks)
    return out.view(b, h, w)


def class_sums(
    features: Tensor, classes: Tensor, keep: Tensor, num_classes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Float64 count (K,), sums (K, D), scatter sum x x^T (D, D) of the kept pixels.

    features (B, D, h, w), classes and keep (B, h, w); processed FIT_CHUNK pixels at a time.
    """
    d = features.shape[1]
    kw = dict(dtype=torch.float64, device=features.device)
    count = torch.zeros(num_classes, **kw)
    sums = torch.zeros(num_classes, d, **kw)
    outer = torch.zeros(d, d, **kw)

    def add(x: Tensor, c: Tensor, k: Tensor) -> None:  # a block's temporaries die on return
        k = k[:, 0]
        x, c = x[k].to(torch.float64), c[k, 0]
        count.add_(torch.bincount(c, minlength=num_classes).to(torch.float64))
        sums.index_add_(0, c, x)
        outer.add_(x.T @ x)

    for _, blocks in pixel_chunks(FIT_CHUNK, features, classes[:, None], keep[:, None]):
        add(*blocks)
    return count, sums, outer


def shared_gaussian(count: Tensor, sums: Tensor, outer: Tensor) -> tuple[Tensor, Tensor]:
    """(means (K', D) of the fitted classes, whitening W (r, D) with W^T W = pinv(Sigma))."""
    used = count > 0
    n_k, s_k = count[used], sums[used]
    means = s_k / n_k[:, None]
    cov = (outer - (s_k.T / n_k) @ s_k) / count.sum()
    cov = (cov + cov.T) / 2
    evals, evecs = torch.linalg.eigh(cov)
    tol = evals.max().clamp(min=0) * cov.shape[0] * torch.finfo(cov.dtype).eps  # pinv's rule
    big = evals > tol
    whiten = (evecs[:, big] / evals[big].sqrt()).T  # (r, D)
    return means, whiten


def mahalanobis(features: Tensor, means: Tensor, whiten: Tensor, chunk: int = 4096) -> Tensor:
    """min_k ||W (x - mu_k)||^2 per pixel of features (B, D, h, w) -> (B, h, w)."""
    w = whiten.to(device=features.device, dtype=features.dtype)  # (r, D)
    m = (means.to(whiten.dtype) @ whiten.T).to(device=features.device, dtype=features.dtype)

    def nearest(x: Tensor) -> Tensor:  # (c, D) -> (c,)
        z = x @ w.T  # (c, r)
        best = None
        for mu in m:  # one class at a time: (c, r) temporaries, never (c, K, r)
            d = (z - mu).square_().sum(dim=1)
            best = d if best is None else torch.minimum(best, d)
        return best

    return map_pixels(chunk, nearest, features)


@register("mahalanobis")
class Mahalanobis(FittedScorer):
    """min_k Mahalanobis distance to class Gaussians with a shared covariance (Lee et al. 2018),
    per pixel of the decoder features; classes from the logits' argmax during the fit."""

    requires = ("features", "logits")
    resample_mask = True

    def __init__(self, chunk: int = 4096) -> None:
        self.chunk = check_count("mahalanobis", "chunk", chunk)
        self._count: Tensor | None = None  # (K,) float64
        self._sums: Tensor | None = None  # (K, D) float64
        self._outer: Tensor | None = None  # (D, D) float64
        self._gaussian: tuple[Tensor, Tensor] | None = None  # cached (means, whiten)

    @property
    def fitted(self) -> bool:
        return self._count is not None and self._count.sum().item() >= 2

    def _check_dims(self, features: Tensor, logits: Tensor | None, action: str) -> None:
        if self._count is None:
            return
        k, d = self._sums.shape
        if features.shape[1] != d or (logits is not None and logits.shape[1] != k):
            got = f"{features.shape[1]} channels" + (
                f" and {logits.shape[1]} classes" if logits is not None else ""
            )
            raise SegoodError(
                f"mahalanobis was fitted on {d}-channel features and {k} classes; cannot {action} "
                f"{got}"
            )

    def accumulate(self, keep: Tensor, features: Tensor, logits: Tensor) -> None:
        self._check_dims(features, logits, "update with")
        classes = on_grid(logits, features.shape[-2:]).argmax(dim=1)  # (B, h, w)
        batch = class_sums(features, classes, keep, logits.shape[1])
        if self._count is None:
            self._count, self._sums, self._outer = (t.cpu() for t in batch)
        else:
            self._count = self._count + batch[0].cpu()
            self._sums = self._sums + batch[1].cpu()
            self._outer = self._outer + batch[2].cpu()
        self._gaussian = None

    def gaussian(self) -> tuple[Tensor, Tensor]:
        """(class means (K', D), whitening W (r, D)) of the current fit, float64."""
        if self._gaussian is None:
            self._gaussian = shared_gaussian(self._count, self._sums, self._outer)
        return self._gaussian

    def score(self, features: Tensor, logits: Tensor) -> Tensor:
        self._check_dims(features, None, "score")
        means, whiten = self.gaussian()
        return mahalanobis(features, means, whiten, self.chunk)

    def state_dict(self) -> dict[str, Tensor]:
        if self._count is None:
            raise SegoodError("mahalanobis has no fitted state to save: call .update first")
        return {
            "count": self._count.clone(),
            "sums": self._sums.clone(),
            "outer": self._outer.clone(),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        missing = {"count", "sums", "outer"} - set(state)
        if missing:
            raise SegoodError(f"mahalanobis state lacks {sorted(missing)}")
        count, sums, outer = (
            torch.as_tensor(state[k], dtype=torch.float64) for k in ("count", "sums", "outer")
        )
        k, d = sums.shape if sums.ndim == 2 else (-1, -1)
        if count.shape != (k,) or outer.shape != (d, d):
            raise SegoodError(
                "mahalanobis state is inconsistent: expected count (K,), sums (K, D), outer "
                f"(D, D), got {tuple(count.shape)}, {tuple(sums.shape)}, {tuple(outer.shape)}"
            )
        self._count, self._sums, self._outer, self._gaussian = count, sums, outer, None
