"""Predictive entropy.

Shannon entropy of the softmax, H(p) = -sum_k p_k log p_k with 0 log 0 = 0 (a standard
uncertainty baseline, e.g. in Hendrycks & Gimpel, ICLR 2017 and the PRO paper's list of scorers).
Higher = more anomalous.
"""

import torch
from torch import Tensor

from segood.scorers.base import Scorer
from segood.scorers.registry import register


def entropy(logits: Tensor) -> Tensor:  # (B, C, H, W) -> (B, H, W)
    """-sum_k p_k log p_k, p = softmax(f); log p from log_softmax, terms with p_k = 0 are 0."""
    logp = torch.log_softmax(logits, dim=1)
    p = logp.exp()
    plogp = torch.where(p > 0, p * logp, torch.zeros((), dtype=p.dtype, device=p.device))
    return -plogp.sum(dim=1)


@register("entropy")
class Entropy(Scorer):
    """Entropy of the softmax, -sum_k p_k log p_k."""

    def score(self, logits: Tensor) -> Tensor:
        return entropy(logits)
