"""SegmentMeIfYouCan component-level metrics: sIoU_gt, PPV and mean F1.

Chan et al., "SegmentMeIfYouCan: A Benchmark for Anomaly Segmentation", NeurIPS 2021 Datasets
and Benchmarks, section 4. The anomaly scores are thresholded at a pixel threshold delta (the
evaluation uses the threshold of best pooled pixel F1, `best_f1_threshold`); connected
components (8-connectivity) of the prediction and of the ground truth are compared:

- sIoU(k), for a ground-truth component k: |k ∩ K̂(k)| / |(k ∪ K̂(k)) \\ A(k)|, with K̂(k) the
  union of predicted components that intersect k, and A(k) the pixels of the other
  ground-truth components (a prediction covering two objects is not penalised twice).
- PPV(k̂), for a predicted component k̂: |k̂ ∩ K(k̂)| / |k̂|, with K(k̂) the union of the
  ground-truth components that intersect k̂.
- For tau in 0.25, 0.30, ..., 0.75: TP = #{k: sIoU(k) > tau}, FN = #{k: sIoU(k) <= tau},
  FP = #{k̂: PPV(k̂) <= tau}; F1(tau) = 2 TP / (2 TP + FN + FP); mean F1 = mean over tau.
sIoU_gt and PPV are means over all components of the dataset.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from segood.errors import SegoodError
from segood.metrics.ranking import RankCounts, levels

TAUS = np.round(np.arange(0.25, 0.7501, 0.05), 2)


def components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of components, label map 0..n) of a boolean (H, W) mask, 8-connectivity."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return n - 1, labels


def component_scores(
    prediction: np.ndarray, anomaly: np.ndarray, ignore: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(sIoU of each ground-truth component, PPV of each predicted component) of one image.

    `prediction`, `anomaly`, `ignore`: boolean (H, W) maps. Ignored pixels count as neither
    predicted nor anomalous.
    """
    if prediction.shape != anomaly.shape or prediction.ndim != 2:
        raise SegoodError(
            f"prediction {prediction.shape} and anomaly {anomaly.shape} must both be (H, W)"
        )
    if ignore is not None:
        prediction, anomaly = prediction & ~ignore, anomaly & ~ignore
    n_gt, gt = components(anomaly)
    n_pred, pred = components(prediction)
    # overlap[k, m] = pixels in gt component k (0 = none) and predicted component m (0 = none)
    overlap = np.bincount(
        (gt.astype(np.int64) * (n_pred + 1) + pred).ravel(), minlength=(n_gt + 1) * (n_pred + 1)
    ).reshape(n_gt + 1, n_pred + 1)
    touches = overlap[1:, 1:] > 0  # (K, M): gt k meets predicted m
    gt_size = overlap[1:, :].sum(axis=1)  # (K,)
    pred_size = overlap[:, 1:].sum(axis=0)  # (M,)
    inter = (overlap[1:, 1:] * touches).sum(axis=1)  # |k ∩ K̂(k)|
    outside = touches @ overlap[0, 1:]  # pixels of K̂(k) on no gt component
    siou = inter / (gt_size + outside) if n_gt else np.empty(0)
    ppv = overlap[1:, 1:].sum(axis=0) / pred_size if n_pred else np.empty(0)
    return siou.astype(np.float64), ppv.astype(np.float64)


def component_metrics(siou: np.ndarray, ppv: np.ndarray) -> dict[str, float]:
    """{"siou_gt", "ppv", "mean_f1"} from the sIoU and PPV of every component of a dataset."""
    tp = (siou[None, :] > TAUS[:, None]).sum(axis=1)
    fn = len(siou) - tp
    fp = (ppv[None, :] <= TAUS[:, None]).sum(axis=1)
    denom = 2 * tp + fn + fp
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return {
        "siou_gt": float(siou.mean()) if len(siou) else float("nan"),
        "ppv": float(ppv.mean()) if len(ppv) else float("nan"),
        "mean_f1": float(f1.mean()),
    }


def best_f1_threshold(rc: RankCounts) -> float:
    """The distinct positive score v maximising pooled pixel F1 of `score >= v`."""
    tp, fp_ge, _ = levels(rc)
    f1 = 2 * tp / (2 * tp + fp_ge + (rc.n_pos - tp))
    return float(rc.pos_values[int(np.argmax(f1))])


class ComponentAccumulator:
    """sIoU / PPV of every component over a dataset, at one pixel threshold.

    State = per-image arrays keyed by image name: merging shards and re-adding an image on
    resume are exact.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = float(threshold)
        self.per_image: dict[str, tuple[list[float], list[float]]] = {}

    def add(self, name: str, scores: Any, is_anomaly: Any, ignore: Any = None) -> None:
        s = np.asarray(scores, dtype=np.float64)
        y = np.asarray(is_anomaly, dtype=bool)
        g = None if ignore is None else np.asarray(ignore, dtype=bool)
        siou, ppv = component_scores(s >= self.threshold, y, g)
        self.per_image[name] = (siou.tolist(), ppv.tolist())

    def merge(self, other: ComponentAccumulator) -> None:
        self.per_image.update(other.per_image)

    def compute(self) -> dict[str, Any]:
        names = sorted(self.per_image)
        siou = np.array([v for n in names for v in self.per_image[n][0]])
        ppv = np.array([v for n in names for v in self.per_image[n][1]])
        return {
            **component_metrics(siou, ppv),
            "threshold": self.threshold,
            "gt_components": len(siou),
            "predicted_components": len(ppv),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "per_image": dict(self.per_image)}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> ComponentAccumulator:
        acc = cls(state["threshold"])
        acc.per_image = {k: (list(a), list(b)) for k, (a, b) in state["per_image"].items()}
        return acc
