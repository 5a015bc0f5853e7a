"""Exact anomaly-detection metrics (AUROC, AUPR, FPR95): one image, per image, pooled.

`ood_metrics` scores one set of pixels; `PerImageAccumulator` is the CAOS protocol (mean over
images); `PooledAccumulator` is exact over all pixels of a dataset with bounded memory.
All agree with scikit-learn (and the CAOS reference FPR95) to floating-point rounding.
"""

from segood.metrics.accumulators import METRIC_KEYS, PerImageAccumulator, PooledAccumulator
from segood.metrics.ood import ood_metrics
from segood.metrics.ranking import AP_RULES, FPR_RULES, RankCounts

__all__ = [
    "AP_RULES",
    "FPR_RULES",
    "METRIC_KEYS",
    "PerImageAccumulator",
    "PooledAccumulator",
    "RankCounts",
    "ood_metrics",
]
