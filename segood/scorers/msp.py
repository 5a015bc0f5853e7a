"""Maximum softmax probability (MSP).

Hendrycks & Gimpel, "A Baseline for Detecting Misclassified and Out-of-Distribution Examples
in Neural Networks", ICLR 2017. Score = -max_k softmax(f)_k, higher = more anomalous.

Registered also as "multilabel_msp": the CAOS paper (Hendrycks et al., ICML 2022, section 4)
applies the same softmax to the logits of a multi-label (sigmoid) classifier.
"""

import torch
from torch import Tensor

from segood.scorers.base import Scorer
from segood.scorers.registry import register


def msp(logits: Tensor) -> Tensor:  # (B, C, H, W) -> (B, H, W)
    """-max_k softmax(f)_k, computed in log space: max_k p_k = exp(max_k f_k - logsumexp_k f_k)."""
    return -torch.exp(logits.amax(dim=1) - torch.logsumexp(logits, dim=1))


@register("msp", aliases=("multilabel_msp",))
class MSP(Scorer):
    """Negative maximum softmax probability: -max_k softmax(f)_k (Hendrycks & Gimpel 2017)."""

    def score(self, logits: Tensor) -> Tensor:
        return msp(logits)
