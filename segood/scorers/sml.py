"""Standardized max logit (SML).

Jung, Lee, Gwak, Kim and Choo, "Standardizing Max Logits: A Simple yet Effective Approach for
Identifying Unexpected Road Obstacles in Urban-Scene Segmentation", ICCV 2021.
Fit on in-distribution pixels: for each predicted class c = argmax_k f_k, the mean mu_c and the
standard deviation sigma_c of the max logit m = max_k f_k. Score = -(m - mu_c) / sigma_c with c
the pixel's predicted class; higher = more anomalous.

Choices (not fixed by the paper):
- sigma_c is the sample standard deviation (divisor n_c - 1), floored at `eps`.
- A class predicted fewer than 2 times during the fit has no usable spread; it uses the mean and
  standard deviation pooled over every fitted pixel. The scorer counts as fitted once it has
  seen at least 2 pixels.
- Statistics are streamed per class in float64 (count, mean, M2) and merged with the parallel
  formula of Chan, Golub & LeVeque (1979), so the batch order changes them only by rounding.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import FittedScorer
from segood.scorers.registry import register

Stats = tuple[Tensor, Tensor, Tensor]  # count, mean, m2: each (C,) float64


def class_stats(values: Tensor, classes: Tensor, num_classes: int) -> Stats:
    """Per-class count, mean and M2 = sum (v - mean)^2 of `values` (N,) grouped by `classes`."""
    values = values.to(torch.float64)
    count = torch.bincount(classes, minlength=num_classes).to(torch.float64)  # (C,)
    total = torch.zeros(num_classes, dtype=torch.float64, device=values.device)
    mean = total.index_add(0, classes, values) / count.clamp(min=1)
    m2 = total.index_add(0, classes, (values - mean[classes]) ** 2)
    return count, mean, m2


def merge_stats(a: Stats, b: Stats) -> Stats:
    """Chan et al.'s parallel merge of two (count, mean, M2) summaries of disjoint samples."""
    (na, ma, qa), (nb, mb, qb) = a, b
    n = na + nb
    delta = mb - ma
    safe_n = n.clamp(min=1)
    mean = ma + delta * nb / safe_n
    m2 = qa + qb + delta**2 * na * nb / safe_n
    return n, mean, m2


def class_mean_std(stats: Stats, eps: float) -> tuple[Tensor, Tensor]:
    """(mu, sigma) per class; classes seen < 2 times get the statistics pooled over all pixels."""
    count, mean, m2 = stats
    total = count.sum()
    pooled_mean = (count * mean).sum() / total
    pooled_m2 = m2.sum() + (count * (mean - pooled_mean) ** 2).sum()
    pooled_std = torch.sqrt(pooled_m2 / (total - 1))
    own = count >= 2
    std = torch.sqrt(m2 / (count - 1).clamp(min=1))
    mu = torch.where(own, mean, pooled_mean)
    sigma = torch.where(own, std, pooled_std).clamp(min=eps)
    return mu, sigma


def standardized_max_logit(logits: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """-(max_k f_k - mu_c) / sigma_c, c = argmax_k f_k: (B, C, H, W) -> (B, H, W)."""
    m, c = logits.max(dim=1)  # (B, H, W) each
    mu = mu.to(device=logits.device, dtype=logits.dtype)
    sigma = sigma.to(device=logits.device, dtype=logits.dtype)
    return -(m - mu[c]) / sigma[c]


@register("sml")
class StandardizedMaxLogit(FittedScorer):
    """-(max logit - mu_c) / sigma_c with per-class statistics fitted on in-distribution pixels
    (Jung et al., ICCV 2021). See the module docstring for the pooling and eps choices."""

    def __init__(self, eps: float = 1e-6) -> None:
        if isinstance(eps, bool) or not isinstance(eps, int | float):
            raise SegoodError(f"sml: eps must be a number, got {eps!r}")
        if not (math.isfinite(eps) and eps > 0):
            raise SegoodError(f"sml: eps must be positive and finite, got {eps}")
        self.eps = float(eps)
        self._stats: Stats | None = None  # (count, mean, m2), each (C,) float64 on the CPU

    @property
    def num_classes(self) -> int | None:
        return None if self._stats is None else len(self._stats[0])

    @property
    def fitted(self) -> bool:
        return self._stats is not None and self._stats[0].sum().item() >= 2

    def _check_classes(self, num_classes: int, action: str) -> None:
        if self.num_classes is not None and num_classes != self.num_classes:
            raise SegoodError(
                f"sml was fitted on logits with {self.num_classes} classes; cannot {action} "
                f"logits with {num_classes} classes"
            )

    def accumulate(self, keep: Tensor, logits: Tensor) -> None:
        num_classes = logits.shape[1]
        self._check_classes(num_classes, "update with")
        m, c = logits.movedim(1, -1)[keep].max(dim=1)  # (N,) kept pixels
        batch = tuple(s.cpu() for s in class_stats(m, c, num_classes))
        if self._stats is None:
            zeros = torch.zeros(num_classes, dtype=torch.float64)
            self._stats = (zeros, zeros, zeros)
        self._stats = merge_stats(self._stats, batch)

    def score(self, logits: Tensor) -> Tensor:
        self._check_classes(logits.shape[1], "score")
        mu, sigma = class_mean_std(self._stats, self.eps)
        return standardized_max_logit(logits, mu, sigma)

    def state_dict(self) -> dict[str, Tensor]:
        if self._stats is None:
            raise SegoodError("sml has no fitted state to save: call .update(logits) first")
        count, mean, m2 = self._stats
        return {
            "count": count.clone(),
            "mean": mean.clone(),
            "m2": m2.clone(),
            "num_classes": torch.tensor(len(count)),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        missing = {"count", "mean", "m2", "num_classes"} - set(state)
        if missing:
            raise SegoodError(f"sml state lacks {sorted(missing)}")
        num_classes = int(state["num_classes"])
        stats = tuple(
            torch.as_tensor(state[k], dtype=torch.float64) for k in ("count", "mean", "m2")
        )
        if any(s.shape != (num_classes,) for s in stats):
            raise SegoodError(
                f"sml state is inconsistent: count/mean/m2 must have shape ({num_classes},), got "
                f"{[tuple(s.shape) for s in stats]}"
            )
        self._stats = stats
