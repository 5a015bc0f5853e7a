"""Confidence branch: the learned confidence of DeVries & Taylor, applied per pixel.

DeVries & Taylor, "Learning Confidence for Out-of-Distribution Detection in Neural Networks"
(arXiv 2018); the CAOS baseline "Branch" of Hendrycks et al. (ICML 2022): a sigmoid head c in
(0, 1) trained with hints; score = -c, higher = more anomalous.
"""

from torch import Tensor

from segood.scorers.base import Scorer
from segood.scorers.registry import register


def negative_confidence(confidence: Tensor) -> Tensor:  # (B, 1, H, W) -> (B, H, W)
    return -confidence[:, 0]


@register("branch", aliases=("confidence_branch",))
class ConfidenceBranch(Scorer):
    """-c for the confidence branch's output c (DeVries & Taylor 2018)."""

    requires = ("confidence",)

    def score(self, confidence: Tensor) -> Tensor:
        return negative_confidence(confidence)
