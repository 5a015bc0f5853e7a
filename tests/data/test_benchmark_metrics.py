"""Synthetic scores evaluated on each benchmark's items (void left out with the loader's mask)
equal sklearn's metrics computed from the raw label files with the benchmark's own encoding."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from segood.data import build_dataset
from segood.metrics.ood import ood_metrics
from tests.data import trees

# name, tree writer, labelled split, raw -> (scored, anomalous), from each benchmark's spec
CASES = [
    ("smiyc-anomaly", "smiyc_anomaly", "validation",
     lambda r: (np.isin(r, (0, 1)), r == 1)),
    ("smiyc-obstacle", "smiyc_obstacle", "validation",
     lambda r: (np.isin(r, (0, 1)), r == 1)),
    ("lostandfound", "lost_and_found", "test",
     lambda r: ((r >= 1) & (r <= 200), (r >= 2) & (r <= 200))),
    ("fishyscapes-laf", "fishyscapes", "validation",
     lambda r: (r <= 1, r == 1)),
    ("road-anomaly", "road_anomaly", "test",
     lambda r: (np.ones(r.shape, bool), r >= 2)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "writer", "split", "encoding"), CASES, ids=[c[0] for c in CASES])
def test_pooled_metrics_equal_sklearn(tmp_path, name, writer, split, encoding):
    raws = getattr(trees, writer)(tmp_path)
    ds = build_dataset(name, tmp_path, split)
    rng = np.random.default_rng(7)
    scores, anomaly, ignore, expected_y, expected_s = [], [], [], [], []
    for i in range(len(ds)):
        item = ds[i]
        score = np.round(rng.random(item["label"].shape), 1)  # ties on purpose
        scores.append(score)
        anomaly.append(ds.is_anomaly(item["label"]))
        ignore.append(ds.ignore_mask(item["label"]))
        scored, positive = encoding(raws[item["name"]])
        expected_y.append(positive[scored])
        expected_s.append(score[scored])
    got = ood_metrics(np.stack(scores), np.stack(anomaly), ignore=np.stack(ignore),
                      fpr_rule="first")  # fmt: skip
    y, s = np.concatenate(expected_y), np.concatenate(expected_s)
    assert 0 < y.sum() < y.size
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert got["auroc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert got["aupr"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert got["fpr95"] == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)
