import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import precision_recall_curve

from segood.metrics import PooledAccumulator
from segood.metrics.components import (
    TAUS,
    ComponentAccumulator,
    best_f1_threshold,
    component_metrics,
    component_scores,
)


def reference_component_scores(pred, gt):
    """Loop-by-loop transcription of the SegmentMeIfYouCan definitions (scipy labelling)."""
    eight = np.ones((3, 3), int)
    gt_lab, n_gt = ndimage.label(gt, structure=eight)
    pr_lab, n_pr = ndimage.label(pred, structure=eight)
    siou = []
    for k in range(1, n_gt + 1):
        comp = gt_lab == k
        hit = np.zeros_like(pred)
        for m in np.unique(pr_lab[comp]):
            if m:
                hit |= pr_lab == m
        others = gt & ~comp
        siou.append((comp & hit).sum() / ((comp | hit) & ~others).sum())
    ppv = []
    for m in range(1, n_pr + 1):
        comp = pr_lab == m
        hit = np.zeros_like(gt)
        for k in np.unique(gt_lab[comp]):
            if k:
                hit |= gt_lab == k
        ppv.append((comp & hit).sum() / comp.sum())
    return np.array(siou), np.array(ppv)


def test_hand_cases():
    gt = np.zeros((8, 8), bool)
    gt[1:3, 1:3] = True  # 4 pixels
    siou, ppv = component_scores(gt.copy(), gt)
    assert siou.tolist() == [1.0] and ppv.tolist() == [1.0]
    pred = gt.copy()
    pred[1:3, 3:5] = True  # 4 extra pixels touching the object
    siou, ppv = component_scores(pred, gt)
    assert siou.tolist() == [0.5] and ppv.tolist() == [0.5]
    pred = np.zeros_like(gt)
    pred[6, 6] = True  # a false positive far away
    siou, ppv = component_scores(pred, gt)
    assert siou.tolist() == [0.0] and ppv.tolist() == [0.0]


def test_prediction_over_two_objects_is_not_penalised_twice():
    gt = np.zeros((3, 9), bool)
    gt[1, 1:3] = True
    gt[1, 6:8] = True
    pred = np.zeros_like(gt)
    pred[1, 1:8] = True  # one component covering both objects and the 3-pixel gap
    siou, ppv = component_scores(pred, gt)
    # each object: 2 / (2 + 3 gap pixels); the other object's pixels are not counted
    assert siou.tolist() == pytest.approx([2 / 5, 2 / 5])
    assert ppv.tolist() == pytest.approx([4 / 7])


def test_matches_loop_reference_on_random_masks():
    rng = np.random.default_rng(0)
    for _ in range(30):
        gt = ndimage.binary_dilation(rng.random((24, 32)) < 0.03, iterations=2)
        pred = ndimage.binary_dilation(rng.random((24, 32)) < 0.03, iterations=2) | (
            gt & (rng.random((24, 32)) < 0.7)
        )
        got, want = component_scores(pred, gt), reference_component_scores(pred, gt)
        for a, b in zip(got, want, strict=True):  # labelling order differs: compare sorted
            assert np.sort(a) == pytest.approx(np.sort(b))


def test_mean_f1_by_hand():
    # sIoU 0.3 and 0.8, PPV 0.6: tau 0.25 -> TP 2, FN 0, FP 0 -> F1 1
    metrics = component_metrics(np.array([0.3, 0.8]), np.array([0.6]))
    f1 = []
    for tau in TAUS:
        tp = int(tau < 0.3) + int(tau < 0.8)
        fn = 2 - tp
        fp = int(tau >= 0.6)
        f1.append(2 * tp / (2 * tp + fn + fp))
    assert metrics["mean_f1"] == pytest.approx(np.mean(f1))
    assert metrics["siou_gt"] == pytest.approx(0.55) and metrics["ppv"] == pytest.approx(0.6)


def test_best_f1_threshold_matches_sklearn_curve():
    rng = np.random.default_rng(1)
    scores = np.round(rng.normal(size=2000), 2)
    labels = rng.random(2000) < 0.1
    scores[labels] += 1
    acc = PooledAccumulator()
    acc.add(scores, labels)
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-300)
    assert best_f1_threshold(acc.rank_counts()) == thresholds[np.argmax(f1[:-1])]


def test_accumulator_merges_and_thresholds():
    rng = np.random.default_rng(2)
    images = [(f"i{i}", rng.random((16, 16)), rng.random((16, 16)) < 0.2) for i in range(4)]
    whole, a, b = ComponentAccumulator(0.7), ComponentAccumulator(0.7), ComponentAccumulator(0.7)
    for i, (name, s, y) in enumerate(images):
        whole.add(name, s, y)
        (a if i % 2 else b).add(name, s, y)
    merged = ComponentAccumulator.from_state_dict(a.state_dict())
    merged.merge(b)
    assert merged.compute() == whole.compute()
    assert whole.compute()["threshold"] == 0.7
