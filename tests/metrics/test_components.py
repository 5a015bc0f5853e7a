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


OFFICIAL_TAUS = np.linspace(0.25, 0.75, 11)  # road_anomaly_benchmark MetricSegment.thresh_sIoU


def official_mean_f1(siou: list[float], ppv: list[float]) -> float:
    """The official aggregate: TP sIoU >= t, FN sIoU < t, FP PPV < t, F1 averaged over t."""
    f1 = []
    for t in OFFICIAL_TAUS:
        tp = sum(v >= t for v in siou)
        fn = len(siou) - tp
        fp = sum(v < t for v in ppv)
        f1.append(2 * tp / (2 * tp + fn + fp))
    return sum(f1) / len(f1)


def test_the_threshold_grid_is_the_official_one():
    assert TAUS.tolist() == OFFICIAL_TAUS.tolist()
    assert TAUS[7] == 0.6000000000000001  # not 0.6: a PPV or sIoU of exactly 0.6 is below it


def test_mean_f1_by_hand():
    # sIoU 0.3 and 0.8, PPV 0.6: tau 0.25 -> TP 2, FN 0, FP 0 -> F1 1
    metrics = component_metrics(np.array([0.3, 0.8]), np.array([0.6]))
    assert metrics["mean_f1"] == pytest.approx(official_mean_f1([0.3, 0.8], [0.6]), rel=1e-15)
    assert metrics["siou_gt"] == pytest.approx(0.55) and metrics["ppv"] == pytest.approx(0.6)


def test_ties_follow_the_official_inequalities_issue_13_case():
    # 48x48: objects A, B, C of 20 pixels (4x5); a prediction covering 10 pixels of A (sIoU
    # 10/20), one covering 7 of B (sIoU 7/20), and a 2x4 prediction half on C (PPV 4/8; C's
    # sIoU 4/(20+4)). Official mean F1 0.3545; the old rule (sIoU > t, PPV <= t) gave 0.2818.
    gt = np.zeros((48, 48), bool)
    pred = np.zeros_like(gt)
    gt[5:9, 5:10] = gt[20:24, 5:10] = gt[35:39, 5:10] = True  # A, B, C
    pred[5:7, 5:10] = True  # 10 pixels of A
    pred[20, 5:10] = True  # 5 + 2 = 7 pixels of B
    pred[21, 5:7] = True
    pred[35:37, 8:12] = True  # 2x4: columns 8, 9 on C, columns 10, 11 off it
    siou, ppv = component_scores(pred, gt)
    assert sorted(siou.tolist()) == pytest.approx(sorted([10 / 20, 7 / 20, 4 / 24]), rel=1e-15)
    assert sorted(ppv.tolist()) == [0.5, 1.0, 1.0]
    expected = official_mean_f1([10 / 20, 7 / 20, 4 / 24], [1.0, 1.0, 4 / 8])
    assert expected == pytest.approx(0.3545, abs=5e-5)
    assert component_metrics(siou, ppv)["mean_f1"] == pytest.approx(expected, rel=1e-15)


def test_mean_f1_without_any_component_is_nan_as_the_official_0_over_0():
    assert np.isnan(component_metrics(np.empty(0), np.empty(0))["mean_f1"])


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
