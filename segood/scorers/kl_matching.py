"""KL matching.

Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World Settings", ICML 2022
(the KL matching baseline). Fit without labels: for each class k, the template d_k is the mean
softmax over the fitted inputs (pixels) predicted as k. Score = min_k KL(p || d_k) over the
classes that have a template (classes never predicted are left out), higher = more anomalous.

KL(p || d_k) = sum_i p_i log p_i - sum_i p_i log d_k,i, so every class is scored at once by one
einsum. Every template entry is used as fitted (float64 means, logged in float64), however
small: the divergence is the exact one of the definition, with its conventions for zeros:
- 0 log(0 / d) = 0: a class with p_i = 0 contributes nothing, also where d_k,i = 0;
- p_i > 0 where d_k,i = 0 (a template entry that underflowed to 0 in the fit): KL = +inf.
An infinite divergence to one template only rules that template out of the minimum; a pixel
whose KL is infinite to every template scores +inf, above every finite score, and all such
pixels tie. (The KL matching reference, haoqiwang/vim, gives +inf too; pytorch-ood 0.4.0
replaces log 0 by the dtype's lowest finite value, a huge finite score that orders those pixels
by their mass on the zero entries.) p is the softmax in the logits' dtype: a probability that
underflows to 0 there counts as 0.
"""

from __future__ import annotations

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


def kl_matching(logits: Tensor, templates: Tensor) -> Tensor:  # (B,C,H,W) -> (B,H,W)
    """min_k KL(softmax(f) || d_k), templates d_k as rows of `templates` (K, C), exactly (the
    module doc gives the conventions for zero probabilities)."""
    logp = torch.log_softmax(logits, dim=1)
    p = logp.exp()
    zero = torch.zeros((), dtype=p.dtype, device=p.device)
    neg_entropy = torch.where(p > 0, p * logp, zero).sum(dim=1)  # (B, H, W)
    empty = templates == 0  # (K, C)
    log_d = torch.where(empty, 1.0, templates.to(torch.float64)).log()  # zeros: handled below
    log_d = log_d.to(device=logits.device, dtype=logits.dtype)
    kl = neg_entropy[:, None] - torch.einsum("bchw,kc->bkhw", p, log_d)  # (B, K, H, W)
    if bool(empty.any()):
        # mass of p on the zero entries of d_k: positive -> the divergence is infinite
        outside = torch.einsum("bchw,kc->bkhw", (p > 0).to(p.dtype), empty.to(kl))
        kl = kl.masked_fill(outside > 0, float("inf"))
    return kl.amin(dim=1)


@register("kl_matching")
class KLMatching(FittedScorer):
    """min_k KL(p || d_k) against per-predicted-class mean softmax templates (no labels)."""

    def __init__(self) -> None:
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
        return kl_matching(logits, self.templates())

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
