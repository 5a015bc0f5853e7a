"""Datasets, their builder, checks and augmentation pipelines.

CAOS (StreetHazards, BDD-Anomaly), the road-anomaly benchmarks (SegmentMeIfYouCan's two tracks,
Fishyscapes Lost & Found, Lost and Found, Road Anomaly) and Cityscapes, each read from its
published layout. Items are dicts {image, label, image_path, label_path, name}; labels are class
ids (CAOS: after the -1 shift, raw 0 -> `IGNORE_INDEX`; benchmarks: 0 in-distribution,
1 anomaly), void = `ignore_index`; label None in splits published without labels. The
transform helpers import albumentations, which is slow, so they are loaded on first use
(`segood.data.build_transform`, `segood.data.eval_sizes`).
"""

from __future__ import annotations

from typing import Any

from segood.data.base import IGNORE_INDEX, SegDataset, raw_to_ids
from segood.data.bdd_anomaly import BDDAnomaly
from segood.data.cityscapes import Cityscapes
from segood.data.factory import DATASETS, build_dataset, dataset_class
from segood.data.lost_and_found import FishyscapesLAF, LostAndFound
from segood.data.road_anomaly import RoadAnomaly
from segood.data.smiyc import SmiycAnomalyTrack, SmiycObstacleTrack
from segood.data.streethazards import StreetHazards

_LAZY = {"build_transform", "eval_sizes", "eval_transform", "reference_train", "scale_crop_train"}

__all__ = [
    "DATASETS",
    "IGNORE_INDEX",
    "BDDAnomaly",
    "Cityscapes",
    "FishyscapesLAF",
    "LostAndFound",
    "RoadAnomaly",
    "SegDataset",
    "SmiycAnomalyTrack",
    "SmiycObstacleTrack",
    "StreetHazards",
    "build_dataset",
    "build_transform",
    "dataset_class",
    "eval_sizes",
    "eval_transform",
    "raw_to_ids",
    "reference_train",
    "scale_crop_train",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from segood.data import transforms

        return getattr(transforms, name)
    raise AttributeError(f"module 'segood.data' has no attribute {name!r}")
