"""Independent references for the metric tests: sklearn, and the CAOS reference FPR95.

`caos_reference_fpr95` follows `fpr_and_fdr_at_recall` of the CAOS reference code
(hendrycks/anomaly-seg) step by step, so that the "nearest" rule is checked against it.
"""

import numpy as np
from sklearn.metrics import (
    auc,
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def caos_reference_fpr95(y_true, y_score, recall_level=0.95):
    y_true = np.asarray(y_true, dtype=bool).ravel()
    y_score = np.asarray(y_score).ravel()
    desc = np.argsort(y_score, kind="mergesort")[::-1]
    y_score, y_true = y_score[desc], y_true[desc]
    distinct = np.where(np.diff(y_score))[0]
    threshold_idxs = np.r_[distinct, y_true.size - 1]
    tps = np.cumsum(y_true, dtype=np.float64)[threshold_idxs]
    fps = 1 + threshold_idxs - tps
    recall = tps / tps[-1]
    last_ind = tps.searchsorted(tps[-1])
    sl = slice(last_ind, None, -1)
    recall, fps = np.r_[recall[sl], 1], np.r_[fps[sl], 0]
    cutoff = np.argmin(np.abs(recall - recall_level))
    return fps[cutoff] / np.sum(np.logical_not(y_true))


def first_tpr_fpr95(y_true, y_score):
    fpr, tpr, _ = roc_curve(np.ravel(y_true), np.ravel(y_score))
    return fpr[np.argmax(tpr >= 0.95)]


def sklearn_metrics(y_true, y_score, fpr_rule="nearest", ap_rule="step"):
    y, s = np.ravel(y_true).astype(bool), np.ravel(y_score)
    if ap_rule == "step":
        aupr = average_precision_score(y, s)
    else:
        precision, recall, _ = precision_recall_curve(y, s)
        aupr = auc(recall, precision)
    fpr95 = caos_reference_fpr95(y, s) if fpr_rule == "nearest" else first_tpr_fpr95(y, s)
    return {"auroc": roc_auc_score(y, s), "aupr": aupr, "fpr95": fpr95}
