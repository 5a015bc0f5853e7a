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


def msp(logits: Tensor, temperature: float = 1.0) -> Tensor:  # (B, C, H, W) -> (B, H, W)
    """-max_k softmax(f / T)_k, computed as -1 / sum_k exp((f_k - max f) / T).

    Every exponent is <= 0 and the max term is exactly 1, so the result carries only the
    rounding of the inputs' dtype, at any logit size. (exp(max - logsumexp) would subtract two
    numbers of size |max f|: a relative error of |max f| * 2^-24 in float32, 6e-5 at f = 1000.)
    Dividing the difference f_k - max f by T, not f by T first, keeps temperature MSP exact too.
    """
    shifted = logits - logits.amax(dim=1, keepdim=True)
    if temperature != 1.0:
        shifted = shifted / temperature
    return -1.0 / torch.exp(shifted).sum(dim=1)


@register("msp", aliases=("multilabel_msp",))
class MSP(Scorer):
    """Negative maximum softmax probability: -max_k softmax(f)_k (Hendrycks & Gimpel 2017)."""

    def score(self, logits: Tensor) -> Tensor:
        return msp(logits)
