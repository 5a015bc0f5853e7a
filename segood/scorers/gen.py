"""GEN: generalized entropy.

Liu, Lochman and Zach, "GEN: Pushing the Limits of Softmax-Based Out-of-Distribution
Detection", CVPR 2023. Score = G(p) = sum_{j in top-M} p_j^gamma (1 - p_j)^gamma over the M
largest softmax probabilities (M clamped to the number of classes), gamma = 0.1, M = 100.
The paper uses -G as a confidence; here G itself is the score, higher = more anomalous.
"""

import math

import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import Scorer
from segood.scorers.registry import register

_LOG_HALF = -math.log(2.0)


def log1mexp(x: Tensor) -> Tensor:
    """log(1 - exp(x)) for x <= 0, accurate at both ends (Maechler 2012); -inf at x = 0."""
    x = x.clamp(max=0.0)
    return torch.where(x > _LOG_HALF, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


def gen(logits: Tensor, gamma: float = 0.1, top_m: int = 100) -> Tensor:  # (B,C,H,W) -> (B,H,W)
    """sum over the top-M p_j of p_j^gamma (1 - p_j)^gamma, as exp(gamma (log p + log(1-p))).

    log(1 - p) of the most probable class is logsumexp of the other logits - logsumexp of all,
    which stays exact when p is within rounding of 1 (with gamma = 0.1 that term still counts).
    """
    lse = torch.logsumexp(logits, dim=1, keepdim=True)  # (B, 1, H, W)
    logp = logits - lse  # (B, C, H, W)
    top = logits.argmax(dim=1, keepdim=True)  # (B, 1, H, W)
    others = logits.scatter(1, top, float("-inf"))
    log1m_top = torch.logsumexp(others, dim=1, keepdim=True) - lse  # log(1 - p_max)
    log1mp = log1mexp(logp).scatter(1, top, log1m_top)  # log(1 - p), (B, C, H, W)
    terms = torch.exp(gamma * (logp + log1mp))
    m = min(top_m, logits.shape[1])
    if m < logits.shape[1]:
        terms = terms.gather(1, logp.topk(m, dim=1).indices)  # (B, M, H, W)
    return terms.sum(dim=1)


@register("gen")
class GEN(Scorer):
    """Generalized entropy sum_{top M} p^gamma (1 - p)^gamma (Liu, Lochman & Zach, CVPR 2023)."""

    def __init__(self, gamma: float = 0.1, top_m: int = 100) -> None:
        if isinstance(gamma, bool) or not isinstance(gamma, int | float):
            raise SegoodError(f"gen: gamma must be a number, got {gamma!r}")
        if not (math.isfinite(gamma) and gamma > 0):
            raise SegoodError(f"gen: gamma must be positive and finite, got {gamma}")
        if isinstance(top_m, bool) or not isinstance(top_m, int) or top_m < 1:
            raise SegoodError(f"gen: top_m must be an integer >= 1, got {top_m!r}")
        self.gamma = float(gamma)
        self.top_m = top_m

    def score(self, logits: Tensor) -> Tensor:
        return gen(logits, self.gamma, self.top_m)
