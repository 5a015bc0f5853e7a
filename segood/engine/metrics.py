"""Validation mIoU: a thin mmengine metric over segood.metrics.segmentation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS

from segood.data import IGNORE_INDEX
from segood.metrics.segmentation import confusion_matrix, iou_per_class, mean_iou


@METRICS.register_module()
class MeanIoU(BaseMetric):
    """Accumulates one confusion matrix per batch (K x K, cheap to gather across processes);
    reports `mIoU`, `aAcc` (pixel accuracy) and `IoU.<class>` in percent."""

    default_prefix = ""

    def __init__(
        self,
        num_classes: int,
        ignore_index: int = IGNORE_INDEX,
        class_names: Sequence[str] | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_names = tuple(class_names) if class_names else None

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        cm = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        for sample in data_samples:
            label = sample["label"].cpu().numpy()
            label = np.where(label == self.ignore_index, -1, label)
            cm += confusion_matrix(sample["pred"].cpu().numpy(), label, self.num_classes)
        self.results.append(cm)

    def compute_metrics(self, results: list) -> dict[str, float]:
        cm = np.sum(results, axis=0)
        iou = iou_per_class(cm)
        names = self.class_names or tuple((self.dataset_meta or {}).get("classes", ()))
        if len(names) < self.num_classes:
            names = tuple(str(k) for k in range(self.num_classes))
        metrics = {"mIoU": 100 * mean_iou(cm), "aAcc": 100 * float(np.trace(cm) / max(cm.sum(), 1))}
        metrics.update({f"IoU.{n}": 100 * float(v) for n, v in zip(names, iou, strict=False)})
        return metrics
