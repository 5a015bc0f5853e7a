"""`ood_metrics`: AUROC, AUPR and FPR95 of one set of scores, exactly."""

from __future__ import annotations

from typing import Any

import numpy as np

from segood.errors import SegoodError
from segood.metrics.ranking import AP_RULES, FPR_RULES, all_metrics, rank_counts


def as_flat_arrays(
    scores: Any, is_anomaly: Any, ignore: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Flat (scores, is_anomaly) numpy arrays from numpy/torch input, ignored pixels dropped.

    fp16/bf16 scores become float32 (exactly); other float dtypes are kept; NaN raises.
    """
    s, y = _to_numpy(scores), _to_numpy(is_anomaly)
    if s.shape != y.shape:
        raise SegoodError(f"scores {s.shape} and is_anomaly {y.shape} must have the same shape")
    shape = s.shape
    s, y = s.reshape(-1), y.reshape(-1)
    if y.dtype != np.bool_:
        if not np.isin(y, (0, 1)).all():
            raise SegoodError("is_anomaly must be boolean or 0/1")
        y = y.astype(bool)
    if ignore is not None:
        keep = _to_numpy(ignore)
        if keep.shape != shape:
            raise SegoodError(f"ignore {keep.shape} must have the shape of scores {shape}")
        keep = ~keep.reshape(-1).astype(bool)
        s, y = s[keep], y[keep]
    if s.dtype.kind != "f" or s.dtype.itemsize < 4:
        s = s.astype(np.float32 if s.dtype.itemsize <= 2 else np.float64)
    if np.isnan(s).any():
        raise SegoodError(f"scores contain {int(np.isnan(s).sum())} NaN values")
    return s, y


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch here
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def check_rules(fpr_rule: str, ap_rule: str) -> None:
    if fpr_rule not in FPR_RULES:
        raise SegoodError(f"fpr_rule must be one of {FPR_RULES}, got {fpr_rule!r}")
    if ap_rule not in AP_RULES:
        raise SegoodError(f"ap_rule must be one of {AP_RULES}, got {ap_rule!r}")


def ood_metrics(
    scores: Any,
    is_anomaly: Any,
    *,
    fpr_rule: str = "nearest",
    ap_rule: str = "step",
    ignore: Any = None,
) -> dict[str, float]:
    """AUROC, AUPR and FPR95 (fractions) of `scores` (higher = more anomalous).

    Args:
        scores: any shape, numpy or torch.
        is_anomaly: same shape, boolean (anomaly = the positive class).
        fpr_rule: "nearest" (CAOS reference: FPR at the recall closest to 0.95) or "first"
            (first threshold with TPR >= 0.95).
        ap_rule: "step" (average precision, as sklearn) or "trapezoid".
        ignore: optional boolean mask, same shape; True pixels are left out.

    Returns {"auroc", "aupr", "fpr95"}, equal to sklearn's `roc_auc_score`,
    `average_precision_score` (or `auc(recall, precision)`) and the reference FPR95.
    The metrics are undefined without both classes: a `SegoodError` says which one is missing.
    """
    check_rules(fpr_rule, ap_rule)
    s, y = as_flat_arrays(scores, is_anomaly, ignore)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        missing = "anomalous (positive)" if n_pos == 0 else "normal (negative)"
        raise SegoodError(
            f"no {missing} pixels among {y.size} scored: AUROC, AUPR and FPR95 need both "
            "classes (the per-image CAOS accumulator skips and counts such images)"
        )
    return all_metrics(rank_counts(s, y), fpr_rule, ap_rule)
