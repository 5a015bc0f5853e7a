"""Exact OOD metrics from rank counts: the math, as pure numpy functions.

Every metric here (AUROC, AP, FPR at 95% TPR) depends on the scores only through the order of
negatives relative to the distinct positive values. So the whole score distribution reduces to
`RankCounts`: for each distinct positive (anomaly) score v_j in ascending order, how many
positives equal v_j, how many negatives are below v_j and how many equal it. Computing it costs
one sort of the negatives (or a merge of sorted runs, for the pooled accumulator) and one
`searchsorted`; each metric is then a vectorised pass over the m distinct positive values.

Definitions (anomaly = positive class, higher score = more anomalous):
- AUROC = P(s_pos > s_neg) + 0.5 P(s_pos = s_neg), the Mann-Whitney statistic, equal to
  sklearn's `roc_auc_score`.
- AP ("step") = sum_k (R_k - R_{k-1}) P_k over distinct thresholds, sklearn's
  `average_precision_score`; AP ("trapezoid") = sklearn's `auc(recall, precision)` on
  `precision_recall_curve`.
- FPR95 ("nearest") = the CAOS reference (`fpr_and_fdr_at_recall` of Hendrycks et al.): one ROC
  point per distinct threshold, from the lowest threshold with full recall upwards; the FPR of
  the point whose recall is closest to 0.95, ties going to the lowest threshold (the first
  `argmin`). It may be at a recall below 0.95. FPR95 ("first") = the FPR at the highest
  threshold whose TPR >= 0.95, as OpenOOD and pytorch-ood compute it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

FPR_RULES = ("nearest", "first")
AP_RULES = ("step", "trapezoid")
RECALL_LEVEL = 0.95


@dataclass(frozen=True)
class RankCounts:
    """Sufficient statistics of (scores, labels) for AUROC, AP and FPR95.

    Arrays are indexed by the distinct positive values in ascending order.
    """

    pos_count: np.ndarray  # (m,) int64: positives equal to v_j
    neg_below: np.ndarray  # (m,) int64: negatives < v_j
    neg_equal: np.ndarray  # (m,) int64: negatives == v_j
    n_neg: int
    pos_values: np.ndarray | None = None  # (m,) the distinct positive values v_j

    @property
    def n_pos(self) -> int:
        return int(self.pos_count.sum())


def rank_counts_sorted(
    pos_values: np.ndarray, pos_count: np.ndarray, neg_sorted: np.ndarray, neg_cum=None
) -> RankCounts:
    """RankCounts from distinct ascending positive values and sorted negatives.

    `neg_sorted` are either all negative scores sorted ascending (`neg_cum` None), or the
    distinct negative values with `neg_cum` the cumulative counts (len + 1, starting at 0).
    """
    lo = np.searchsorted(neg_sorted, pos_values, side="left")
    hi = np.searchsorted(neg_sorted, pos_values, side="right")
    if neg_cum is not None:
        lo, hi, n_neg = neg_cum[lo], neg_cum[hi], int(neg_cum[-1])
    else:
        n_neg = len(neg_sorted)
    return RankCounts(
        pos_count=np.asarray(pos_count, dtype=np.int64),
        neg_below=lo.astype(np.int64),
        neg_equal=(hi - lo).astype(np.int64),
        n_neg=n_neg,
        pos_values=pos_values,
    )


def rank_counts(scores: np.ndarray, is_anomaly: np.ndarray) -> RankCounts:
    """RankCounts of flat `scores` with boolean labels `is_anomaly` (both classes present).

    Negatives outside [min, max] of the positives are only counted; the rest are sorted in
    chunks on a thread pool (numpy's sort releases the GIL), and the counts at each positive
    value are summed over the chunks, so the result is exact and independent of chunking.
    """
    pos_values, pos_count = np.unique(scores[is_anomaly], return_counts=True)
    neg = scores[~is_anomaly]
    n_neg = len(neg)
    low, high = pos_values[0], pos_values[-1]
    n_low = int(np.count_nonzero(neg < low))
    neg = neg[(neg >= low) & (neg <= high)]
    below = np.full(len(pos_values), n_low, dtype=np.int64)
    equal = np.zeros(len(pos_values), dtype=np.int64)
    for part in _sorted_chunks(neg):
        lo = np.searchsorted(part, pos_values, side="left")
        below += lo
        equal += np.searchsorted(part, pos_values, side="right") - lo
    return RankCounts(pos_count.astype(np.int64), below, equal, n_neg, pos_values)


_PARALLEL_MIN = 1 << 17  # below this many values one sort is as fast as threads
_pool: ThreadPoolExecutor | None = None


def _sorted_chunks(values: np.ndarray) -> list[np.ndarray]:
    """`values` split into sorted chunks (one per core, for large inputs)."""
    workers = min(os.cpu_count() or 1, 8)
    if len(values) < _PARALLEL_MIN or workers == 1:
        return [np.sort(values)]
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(workers, thread_name_prefix="segood-sort")
    return list(_pool.map(np.sort, np.array_split(values, workers)))


def auroc(rc: RankCounts) -> float:
    """Area under the ROC curve: the Mann-Whitney statistic with ties counted half."""
    wins = int(np.dot(rc.pos_count, 2 * rc.neg_below + rc.neg_equal))  # exact in int64
    return wins / (2 * rc.n_pos * rc.n_neg)


def levels(rc: RankCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct positive value v_j: (#pos >= v_j, #neg >= v_j, #neg > v_j)."""
    tp = np.cumsum(rc.pos_count[::-1])[::-1]
    fp_ge = rc.n_neg - rc.neg_below
    fp_gt = fp_ge - rc.neg_equal
    return tp, fp_ge, fp_gt


def average_precision(rc: RankCounts, rule: str = "step") -> float:
    """Area under the precision-recall curve, `rule` "step" (sklearn AP) or "trapezoid"."""
    tp, fp_ge, fp_gt = levels(rc)
    n_pos = tp[0]
    precision_at = tp / (tp + fp_ge)  # at threshold v_j
    recall = tp / n_pos
    if rule == "step":
        recall_next = np.append(recall[1:], 0.0)
        return float(np.sum((recall - recall_next) * precision_at))
    if rule == "trapezoid":
        # The neighbour of v_j on the curve is the lowest threshold above v_j: it keeps the
        # positives above v_j and the negatives above v_j. Above the top positive value it is
        # (recall 0, precision 0) if a negative scores higher, else sklearn's end point (0, 1).
        tp_next = np.append(tp[1:], 0)
        denom = tp_next + fp_gt
        with np.errstate(invalid="ignore", divide="ignore"):
            precision_next = np.where(denom > 0, tp_next / np.maximum(denom, 1), 1.0)
        recall_next = tp_next / n_pos
        return float(np.sum((recall - recall_next) * (precision_at + precision_next) / 2))
    raise ValueError(f"ap_rule must be one of {AP_RULES}, got {rule!r}")


def fpr_at_recall(rc: RankCounts, rule: str = "nearest", level: float = RECALL_LEVEL) -> float:
    """False-positive rate at `level` true-positive rate, by `rule` "nearest" or "first"."""
    tp, fp_ge, fp_gt = levels(rc)
    recall = tp / tp[0]
    if rule == "nearest":
        # The reference's points, lowest threshold first: full recall at v_0, then for each
        # higher positive value v_j the lowest threshold keeping exactly tp[j] positives,
        # which keeps the negatives above v_{j-1}.
        fps = np.concatenate([fp_ge[:1], fp_gt[:-1]])
        pick = int(np.argmin(np.abs(recall - level)))
        return float(fps[pick] / rc.n_neg)
    if rule == "first":
        reached = np.nonzero(recall >= level)[0]
        return float(fp_ge[reached[-1]] / rc.n_neg)
    raise ValueError(f"fpr_rule must be one of {FPR_RULES}, got {rule!r}")


def all_metrics(rc: RankCounts, fpr_rule: str = "nearest", ap_rule: str = "step") -> dict:
    """{"auroc", "aupr", "fpr95"} as fractions in [0, 1]."""
    return {
        "auroc": auroc(rc),
        "aupr": average_precision(rc, ap_rule),
        "fpr95": fpr_at_recall(rc, fpr_rule),
    }
