"""ViM: virtual-logit matching, per pixel.

Wang, Li, Feng and Zhang, "ViM: Out-Of-Distribution with Virtual-logit Matching", CVPR 2022.
With features x shifted to an origin u, the principal subspace P of the in-distribution
features (the top `dim` eigenvectors of their second moment about u), the residual
r(x) = ||(x - u)^{P-perp}|| and alpha = sum_i max_j f_ij / sum_i r(x_i) over the fit data, the
paper's ID score is -alpha r(x) + logsumexp_j f_j(x) (the energy of [f, alpha r]'s virtual-logit
softmax, monotone in it). Anomaly score, higher = more anomalous:
    score = alpha * r(x) - logsumexp_j f_j(x).

Choices:
- Origin (`origin`): "classifier" (default) is the paper's and the reference code's
  u = -pinv(W) b of the linear classifier f = W x + b, so that the logits are a linear map of
  x - u; the principal subspace is that of the second moment of x - u over the fit (sklearn's
  EmpiricalCovariance(assume_centered=True) in the reference code). A PSPNet's classifier is a
  1x1 convolution, so per pixel it is exactly such a W (C, D) and b (C,): the scorer requires
  the model output `classifier` = (W, b) (the evaluation reads it off the model's decode head).
  u is fixed at the first fit step; later steps must come with the same classifier.
  "mean" takes u = the mean in-distribution feature (the second moment is then the
  covariance), for outputs without a model (saved predictions).
- dim (the principal dimension): None = the reference code's rule, 1000 for D >= 2048 (BiT),
  512 for D >= 768 (ViT, DeiT, Swin), D / 2 otherwise (256 for the 512-channel PSPNet decoder,
  as OpenOOD's ViM for 512-d ResNet-18 features).
- The logits are taken on the features' grid: image-resolution logits are resized bilinearly
  to it (for a single-scale PSPNet this closely recovers the stride-8 classifier output).
- Streaming: float64 count, sum x and sum x x^T give the mean and covariance exactly; sum of
  max logits is exact; the mean residual norm needs the subspace, which is known only after the
  fit, so it is taken over a uniform reservoir sample of at most `alpha_sample` fitted pixels
  (default 10,000; exact when the fit has no more pixels than that).
- Fit with many more pixels than D: with fewer, the fit data lies in the principal subspace,
  the mean residual is ~0 and alpha explodes (it is kept finite: the residual mean is floored).
- A fit mask at image resolution is resampled to the feature grid (nearest, pixel centres).

Compared with pytorch-ood 0.4.0's ViM (same origin, subspace and score): it fits on a tensor of
every feature in float32 and takes alpha over all of them, needs the principal dimension `d`
(segood: the reference code's rule by default) and recomputes the logits as W x + b, where
segood takes the model's logits on the features' grid (equal for a single-scale model with a
1x1 classifier; the scale-averaged logits under multi-scale testing).

Memory (D channels), for any image size: fit state 8 (D^2 + D) bytes + the alpha sample
4 alpha_sample D bytes (2 MB + 20 MB at D = 512); a fit step works on blocks of 4096 pixels in
float64 (under 32 MB at D = 512) and, while the sample fills, briefly holds a second copy of
it. Scoring state 4 D (D - dim + 1) bytes (0.5 MB); scoring runs over `chunk` pixels at a time
(default 4096), peak beyond inputs, state and output about 4 chunk (2 D - dim + C) bytes
(under 20 MB at D = 512). Both bounds are checked on a 720x1280 image by the tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import FittedScorer
from segood.scorers.knn import reservoir_update
from segood.scorers.mahalanobis import FIT_CHUNK, check_count, map_pixels, on_grid, pixel_chunks
from segood.scorers.registry import register


def default_dim(channels: int) -> int:
    """The principal dimension of the ViM reference code for D-channel features."""
    if channels >= 2048:
        return 1000
    if channels >= 768:
        return 512
    return channels // 2


def classifier_origin(weight: Tensor, bias: Tensor) -> Tensor:
    """The paper's origin u = -pinv(W) b (D,) in float64, of W (C, D) and b (C,)."""
    w, b = weight.detach().to(torch.float64).cpu(), bias.detach().to(torch.float64).cpu()
    return -(torch.linalg.pinv(w) @ b)


def principal_null_space(
    count: Tensor, total: Tensor, outer: Tensor, dim: int, origin: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """(origin u (D,), null space N (D, D - dim): the eigenvectors of the second moment of
    x - u beyond the top `dim`), from float64 count, sum x and sum x x^T; u = the mean if None.

    sum (x - u)(x - u)^T / n = S / n - (u t^T + t u^T) / n + u u^T, with t = sum x, S = sum x x^T.
    """
    u = total / count if origin is None else origin
    moment = outer / count - (torch.outer(u, total) + torch.outer(total, u)) / count
    moment = moment + torch.outer(u, u)
    _, evecs = torch.linalg.eigh((moment + moment.T) / 2)  # eigenvalues ascending
    return u, evecs[:, : moment.shape[0] - dim]


def check_classifier(classifier: Any, channels: int, classes: int) -> tuple[Tensor, Tensor]:
    """(W (C, D), b (C,)) of a `classifier` output (W, b); W may be a 1x1 conv's (C, D, 1, 1)."""
    if not (isinstance(classifier, tuple | list) and len(classifier) == 2):
        raise SegoodError("vim: the classifier output must be the pair (weight, bias)")
    w, b = (torch.as_tensor(v) for v in classifier)
    w = w.reshape(w.shape[0], -1) if w.ndim == 4 and w.shape[2:] == (1, 1) else w
    if w.shape != (classes, channels) or b.shape != (classes,):
        raise SegoodError(
            f"vim: classifier weight {tuple(w.shape)} and bias {tuple(b.shape)} do not match "
            f"{channels}-channel features and {classes} classes: expected ({classes}, "
            f"{channels}) and ({classes},)"
        )
    if not (torch.isfinite(w).all() and torch.isfinite(b).all()):
        raise SegoodError("vim: the classifier weight or bias contains NaN/Inf values")
    return w, b


def residual_norm(x: Tensor, origin: Tensor, null_space: Tensor) -> Tensor:
    """||(x - u) projected off the principal subspace|| for rows x (c, D) -> (c,)."""
    return ((x - origin) @ null_space).norm(dim=1)


def vim(
    features: Tensor,
    logits: Tensor,
    origin: Tensor,
    null_space: Tensor,
    alpha: float,
    chunk: int = 4096,
) -> Tensor:
    """alpha * residual - logsumexp(logits) per pixel: features (B, D, h, w) and logits
    (B, C, h, w) on the same grid -> (B, h, w)."""
    kw = dict(device=features.device, dtype=features.dtype)
    u, ns = origin.to(**kw), null_space.to(**kw)

    def one(x: Tensor, f: Tensor) -> Tensor:  # (c, D), (c, C) -> (c,)
        return alpha * residual_norm(x, u, ns) - torch.logsumexp(f, dim=1)

    return map_pixels(chunk, one, features, logits.to(features.dtype))


ORIGINS = ("classifier", "mean")


@register("vim")
class ViM(FittedScorer):
    """alpha ||(x - u)^{P-perp}|| - logsumexp(f) (Wang et al. 2022), per pixel of the decoder
    features; origin u = -pinv(W) b of the classifier (or the mean feature), principal dim D/2
    for D < 768."""

    passthrough = frozenset({"classifier"})
    resample_mask = True

    def __init__(
        self,
        dim: int | None = None,
        alpha_sample: int = 10000,
        seed: int = 0,
        chunk: int = 4096,
        origin: str = "classifier",
    ) -> None:
        if origin not in ORIGINS:
            raise SegoodError(f"vim: origin must be one of {ORIGINS}, got {origin!r}")
        self.origin = origin
        self.dim = None if dim is None else check_count("vim", "dim", dim)
        self.alpha_sample = check_count("vim", "alpha_sample", alpha_sample)
        self.seed = check_count("vim", "seed", seed, minimum=0)
        self.chunk = check_count("vim", "chunk", chunk)
        self._rng = np.random.default_rng(seed)
        self._state: dict[str, Tensor] | None = None
        self._subspace: tuple[Tensor, Tensor, float] | None = None  # cached (u, N, alpha)

    @property
    def requires(self) -> tuple[str, ...]:  # the model outputs: the classifier for its origin
        return ("features", "logits") + (("classifier",) if self.origin == "classifier" else ())

    @property
    def fitted(self) -> bool:
        return self._state is not None and self._state["count"].item() >= 2

    def principal_dim(self, channels: int) -> int:
        dim = default_dim(channels) if self.dim is None else self.dim
        if not 0 < dim < channels:
            raise SegoodError(f"vim: dim = {dim} must be between 1 and D - 1 = {channels - 1}")
        return dim

    def _check_dims(self, features: Tensor, logits: Tensor, action: str) -> None:
        s = self._state
        if s is None:
            return
        d, c = s["total"].shape[0], int(s["num_classes"])
        if features.shape[1] != d or logits.shape[1] != c:
            raise SegoodError(
                f"vim was fitted on {d}-channel features and {c} classes; cannot {action} "
                f"{features.shape[1]} channels and {logits.shape[1]} classes"
            )

    def _classifier_origin(self, classifier: Any, features: Tensor, logits: Tensor) -> Tensor:
        w, b = check_classifier(classifier, features.shape[1], logits.shape[1])
        u = classifier_origin(w, b)
        fitted = None if self._state is None else self._state.get("origin")
        if fitted is not None and not torch.allclose(u, fitted, rtol=1e-6, atol=1e-9):
            raise SegoodError(
                "vim: this fit began with another classifier (its origin -pinv(W) b differs); "
                "fit each model separately"
            )
        return u

    def accumulate(
        self, keep: Tensor, features: Tensor, logits: Tensor, classifier: Any = None
    ) -> None:
        self._check_dims(features, logits, "update with")
        d = features.shape[1]
        self.principal_dim(d)
        origin = None
        if self.origin == "classifier":
            origin = self._classifier_origin(classifier, features, logits)
        logits = on_grid(logits, features.shape[-2:])
        if self._state is None:
            z = dict(dtype=torch.float64)
            self._state = {
                "count": torch.zeros((), **z),
                "total": torch.zeros(d, **z),
                "outer": torch.zeros(d, d, **z),
                "max_logit_sum": torch.zeros((), **z),
                "sample": torch.zeros(0, d),
                "seen": torch.tensor(0),
                "num_classes": torch.tensor(logits.shape[1]),
            }
            if origin is not None:
                self._state["origin"] = origin
        s = self._state

        def add(x: Tensor, f: Tensor, k: Tensor) -> None:  # a block's temporaries die on return
            kept = k[:, 0]
            x, f = x[kept], f[kept]
            x64 = x.to(torch.float64)
            s["count"] += len(x)
            s["total"] += x64.sum(dim=0).cpu()
            s["outer"] += (x64.T @ x64).cpu()
            s["max_logit_sum"] += f.to(torch.float64).amax(dim=1).sum().cpu()
            s["sample"], seen = reservoir_update(
                s["sample"], int(s["seen"]), x.float().cpu(), self.alpha_sample, self._rng
            )
            s["seen"] = torch.tensor(seen)

        for _, blocks in pixel_chunks(FIT_CHUNK, features, logits, keep[:, None]):
            add(*blocks)
        self._subspace = None

    def subspace(self) -> tuple[Tensor, Tensor, float]:
        """(origin u (D,), null space (D, D - dim), alpha) of the current fit, float64."""
        if self._subspace is None:
            s = self._state
            dim = self.principal_dim(s["total"].shape[0])
            u, ns = principal_null_space(s["count"], s["total"], s["outer"], dim, s.get("origin"))
            residual = residual_norm(s["sample"].to(torch.float64), u, ns).mean()
            mean_max_logit = s["max_logit_sum"] / s["count"]
            floor = torch.finfo(torch.float64).eps * (1 + s["sample"].norm(dim=1).mean())
            alpha = float(mean_max_logit / residual.clamp(min=floor.item()))
            self._subspace = (u, ns, alpha)
        return self._subspace

    @property
    def alpha(self) -> float:
        return self.subspace()[2]

    def score(self, features: Tensor, logits: Tensor, classifier: Any = None) -> Tensor:
        self._check_dims(features, logits, "score")  # the fit's origin is used
        u, ns, alpha = self.subspace()
        return vim(features, on_grid(logits, features.shape[-2:]), u, ns, alpha, self.chunk)

    def state_dict(self) -> dict[str, Tensor]:
        if self._state is None:
            raise SegoodError("vim has no fitted state to save: call .update first")
        return {k: v.clone() for k, v in self._state.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        keys = ("count", "total", "outer", "max_logit_sum", "sample", "seen", "num_classes")
        missing = set(keys) - set(state)
        if missing:
            raise SegoodError(f"vim state lacks {sorted(missing)}")
        fit_origin = "classifier" if "origin" in state else "mean"
        if fit_origin != self.origin:
            raise SegoodError(
                f"vim: this fit was made with origin={fit_origin!r}; load it into "
                f"get('vim', origin={fit_origin!r}) (--set vim.origin={fit_origin})"
            )
        s = {k: torch.as_tensor(v) for k, v in state.items() if k in (*keys, "origin")}
        for k in ("count", "total", "outer", "max_logit_sum", "origin"):
            if k in s:
                s[k] = s[k].to(torch.float64)
        s["sample"] = s["sample"].to(torch.float32)
        d = s["total"].shape[0] if s["total"].ndim == 1 else -1
        if s["outer"].shape != (d, d) or s["sample"].ndim != 2 or s["sample"].shape[1] != d:
            raise SegoodError(
                "vim state is inconsistent: expected total (D,), outer (D, D), sample (M, D), got "
                f"{tuple(s['total'].shape)}, {tuple(s['outer'].shape)}, {tuple(s['sample'].shape)}"
            )
        self._state, self._subspace = s, None
        self._rng = np.random.default_rng(self.seed)
