"""MC dropout: disagreement between T stochastic passes with dropout left on.

Gal & Ghahramani, "Dropout as a Bayesian Approximation", ICML 2016; the CAOS baseline of
Hendrycks et al. (ICML 2022): per pixel, the variance over the T passes of the softmax
probabilities, averaged over the classes, s = (1/C) sum_k Var_t[softmax(f_t)_k]; higher = more
anomalous. The variance is the unbiased one (divisor T - 1, torch's default); the divisor is
the same for every pixel, so it changes no metric.
"""

import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import Scorer
from segood.scorers.registry import register


def softmax_variance(dropout_logits: Tensor) -> Tensor:  # (T, B, C, H, W) -> (B, H, W)
    """Mean over classes of the variance over passes of the softmax."""
    if dropout_logits.shape[0] < 2:
        raise SegoodError(f"MC dropout needs at least 2 passes, got {dropout_logits.shape[0]}")
    probs = torch.softmax(dropout_logits, dim=2)  # (T, B, C, H, W)
    return probs.var(dim=0).mean(dim=1)


@register("mc_dropout", aliases=("dropout",))
class MCDropout(Scorer):
    """Variance of the softmax over T dropout passes, mean over classes (CAOS baseline)."""

    requires = ("dropout_logits",)
    stacked = frozenset({"dropout_logits"})

    def score(self, dropout_logits: Tensor) -> Tensor:
        return softmax_variance(dropout_logits)
