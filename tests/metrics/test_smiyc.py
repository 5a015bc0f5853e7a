"""The SegmentMeIfYouCan protocols: official bins, curve, threshold, size filters, by hand.

The expected values are worked out in the comments from the official rules (module doc of
segood.metrics.smiyc); a loop transcription of the official component rules checks the
filters on random masks.
"""

import numpy as np
import pytest
from scipy import ndimage

from segood.errors import SegoodError
from segood.metrics.components import ComponentAccumulator, component_scores
from segood.metrics.smiyc import (
    TRACKS,
    SmiycPixelAccumulator,
    curve_metrics,
    float16_scores,
    frame_curve,
)

H16 = {v: float(np.float16(v)) for v in (0.1, 0.4, 0.8)}  # the float16 values of the scores


def test_the_tracks_are_the_official_filters():
    assert TRACKS["smiyc-anomaly"].min_predicted == 500
    assert TRACKS["smiyc-anomaly"].min_ground_truth == 100
    assert TRACKS["smiyc-obstacle"].min_predicted == 50
    assert TRACKS["smiyc-obstacle"].min_ground_truth == 10


def test_frame_curve_by_hand():
    # scores 0.1 (normal), 0.4 (anomaly), 0.4 (normal), 0.8 (anomaly), 0.9 (void)
    scores = np.array([0.1, 0.4, 0.4, 0.8, 0.9], np.float32)
    anomaly = np.array([0, 1, 0, 1, 0], bool)
    void = np.array([0, 0, 0, 0, 1], bool)
    thresholds, tp, fp = frame_curve(scores, anomaly, void)
    # edges: 0, 1, quantiles 0 and 1 of {0.4, 0.8} and of {0.1, 0.4}, in float16
    a, b, c = H16[0.1], H16[0.4], H16[0.8]
    # bins [0, a) [a, b) [b, c) [c, 1]: anomalies in the last two, normals in the 2nd and 3rd
    assert thresholds.tolist() == [c, b, a, 0.0]  # lower edges, descending
    assert tp.tolist() == [1, 1, 0, 0]
    assert fp.tolist() == [0, 1, 1, 0]


def test_curve_metrics_by_hand():
    # frame A: (threshold, TP, FP) = (0.8, 2, 0) (0.5, 1, 1) (0, 0, 3)
    # frame B: (0.8, 1, 1) (0.3, 0, 2) (0, 1, 2)
    a = (np.array([0.8, 0.5, 0.0]), np.array([2, 1, 0]), np.array([0, 1, 3]))
    b = (np.array([0.8, 0.3, 0.0]), np.array([1, 0, 1]), np.array([1, 2, 2]))
    got = curve_metrics([a, b])
    # sorted descending, ties in reverse frame order: 0.8B 0.8A 0.5 0.3 0B 0A
    # cumulative TP 1 3 4 4 5 5, FP 1 1 2 4 6 9; P = 5, N = 9
    # kept: the first entry (a partial sum: 0.8 repeats), the last of each threshold
    # -> (1, 1) (3, 1) (4, 2) (4, 4) (5, 9); (0, 0) prepended
    tp = np.array([0, 1, 3, 4, 4, 5])
    fp = np.array([0, 1, 1, 2, 4, 9])
    recall, fpr = tp / 5, fp / 9
    precision = np.array([1, 1 / 2, 3 / 4, 4 / 6, 4 / 8, 5 / 14])
    aupr = sum((recall[i] - recall[i - 1]) * precision[i] for i in range(1, 6))
    assert got["aupr"] == pytest.approx(aupr, rel=1e-15)  # 0.6047619...
    assert got["fpr95"] == 1.0  # TPR reaches 0.95 only at the last point
    auroc = sum((fpr[i] - fpr[i - 1]) * (recall[i] + recall[i - 1]) / 2 for i in range(1, 6))
    assert got["auroc"] == pytest.approx(auroc, rel=1e-15)
    # F1 = 2TP / (2TP + FP + FN): 0, 2/7, 6/9, 8/11, 8/13, 10/19 -> best 8/11 at curve point 3,
    # whose threshold is 0.5; the official lookup takes entry 3 of the sorted list: 0.3
    assert got["best_f1"] == pytest.approx(8 / 11, rel=1e-15)
    assert got["threshold"] == 0.3


def test_fpr95_is_the_first_point_with_tpr_at_least_095():
    # 20 anomalous pixels: TPR 0.9, 0.95, 1 at FPR 0.1, 0.3, 1
    frame = (np.array([0.9, 0.5, 0.2]), np.array([18, 1, 1]), np.array([1, 2, 7]))
    assert curve_metrics([frame])["fpr95"] == pytest.approx(0.3, rel=1e-15)


def test_curve_needs_both_classes():
    frame = (np.array([0.5, 0.0]), np.array([0, 0]), np.array([3, 1]))
    with pytest.raises(SegoodError, match="no anomalous pixel"):
        curve_metrics([frame])


def test_scores_are_rounded_to_float16_and_overflow_is_an_error():
    assert float16_scores(np.array([0.1], np.float64)).tolist() == [H16[0.1]]
    with pytest.raises(SegoodError, match="float16"):
        float16_scores(np.array([1.0, 7e4]))


def test_pixel_accumulator_merges_in_name_order():
    rng = np.random.default_rng(0)
    frames = {f"f{i}": (rng.random((6, 7)), rng.random((6, 7)) < 0.3) for i in range(4)}
    whole, a, b = SmiycPixelAccumulator(), SmiycPixelAccumulator(), SmiycPixelAccumulator()
    for i, (name, (s, y)) in enumerate(reversed(frames.items())):
        whole.add(name, s, y)
        (a if i % 2 else b).add(name, s, y)
    a.merge(b)
    assert a.compute() == whole.compute()
    expected = curve_metrics([frame_curve(*frames[n]) for n in sorted(frames)])
    assert whole.compute() == {**expected, "images": 4}


# --- components with the official size filters ---------------------------------------------


def test_size_filters_at_their_boundaries():
    gt = np.zeros((80, 120), bool)
    gt[2:12, 2:12] = True  # 100 pixels: kept
    gt[2:12, 30:40] = True
    gt[2, 30] = False  # 99 pixels: void
    pred = np.zeros_like(gt)
    pred[40:60, 2:27] = True  # 500 pixels, on no object: kept, PPV 0
    pred[40:60, 60:85] = True
    pred[40, 60] = False  # 499 pixels: dropped
    pred[2:12, 2:7] = True  # half of the 100-pixel object: 50 pixels, dropped
    siou, ppv = component_scores(pred, gt, min_predicted=500, min_ground_truth=100)
    assert siou.tolist() == [0.0] and ppv.tolist() == [0.0]
    siou, ppv = component_scores(pred, gt, min_predicted=50, min_ground_truth=10)
    # every component passes: objects 50/100 and 0/99; PPVs 1 (the half) and 0, 0
    assert sorted(siou.tolist()) == [0.0, 0.5] and sorted(ppv.tolist()) == [0.0, 0.0, 1.0]


def test_a_voided_object_leaves_the_prediction_that_covers_it():
    gt = np.zeros((20, 20), bool)
    gt[5:8, 5:8] = True  # 9 pixels < 10: void
    pred = np.zeros_like(gt)
    pred[4:9, 4:9] = True  # 25 pixels (>= 20 before the object is voided), 16 off the object
    siou, ppv = component_scores(pred, gt, min_predicted=20, min_ground_truth=10)
    assert siou.tolist() == [] and ppv.tolist() == [0.0]  # 0 of its 16 remaining pixels


def test_few_normal_pixels_become_void_as_the_official_loop_over_label_0():
    gt = np.ones((10, 10), bool)
    gt[0, :5] = False  # 5 normal pixels < 10: the official loop voids label 0 too
    pred = np.ones_like(gt)
    siou, ppv = component_scores(pred, gt, min_ground_truth=10)
    assert siou.tolist() == [1.0] and ppv.tolist() == [1.0]  # 95 / 95, not 95 / 100
    siou, _ = component_scores(pred, gt)
    assert siou.tolist() == [0.95]


def official_loop(scores16, label, threshold, min_pred, min_gt):
    """The official default_instancer + segment_metrics rules, transcribed loop by loop."""
    eight = np.ones((3, 3), int)
    pred = (scores16 > np.float16(threshold)) & (label != 255)
    gt_lab, n_gt = ndimage.label(label == 1, structure=eight)
    pr_lab, n_pr = ndimage.label(pred, structure=eight)
    for m in range(1, n_pr + 1):
        if (pr_lab == m).sum() < min_pred:
            pr_lab[pr_lab == m] = 0
    roi = label != 255
    for k in range(n_gt + 1):
        if (gt_lab == k).sum() < min_gt:
            roi &= gt_lab != k
    g, p = gt_lab[roi], pr_lab[roi]
    siou = []
    for k in np.unique(g[g > 0]):
        hit = np.isin(p, np.unique(p[(g == k) & (p > 0)]))
        others = (g > 0) & (g != k)
        siou.append(((g == k) & hit).sum() / (((g == k) | hit) & ~others).sum())
    ppv = [((p == m) & (g > 0)).sum() / (p == m).sum() for m in np.unique(p[p > 0])]
    return np.sort(siou), np.sort(ppv)


@pytest.mark.parametrize("track", ["smiyc-anomaly", "smiyc-obstacle"])
def test_official_components_match_a_loop_transcription(track):
    rng = np.random.default_rng(5)
    t = TRACKS[track]
    for _ in range(6):
        objects = ndimage.binary_dilation(rng.random((90, 120)) < 0.002, iterations=6)
        label = np.where(objects, 1, 0)
        label[ndimage.binary_dilation(rng.random((90, 120)) < 0.001, iterations=5)] = 255
        blur = ndimage.gaussian_filter(objects.astype(float), 3) + 0.3 * rng.random((90, 120))
        scores = blur.astype(np.float32)
        acc = ComponentAccumulator(
            0.35, min_predicted=t.min_predicted, min_ground_truth=t.min_ground_truth, official=True
        )
        acc.add("x", scores, label == 1, label == 255)
        siou, ppv = acc.per_image["x"]
        low = float16_scores(scores)
        want = official_loop(low, label, 0.35, t.min_predicted, t.min_ground_truth)
        assert np.sort(siou) == pytest.approx(want[0], rel=1e-15)
        assert np.sort(ppv) == pytest.approx(want[1], rel=1e-15)


def test_threshold_lookup_past_the_end_takes_the_last_entry():
    # one frame, distinct thresholds: the curve (with its repeated first entry and the
    # prepended (0, 0)) is two points longer than the list; the best F1 is at its end
    frame = (np.array([0.9, 0.1]), np.array([5, 5]), np.array([0, 1]))
    got = curve_metrics([frame])
    # curve points: (0, 0) (5, 0) (5, 0) (10, 1): F1 0, 10/15, 10/15, 20/21 -> index 3
    assert got["best_f1"] == pytest.approx(20 / 21, rel=1e-15)
    assert got["threshold"] == 0.1
