"""The SegmentMeIfYouCan leaderboard's evaluation, reproduced: pixel AUPR / FPR95 and components.

Chan et al., "SegmentMeIfYouCan: A Benchmark for Anomaly Segmentation", NeurIPS 2021. The rules
are those of the official code (github SegmentMeIfYouCan/road-anomaly-benchmark): `evaluation.py`
(`Evaluation.save_output`), `metrics/pixel_classification.py` (`binary_confusion_matrix`,
`aggregate_dynamic_bins`, the "PixBinaryClass" configuration), `metrics/
pixel_classification_curves.py` (`curves_from_cmats`) and `metrics/instance_segmentation.py`
(`MetricSegment`, configurations "SegEval-AnomalyTrack" and "SegEval-ObstacleTrack"). Step by
step, what the official evaluation does and segood with it:

1. Score maps are saved as float16 and every metric reads them back: `float16_scores` rounds a
   map to float16 (a score beyond +-65504 would become inf: an error).
2. Labels are 0 (in-distribution; the road on the obstacle track), 1 (anomaly / obstacle) and
   255 (void; everything off the road on the obstacle track): void pixels (`ignore`) are left
   out of every metric.
3. Per frame (`frame_curve`): bin edges = 0, 1, 384 quantiles (numpy's linear rule) of the
   frame's anomalous scores and 384 of its normal scores (fewer for fewer pixels), sorted and
   deduplicated; each class is histogrammed into these bins ([lo, hi), the last bin closed),
   and a bin's pixels count as predicted anomalous at the threshold of its lower edge.
4. Over the dataset (`curve_metrics`): the (threshold, TP, FP) entries of all frames are sorted
   by threshold, descending, and summed cumulatively; the curve keeps the last entry of each
   distinct threshold and also, as the official code does, the very first entry, a partial sum
   when the top threshold repeats across frames. The order among equal thresholds decides that
   point: the official code takes an unstable argsort (and frames in the order its worker
   processes finish); segood reverses a stable ascending argsort over frames sorted by name (the
   official result whenever its sort keeps ties in order). (0, 0) is prepended and (P, N)
   appended when missing.
5. AUPR = sum_i (R_i - R_{i-1}) P_i over those points (precision 1 where nothing is predicted);
   FPR95 = the FPR at the first point with TPR >= 0.95 (1.0 if none); AUROC = trapezoid (not on
   the leaderboard). All three are of the binned curve, so they differ slightly from the exact
   values of the `pooled` protocol.
6. The component threshold (`best_f1_threshold` of the official curve): the curve index of the
   best pixel F1, looked up in the sorted threshold list *before* deduplication (the official
   code indexes that list with the curve's index; where that index runs past the list's end,
   which the official code does not survive, segood takes the last entry). It is the official
   threshold, not the F1 optimum; segood's `components` protocol uses the exact optimum.
7. Components at that threshold: prediction = float16 score > threshold, then the official
   size filters (`TRACKS`) and rules of `segood.metrics.components`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from segood.errors import SegoodError
from segood.metrics.ood import as_flat_arrays

NUM_BINS = 768  # "PixBinaryClass": percentile bins, half per class


@dataclass(frozen=True)
class Track:
    """The component size filters of one SegmentMeIfYouCan track (official MetricSegment)."""

    min_predicted: int  # predicted components with fewer pixels are dropped
    min_ground_truth: int  # ground-truth components with fewer pixels become void


TRACKS = {
    "smiyc-anomaly": Track(min_predicted=500, min_ground_truth=100),  # SegEval-AnomalyTrack
    "smiyc-obstacle": Track(min_predicted=50, min_ground_truth=10),  # SegEval-ObstacleTrack
}


def float16_scores(scores: Any) -> np.ndarray:
    """A score map as the official evaluation reads it: rounded to float16."""
    s = np.asarray(scores.detach().cpu() if hasattr(scores, "detach") else scores)
    if s.dtype.kind != "f":
        s = s.astype(np.float64)
    if np.isnan(s).any():
        raise SegoodError(f"scores contain {int(np.isnan(s).sum())} NaN values")
    with np.errstate(over="ignore"):
        low = s.astype(np.float16)
    if not np.isfinite(low).all():
        big = float(np.abs(s[~np.isfinite(low)]).max())
        raise SegoodError(
            f"a score of magnitude {big:g} does not fit in float16 (|s| <= 65504), the format "
            "of SegmentMeIfYouCan's score files: scale the scores, or use the pooled / "
            "components protocols"
        )
    return low


def frame_curve(
    scores: Any, is_anomaly: Any, ignore: Any = None, num_bins: int = NUM_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's (thresholds, TP, FP) per bin, thresholds descending (official step 3)."""
    s, y = as_flat_arrays(float16_scores(scores), is_anomaly, ignore)
    s = s.astype(np.float16)  # as_flat_arrays widens float16; the quantiles see float16
    pos, neg = s[y], s[~y]
    edges = [np.array([0.0, 1.0])]
    for values in (pos, neg):
        if values.size:
            edges.append(np.quantile(values, np.linspace(0, 1, min(num_bins // 2, values.size))))
    bins = np.unique(np.concatenate(edges))
    tp, _ = np.histogram(pos, bins=bins)
    fp, _ = np.histogram(neg, bins=bins)
    return bins[-2::-1].copy(), tp[::-1].copy(), fp[::-1].copy()


def curve_metrics(frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
    """AUPR, FPR95, AUROC, best F1 and the component threshold of the official binned curve
    over `frames` ((thresholds, TP, FP) of `frame_curve`, in the order to break ties in)."""
    thresholds = np.concatenate([f[0] for f in frames])
    order = np.argsort(thresholds, kind="stable")[::-1]
    thresholds = thresholds[order]
    tp = np.cumsum(np.concatenate([f[1] for f in frames])[order].astype(np.float64))
    fp = np.cumsum(np.concatenate([f[2] for f in frames])[order].astype(np.float64))
    n_pos, n_neg = tp[-1], fp[-1]  # every score falls in a bin
    if n_pos == 0 or n_neg == 0:
        missing = "anomalous" if n_pos == 0 else "normal"
        raise SegoodError(f"no {missing} pixel in the evaluated frames: the SegmentMeIfYouCan "
                          "pixel metrics need both classes")  # fmt: skip
    last = np.flatnonzero(thresholds[:-1] != thresholds[1:])
    points = np.concatenate([[0], last, [len(thresholds) - 1]])
    tp, fp = tp[points], fp[points]
    if tp[0] != 0 or fp[0] != 0:
        tp, fp = np.concatenate([[0.0], tp]), np.concatenate([[0.0], fp])
    if tp[-1] != n_pos or fp[-1] != n_neg:
        tp, fp = np.concatenate([tp, [n_pos]]), np.concatenate([fp, [n_neg]])
    tpr, fpr = tp / n_pos, fp / n_neg
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.ones_like(tp), where=predicted > 0)
    f1 = 2 * tp / (2 * tp + fp + (n_pos - tp))
    at95 = int(np.searchsorted(tpr, 0.95))
    best = int(np.nanargmax(f1))
    lookup = min(best, len(thresholds) - 1)  # past the list's end the official code fails
    return {
        "aupr": float(np.sum(np.diff(tpr) * precision[1:])),
        "fpr95": float(fpr[at95]) if at95 < len(tpr) else 1.0,
        "auroc": float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)),  # trapezoid
        "best_f1": float(f1[best]),
        "threshold": float(thresholds[lookup]),  # the official lookup (module doc, step 6)
    }


class SmiycPixelAccumulator:
    """The official pixel metrics over a dataset: per-frame bins kept by image name.

    State = (thresholds, TP, FP) per image, at most 769 bins each (under 19 KB): merging shards
    and re-adding an image on resume are exact; frames are combined in name order.
    """

    def __init__(self) -> None:
        self.per_image: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def add(self, name: str, scores: Any, is_anomaly: Any, ignore: Any = None) -> None:
        self.per_image[name] = frame_curve(scores, is_anomaly, ignore)

    def merge(self, other: SmiycPixelAccumulator) -> None:
        self.per_image.update(other.per_image)

    def compute(self) -> dict[str, Any]:
        if not self.per_image:
            raise SegoodError("no frame was added to the SegmentMeIfYouCan pixel metrics")
        frames = [self.per_image[name] for name in sorted(self.per_image)]
        return {**curve_metrics(frames), "images": len(frames)}
