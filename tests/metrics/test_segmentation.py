import numpy as np
import pytest

from segood.metrics.segmentation import confusion_matrix, iou_per_class, mean_iou


def test_confusion_and_iou_by_hand():
    label = np.array([[0, 0, 1], [1, 2, 255]])
    pred = np.array([[0, 1, 1], [1, 0, 2]])
    cm = confusion_matrix(pred, label, num_classes=3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]  # ignore pixel left out
    # class 0: TP 1, FP 1 (pred 0 on a 2), FN 1 -> 1/3; class 1: 2/(2+1) ; class 2: 0/1
    assert iou_per_class(cm).tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])
    assert mean_iou(cm) == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)


def test_absent_class_is_left_out_and_anomaly_ids_ignored():
    label = np.array([0, 0, 13, 13])  # 13 = anomaly, not a trained class
    pred = np.array([0, 0, 1, 0])
    cm = confusion_matrix(pred, label, num_classes=3)
    assert cm.sum() == 2
    assert mean_iou(cm) == 1.0  # only class 0 appears


def test_absent_class_is_nan_not_zero_and_nothing_is_nan():
    cm = np.array([[2, 0, 0], [0, 0, 0], [0, 0, 3]])
    iou = iou_per_class(cm)
    assert iou[0] == 1 and np.isnan(iou[1]) and iou[2] == 1 and mean_iou(cm) == 1
    assert np.isnan(mean_iou(np.zeros((2, 2))))
