"""Metric conventions for classification OOD benchmarks, all computed by `segood.metrics`.

Every convention takes scores with "higher = more anomalous" and a boolean `is_ood` per sample
and returns fractions. They differ only in protocol choices:

- "segood" (default): OOD = positive class; AUROC; AUPR = average precision (step rule,
  sklearn's `average_precision_score`); FPR95 = the FPR of the in-distribution samples at the
  highest threshold whose TPR (of OOD samples) is >= 0.95 (`fpr_rule="first"`). The "first" rule
  is used for classification, where the CAOS reference's "nearest" rule (pixels) has no standing.
- "openood": OpenOOD v1.5, `openood/evaluators/metrics.py::auc_and_fpr_recall` with
  conf = -score. OOD = positive for the ROC: FPR@95 = `fpr[argmax(tpr >= 0.95)]` on
  `sklearn.metrics.roc_curve(ood, -conf)`, whose default `drop_intermediate=True` removes
  collinear ROC points; with tied scores that can move the FPR to a later point, which
  `openood_fpr95` reproduces. AUROC = area under that ROC (= the Mann-Whitney AUROC).
  AUPR-In = trapezoidal area under `precision_recall_curve(id, conf)` (ID positive), AUPR-Out =
  the same with OOD positive and -conf. (OpenOOD v1.0's `fpr_recall`, FPR of OOD at 95% TPR of
  ID, is no longer what `compute_all_metrics` reports.)
- "pytorch-ood": `pytorch_ood.utils.OODMetrics` (classification mode): OOD = positive, score
  higher = OOD; AUROC; AUPR-IN / AUPR-OUT = trapezoidal areas under torchmetrics' PR curves
  (ID positive with -score / OOD positive with score); FPR95TPR = FPR at the first ROC point with
  TPR >= 0.95 (torchmetrics keeps every distinct threshold, so this is segood's "first" rule).

All keys are fractions: "fpr95", "auroc", "aupr" (OOD positive, for every convention: the step
rule for "segood", the trapezoid AUPR-Out for the others) and, for "openood" / "pytorch-ood",
also "aupr_in" and "aupr_out".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segood.errors import SegoodError
from segood.metrics import ood_metrics
from segood.metrics.ood import as_flat_arrays

CONVENTIONS = ("segood", "openood", "pytorch-ood")
RECALL_LEVEL = 0.95


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise SegoodError(
            f"unknown metric convention {convention!r}; choose one of {', '.join(CONVENTIONS)}"
        )
    return convention


def openood_fpr95(scores: Any, is_ood: Any, level: float = RECALL_LEVEL) -> float:
    """OpenOOD's FPR@95: the first point with TPR >= level of sklearn's dropped-intermediate ROC.

    The ROC has one point per distinct score (all samples, descending), preceded by (0, 0);
    a point is dropped when both its FP and TP increments equal those of the next point
    (collinear), exactly as `sklearn.metrics.roc_curve(drop_intermediate=True)` does.
    """
    s, y = as_flat_arrays(scores, is_ood)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], y.size - 1]  # last index of each distinct score
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    if tps.size > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps = tps[keep], fps[keep]
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    tpr, fpr = tps / tps[-1], fps / fps[-1]
    return float(fpr[np.argmax(tpr >= level)])


def cls_metrics(scores: Any, is_ood: Any, convention: str = "segood") -> dict[str, float]:
    """FPR95, AUROC and AUPR (fractions) of OOD scores under a named convention."""
    check_convention(convention)
    if convention == "segood":
        return ood_metrics(scores, is_ood, fpr_rule="first", ap_rule="step")
    s, y = as_flat_arrays(scores, is_ood)
    out = ood_metrics(s, y, fpr_rule="first", ap_rule="trapezoid")
    aupr_in = ood_metrics(-s, ~y, fpr_rule="first", ap_rule="trapezoid")["aupr"]
    if convention == "openood":
        out["fpr95"] = openood_fpr95(s, y)
    return {**out, "aupr_in": aupr_in, "aupr_out": out["aupr"]}
