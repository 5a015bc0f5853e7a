"""`build_dataset(name, root, split)`: datasets by name, without a registry (configs name them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from segood.data.base import SegDataset
from segood.data.bdd_anomaly import BDDAnomaly
from segood.data.streethazards import StreetHazards
from segood.errors import SegoodError

DATASETS: dict[str, type[SegDataset]] = {
    "streethazards": StreetHazards,
    "bdd_anomaly": BDDAnomaly,
}


def dataset_class(name: str) -> type[SegDataset]:
    """The dataset class called `name` ("streethazards", "bdd_anomaly"; case and -/_ ignored)."""
    key = name.lower().replace("-", "_")
    if key not in DATASETS:
        raise SegoodError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[key]


def build_dataset(name: str, root: str | Path, split: str, **kwargs: Any) -> SegDataset:
    """Instantiate dataset `name` on `root`/`split`; `kwargs` go to its constructor."""
    return dataset_class(name)(root, split, **kwargs)
