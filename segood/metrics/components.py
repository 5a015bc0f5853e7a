"""SegmentMeIfYouCan component-level metrics: sIoU_gt, PPV and mean F1.

Chan et al., "SegmentMeIfYouCan: A Benchmark for Anomaly Segmentation", NeurIPS 2021 Datasets
and Benchmarks, section 4; rules as the official code (SegmentMeIfYouCan/road-anomaly-benchmark,
road_anomaly_benchmark/metrics/instance_segmentation.py: `default_instancer`,
`segment_metrics`, `MetricSegment.aggregate`). The anomaly scores are thresholded at a pixel
threshold delta; connected components (8-connectivity) of the prediction and of the ground
truth are compared:

- sIoU(k), for a ground-truth component k: |k ∩ K̂(k)| / |(k ∪ K̂(k)) \\ A(k)|, with K̂(k) the
  union of predicted components that intersect k, and A(k) the pixels of the other
  ground-truth components (a prediction covering two objects is not penalised twice).
- PPV(k̂), for a predicted component k̂: |k̂ ∩ K(k̂)| / |k̂|, with K(k̂) the union of the
  ground-truth components that intersect k̂.
- For tau in TAUS = numpy.linspace(0.25, 0.75, 11) (the official grid, float for float; its
  0.6 is 0.6000000000000001): TP = #{k: sIoU(k) >= tau}, FN = #{k: sIoU(k) < tau},
  FP = #{k̂: PPV(k̂) < tau}, counted over the whole dataset; F1(tau) = 2 TP / (2 TP + FN + FP)
  (NaN without any component, as the official 0 / 0); mean F1 = mean over tau.
sIoU_gt and PPV are means over all components of the dataset.

Size filters (the official evaluation's; 0 = none, segood's `components` protocol): predicted
components under `min_predicted` pixels are dropped and ground-truth components under
`min_ground_truth` pixels become void, in the official order (see `component_scores`).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from segood.errors import SegoodError
from segood.metrics.ranking import RankCounts, levels
from segood.metrics.smiyc import float16_scores

TAUS = np.linspace(0.25, 0.75, 11)  # the official sIoU / PPV thresholds, float for float


def components(mask: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of components, label map 0..n) of a boolean (H, W) mask, 8-connectivity."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return n - 1, labels


def component_scores(
    prediction: np.ndarray,
    anomaly: np.ndarray,
    ignore: np.ndarray | None = None,
    *,
    min_predicted: int = 0,
    min_ground_truth: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(sIoU of each ground-truth component, PPV of each predicted component) of one image.

    `prediction`, `anomaly`, `ignore`: boolean (H, W) maps. The official order of operations:
    1. void (`ignore`) pixels leave the prediction; the components of the prediction and of
       the ground truth are labelled;
    2. predicted components of fewer than `min_predicted` pixels are dropped;
    3. ground-truth components of fewer than `min_ground_truth` pixels become void. (The
       official loop also visits label 0, the non-anomalous pixels void included: if fewer
       than `min_ground_truth` of those exist, they all become void too.)
    4. Every size, intersection and union is then counted over the pixels that are not void:
       a predicted component keeps its label from step 1, so the pixels it loses to a voided
       object leave it (splitting it, perhaps) without changing its identity, and a component
       left with no pixel is not counted.
    """
    if prediction.shape != anomaly.shape or prediction.ndim != 2:
        raise SegoodError(
            f"prediction {prediction.shape} and anomaly {anomaly.shape} must both be (H, W)"
        )
    void = np.zeros(anomaly.shape, bool) if ignore is None else np.asarray(ignore, bool)
    prediction, anomaly = prediction & ~void, anomaly & ~void
    n_gt, gt = components(anomaly)
    n_pred, pred = components(prediction)
    if min_predicted > 0:
        small = np.bincount(pred.ravel(), minlength=n_pred + 1) < min_predicted
        small[0] = False
        pred = np.where(small[pred], 0, pred)
    if min_ground_truth > 0:
        small = np.bincount(gt.ravel(), minlength=n_gt + 1) < min_ground_truth
        void = void | small[gt]
    keep = ~void.ravel()
    g, p = gt.ravel()[keep].astype(np.int64), pred.ravel()[keep].astype(np.int64)
    gt_size = np.bincount(g, minlength=n_gt + 1)[1:]  # (K,) kept pixels per component
    pred_size = np.bincount(p, minlength=n_pred + 1)[1:]  # (M,)
    # the (gt k, predicted m) pairs that share pixels, with their counts: sparse, so that a
    # noisy map with thousands of components costs memory in pairs, not in K x M
    pairs, shared = np.unique(g * (n_pred + 1) + p, return_counts=True)
    k, m = np.divmod(pairs, n_pred + 1)
    on_gt, both = k > 0, (k > 0) & (m > 0)
    background = np.bincount(m[~on_gt], weights=shared[~on_gt], minlength=n_pred + 1)  # off gt
    inter = np.bincount(k[both], weights=shared[both], minlength=n_gt + 1)[1:]  # |k ∩ K̂(k)|
    outside = np.bincount(k[both], weights=background[m[both]], minlength=n_gt + 1)[1:]
    on_objects = np.bincount(m[both], weights=shared[both], minlength=n_pred + 1)[1:]
    siou = inter[gt_size > 0] / (gt_size + outside)[gt_size > 0]  # outside: K̂(k) off any gt
    ppv = on_objects[pred_size > 0] / pred_size[pred_size > 0]
    return siou.astype(np.float64), ppv.astype(np.float64)


def component_metrics(siou: np.ndarray, ppv: np.ndarray) -> dict[str, float]:
    """{"siou_gt", "ppv", "mean_f1"} from the sIoU and PPV of every component of a dataset."""
    tp = (siou[None, :] >= TAUS[:, None]).sum(axis=1)
    fn = len(siou) - tp
    fp = (ppv[None, :] < TAUS[:, None]).sum(axis=1)
    denom = 2 * tp + fn + fp
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)
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


def binarize(scores: Any, threshold: float, official: bool = False) -> np.ndarray:
    """The predicted anomaly mask: `scores >= threshold` (segood: the threshold is a score value
    that counts as anomalous), or with `official` the SegmentMeIfYouCan rule: scores rounded to
    float16 (the official score files' format), then `score > threshold` compared in float16, as
    numpy 1.23 (the official code's pin) compares a float16 map with a float64 threshold."""
    if official:
        return float16_scores(scores) > np.float16(threshold)
    return np.asarray(scores, dtype=np.float64) >= float(threshold)


class ComponentAccumulator:
    """sIoU / PPV of every component over a dataset, at one pixel threshold.

    `official` thresholds as SegmentMeIfYouCan (`binarize`); the size filters are those of
    `component_scores`. State = per-image arrays keyed by image name: merging shards and
    re-adding an image on resume are exact.
    """

    def __init__(
        self,
        threshold: float,
        *,
        min_predicted: int = 0,
        min_ground_truth: int = 0,
        official: bool = False,
    ) -> None:
        self.threshold = float(threshold)
        self.min_predicted, self.min_ground_truth = int(min_predicted), int(min_ground_truth)
        self.official = bool(official)
        self.per_image: dict[str, tuple[list[float], list[float]]] = {}

    def add(self, name: str, scores: Any, is_anomaly: Any, ignore: Any = None) -> None:
        y = np.asarray(is_anomaly, dtype=bool)
        g = None if ignore is None else np.asarray(ignore, dtype=bool)
        siou, ppv = component_scores(
            binarize(scores, self.threshold, self.official),
            y,
            g,
            min_predicted=self.min_predicted,
            min_ground_truth=self.min_ground_truth,
        )
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
        return {
            "threshold": self.threshold,
            "min_predicted": self.min_predicted,
            "min_ground_truth": self.min_ground_truth,
            "official": self.official,
            "per_image": dict(self.per_image),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> ComponentAccumulator:
        acc = cls(
            state["threshold"],
            min_predicted=state.get("min_predicted", 0),
            min_ground_truth=state.get("min_ground_truth", 0),
            official=state.get("official", False),
        )
        acc.per_image = {k: (list(a), list(b)) for k, (a, b) in state["per_image"].items()}
        return acc
