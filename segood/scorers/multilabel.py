"""Multi-label (sigmoid classifier) scorers of the CAOS paper's section 4.

Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World Settings", ICML 2022.
LogitAvg: score = -mean_i f_i over the C independent sigmoid logits, higher = more anomalous.
The paper's multi-label MaxLogit and MSP are the same formulas as the multi-class ones and are
registered there as aliases: "multilabel_maxlogit" (maxlogit.py), "multilabel_msp" (msp.py).
"""

from torch import Tensor

from segood.scorers.base import Scorer
from segood.scorers.registry import register


def logit_avg(logits: Tensor) -> Tensor:  # (B, C, H, W) -> (B, H, W)
    """-mean_i f_i."""
    return -logits.mean(dim=1)


@register("logitavg")
class LogitAvg(Scorer):
    """Negative mean logit of a multi-label classifier: -mean_i f_i (Hendrycks et al. 2022)."""

    def score(self, logits: Tensor) -> Tensor:
        return logit_avg(logits)
