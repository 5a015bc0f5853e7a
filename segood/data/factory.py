"""`build_dataset(name, root, split)`: datasets by name, without a registry (configs name them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segood.data.base import SegDataset
from segood.data.bdd_anomaly import BDDAnomaly
from segood.data.cityscapes import Cityscapes
from segood.data.lost_and_found import FishyscapesLAF, LostAndFound
from segood.data.road_anomaly import RoadAnomaly
from segood.data.smiyc import SmiycAnomalyTrack, SmiycObstacleTrack
from segood.data.streethazards import StreetHazards
from segood.errors import SegoodError

DATASETS: dict[str, type[SegDataset]] = {
    "streethazards": StreetHazards,
    "bdd_anomaly": BDDAnomaly,
    "smiyc-anomaly": SmiycAnomalyTrack,
    "smiyc-obstacle": SmiycObstacleTrack,
    "fishyscapes-laf": FishyscapesLAF,
    "lostandfound": LostAndFound,
    "road-anomaly": RoadAnomaly,
    "cityscapes": Cityscapes,
}


def _key(name: str) -> str:
    return name.lower().replace("-", "_")


def dataset_class(name: str) -> type[SegDataset]:
    """The dataset class called `name` (a key of DATASETS; case and -/_ ignored)."""
    found = {_key(key): cls for key, cls in DATASETS.items()}.get(_key(name))
    if found is None:
        raise SegoodError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return found


def build_dataset(name: str, root: str | Path, split: str, **kwargs: Any) -> SegDataset:
    """Instantiate dataset `name` on `root`/`split`; `kwargs` go to its constructor."""
    return dataset_class(name)(root, split, **kwargs)
