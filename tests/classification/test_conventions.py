"""Each metric convention against an independent computation with scikit-learn."""

import numpy as np
import pytest
from sklearn import metrics as skm

from segood.classification.conventions import cls_metrics, openood_fpr95
from segood.errors import SegoodError


def cases(n_cases: int = 60):
    """Random scores with many ties (few distinct values) and random class balance."""
    rng = np.random.default_rng(0)
    out = []
    while len(out) < n_cases:
        n = int(rng.integers(5, 80))
        s = rng.integers(0, int(rng.integers(2, 15)), n).astype(np.float64)
        y = rng.random(n) < rng.uniform(0.1, 0.9)
        if 0 < y.sum() < n:
            out.append((s, y))
    # the collinear-ROC case where OpenOOD's drop_intermediate moves its FPR@95
    s = np.r_[np.arange(100, 83, -1), 5, 5, 4, 4, 3, 3, np.zeros(10)]
    y = np.r_[np.ones(17), 1, 0, 1, 0, 1, 0, np.zeros(10)].astype(bool)
    return [*out, (s, y)]


def first_fpr(y, s, drop_intermediate: bool) -> float:
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=drop_intermediate)
    return float(fpr[np.argmax(tpr >= 0.95)])


def openood_reference(conf, label):
    """OpenOOD v1.5 `auc_and_fpr_recall`, with label -1 = OOD (written from its source)."""
    ood = np.zeros_like(label)
    ood[label == -1] = 1
    fpr_list, tpr_list, _ = skm.roc_curve(ood, -conf)
    fpr = fpr_list[np.argmax(tpr_list >= 0.95)]
    p_in, r_in, _ = skm.precision_recall_curve(1 - ood, conf)
    p_out, r_out, _ = skm.precision_recall_curve(ood, -conf)
    return skm.auc(fpr_list, tpr_list), skm.auc(r_in, p_in), skm.auc(r_out, p_out), fpr


@pytest.mark.parametrize("case", range(61))
def test_segood_convention_is_sklearn(case):
    s, y = cases()[case]
    m = cls_metrics(s, y, "segood")
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert m["aupr"] == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert m["fpr95"] == pytest.approx(first_fpr(y, s, drop_intermediate=False), abs=1e-12)


@pytest.mark.parametrize("case", range(61))
def test_openood_convention_reproduces_openood(case):
    s, y = cases()[case]
    label = np.where(y, -1, 3)  # OpenOOD labels: -1 = OOD, class ids for ID
    auroc, aupr_in, aupr_out, fpr = openood_reference(-s, label)  # conf = -score
    m = cls_metrics(s, y, "openood")
    assert m["auroc"] == pytest.approx(auroc, abs=1e-12)
    assert m["aupr_in"] == pytest.approx(aupr_in, abs=1e-12)
    assert m["aupr_out"] == pytest.approx(aupr_out, abs=1e-12)
    assert m["aupr"] == m["aupr_out"]
    assert m["fpr95"] == pytest.approx(fpr, abs=1e-12)


@pytest.mark.parametrize("case", range(61))
def test_pytorch_ood_convention(case):
    s, y = cases()[case]
    m = cls_metrics(s, y, "pytorch-ood")
    p, r, _ = skm.precision_recall_curve(y, s)
    p_in, r_in, _ = skm.precision_recall_curve(~y, -s)
    assert m["auroc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert m["aupr_out"] == pytest.approx(skm.auc(r, p), abs=1e-12)
    assert m["aupr_in"] == pytest.approx(skm.auc(r_in, p_in), abs=1e-12)
    # torchmetrics' binary_roc keeps every threshold: FPR at the first TPR >= 0.95
    assert m["fpr95"] == pytest.approx(first_fpr(y, s, drop_intermediate=False), abs=1e-12)


def test_openood_quirk_differs_from_first_rule_on_collinear_ties():
    s, y = cases()[-1]
    assert openood_fpr95(s, y) == pytest.approx(3 / 13)
    assert cls_metrics(s, y, "pytorch-ood")["fpr95"] == pytest.approx(2 / 13)


def test_unknown_convention_is_a_clear_error():
    with pytest.raises(SegoodError, match="convention"):
        cls_metrics([0.0, 1.0], [False, True], "sklearn")
