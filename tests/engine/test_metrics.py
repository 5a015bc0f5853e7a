"""The mmengine MeanIoU metric (its math is tested in tests/metrics/test_segmentation.py)."""

from __future__ import annotations

import math

import torch

from segood.engine import MeanIoU


def test_metric_accumulates_batches():
    metric = MeanIoU(num_classes=2, ignore_index=255, class_names=("a", "b"))
    metric.process({}, [{"pred": torch.tensor([0, 1]), "label": torch.tensor([0, 0])}])
    metric.process({}, [{"pred": torch.tensor([1, 1]), "label": torch.tensor([1, 255])}])
    out = metric.compute_metrics(metric.results)
    # cm = [[1, 1], [0, 1]]: IoU a = 1/2, b = 1/2; accuracy 2/3
    assert math.isclose(out["mIoU"], 50.0) and math.isclose(out["IoU.b"], 50.0)
    assert math.isclose(out["aAcc"], 200 / 3)
