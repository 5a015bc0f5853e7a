"""The SegmentMeIfYouCan protocols in the evaluation: `smiyc-anomaly` and `smiyc-obstacle`.

Each reproduces the official leaderboard evaluation (`segood.metrics.smiyc`): pixel AUPR and
FPR95 from per-frame percentile bins, then sIoU_gt, PPV and mean F1 at the official threshold
with the track's size filters. The evaluation stores each image's bins beside its other
results (first pass), derives every scorer's curve and threshold from all stored images (every
shard), and runs the component metrics in its second pass with the settings given here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from segood.errors import SegoodError
from segood.evaluation.options import option
from segood.metrics.smiyc import TRACKS, SmiycPixelAccumulator, frame_curve

PROTOCOLS = tuple(TRACKS)  # ("smiyc-anomaly", "smiyc-obstacle")
KEYS = ("thresholds", "tp", "fp")


def frame_arrays(
    scores: dict[str, np.ndarray], anomaly: np.ndarray, ignore: np.ndarray
) -> dict[str, np.ndarray]:
    """One image's official pixel bins per scorer, as arrays for the image's result file."""
    arrays = {}
    for name, score_map in scores.items():
        try:
            curve = frame_curve(score_map, anomaly, ignore)
        except SegoodError as err:
            raise SegoodError(f"scorer {name!r}: {err}") from None
        for key, value in zip(KEYS, curve, strict=True):
            arrays[f"smiyc/{name}/{key}"] = value
    return arrays


def pixel_results(
    stored: Iterable[tuple[dict[str, np.ndarray], dict[str, Any]]], scorers: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Scorer -> official pixel metrics and component threshold, from stored image results."""
    accs = {name: SmiycPixelAccumulator() for name in scorers}
    for arrays, meta in stored:
        for name, acc in accs.items():
            keys = [f"smiyc/{name}/{key}" for key in KEYS]
            if any(key not in arrays for key in keys):
                raise SegoodError(
                    f"image {meta['name']} was evaluated without the SegmentMeIfYouCan "
                    f"protocols (or without scorer {name!r}); evaluate into a new {option('out')}"
                )
            acc.per_image[meta["name"]] = tuple(arrays[key] for key in keys)
    return {name: acc.compute() for name, acc in accs.items()}


def component_settings(protocol: str, threshold: float) -> dict[str, Any]:
    """ComponentAccumulator settings of a track at the official threshold."""
    track = TRACKS[protocol]
    return {
        "threshold": threshold,
        "min_predicted": track.min_predicted,
        "min_ground_truth": track.min_ground_truth,
        "official": True,
    }
