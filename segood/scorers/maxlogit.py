"""MaxLogit.

Hendrycks, Basart, Mazeika, Zou, Kwon, Mostajabi, Steinhardt and Song, "Scaling
Out-of-Distribution Detection for Real-World Settings", ICML 2022.
Score = -max_k f_k over the raw (pre-softmax) logits, higher = more anomalous.

Registered also as "multilabel_maxlogit": the paper's section 4 applies the same formula to the
logits of a multi-label (sigmoid) classifier.
"""

from torch import Tensor

from segood.scorers.base import Scorer
from segood.scorers.registry import register


def max_logit(logits: Tensor) -> Tensor:  # (B, C, H, W) -> (B, H, W)
    """-max_k f_k."""
    return -logits.amax(dim=1)


@register("maxlogit", aliases=("multilabel_maxlogit",))
class MaxLogit(Scorer):
    """Negative maximum logit: -max_k f_k (Hendrycks et al., ICML 2022)."""

    def score(self, logits: Tensor) -> Tensor:
        return max_logit(logits)
