"""KL matching.

Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World Settings", ICML 2022
(the KL matching baseline). Fit without labels: for each class k, the template d_k is the mean
softmax over the fitted inputs (pixels) predicted as k. Score = min_k KL(p || d_k) over the
classes that have a template (classes never predicted are left out), higher = more anomalous.

KL(p || d_k) = sum_i p_i log p_i - sum_i p_i log d_k,i, so every class is scored at once by one
einsum. A template entry d_k,i = 0 (possible only through underflow) would make the KL infinite;
the templates are clamped to `eps` before the log, which keeps the score finite and large.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import FittedScorer
from segood.scorers.registry import register


def template_sums(probs: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Per predicted class: the sum of the softmax vectors (K, C) and their count (K,)."""
    predicted = probs.argmax(dim=1)  # (N,)
    sums = torch.zeros(num_classes, num_classes, dtype=torch.float64, device=probs.device)
    sums.index_add_(0, predicted, probs.to(torch.float64))
    counts = torch.bincount(predicted, minlength=num_classes).to(torch.float64)
    return sums, counts


def kl_matching(logits: Tensor, log_templates: Tensor) -> Tensor:  # (B,C,H,W) -> (B,H,W)
    """min_k KL(softmax(f) || d_k) with log d_k given as rows of `log_templates` (K, C)."""
    logp = torch.log_softmax(logits, dim=1)
    p = logp.exp()
    plogp = torch.where(p > 0, p * logp, torch.zeros((), dtype=p.dtype, device=p.device))
    neg_entropy = plogp.sum(dim=1)  # (B, H, W)
    log_templates = log_templates.to(device=logits.device, dtype=logits.dtype)
    cross = torch.einsum("bchw,kc->bkhw", p, log_templates)  # (B, K, H, W)
    return (neg_entropy[:, None] - cross).amin(dim=1)


@register("kl_matching")
class KLMatching(FittedScorer):
    """min_k KL(p || d_k) against per-predicted-class mean softmax templates (no labels)."""

    def __init__(self, eps: float = 1e-12) -> None:
        if isinstance(eps, bool) or not isinstance(eps, int | float):
            raise SegoodError(f"kl_matching: eps must be a number, got {eps!r}")
        if not (math.isfinite(eps) and eps > 0):
            raise SegoodError(f"kl_matching: eps must be positive and finite, got {eps}")
        self.eps = float(eps)
        self._sums: Tensor | None = None  # (C, C) float64: row k sums softmax of pixels -> k
        self._counts: Tensor | None = None  # (C,) float64: pixels predicted as k

    @property
    def num_classes(self) -> int | None:
        return None if self._counts is None else len(self._counts)

    @property
    def fitted(self) -> bool:
        return self._counts is not None and bool((self._counts > 0).any())

    def templates(self) -> Tensor:
        """The templates d_k (K, C) of the classes predicted at least once, in class order."""
        used = self._counts > 0
        return self._sums[used] / self._counts[used, None]

    def _check_classes(self, num_classes: int, action: str) -> None:
        if self.num_classes is not None and num_classes != self.num_classes:
            raise SegoodError(
                f"kl_matching was fitted on logits with {self.num_classes} classes; cannot "
                f"{action} logits with {num_classes} classes"
            )

    def accumulate(self, keep: Tensor, logits: Tensor) -> None:
        num_classes = logits.shape[1]
        self._check_classes(num_classes, "update with")
        probs = torch.softmax(logits.movedim(1, -1)[keep].to(torch.float64), dim=1)  # (N, C)
        sums, counts = template_sums(probs, num_classes)
        if self._counts is None:
            self._sums = torch.zeros(num_classes, num_classes, dtype=torch.float64)
            self._counts = torch.zeros(num_classes, dtype=torch.float64)
        self._sums = self._sums + sums.cpu()
        self._counts = self._counts + counts.cpu()

    def score(self, logits: Tensor) -> Tensor:
        self._check_classes(logits.shape[1], "score")
        return kl_matching(logits, self.templates().clamp(min=self.eps).log())

    def state_dict(self) -> dict[str, Tensor]:
        if self._counts is None:
            raise SegoodError("kl_matching has no fitted state to save: call .update first")
        return {
            "sums": self._sums.clone(),
            "counts": self._counts.clone(),
            "num_classes": torch.tensor(len(self._counts)),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        missing = {"sums", "counts", "num_classes"} - set(state)
        if missing:
            raise SegoodError(f"kl_matching state lacks {sorted(missing)}")
        c = int(state["num_classes"])
        sums = torch.as_tensor(state["sums"], dtype=torch.float64)
        counts = torch.as_tensor(state["counts"], dtype=torch.float64)
        if sums.shape != (c, c) or counts.shape != (c,):
            raise SegoodError(
                f"kl_matching state is inconsistent: expected sums ({c}, {c}) and counts "
                f"({c},), got {tuple(sums.shape)} and {tuple(counts.shape)}"
            )
        self._sums, self._counts = sums, counts
