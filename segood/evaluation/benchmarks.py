"""Which split and protocol each dataset is evaluated with by default: its leaderboard's.

The official SegmentMeIfYouCan code (SegmentMeIfYouCan/road-anomaly-benchmark, README "Metrics")
evaluates AnomalyTrack-validation and FishyLAFAnomaly-val with the anomaly track's settings
(PixBinaryClass + SegEval-AnomalyTrack) and ObstacleTrack-validation and
LostAndFound-testNoKnown with the obstacle track's (PixBinaryClass + SegEval-ObstacleTrack):
`smiyc-anomaly` and `smiyc-obstacle` here. Road Anomaly (Lis et al. 2019), the predecessor of
RoadAnomaly21, is not in that code; segood scores it like RoadAnomaly21 (anomaly track), a
documented choice. StreetHazards and BDD-Anomaly use the CAOS per-image protocol. Cityscapes
has no anomaly: by default it gives the model's mIoU only.

A dataset to evaluate is a `DatasetSpec` (name, root, split); `dataset_specs` pairs names with
roots and splits, filling in each dataset's default split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from segood.data.anomaly_benchmark import CITYSCAPES_CLASSES, AnomalyBenchmark
from segood.data.factory import DATASETS, dataset_class
from segood.errors import SegoodError


@dataclass(frozen=True)
class Leaderboard:
    """How a dataset's published numbers are computed: the labelled split and the protocols."""

    split: str
    protocols: tuple[str, ...]


LEADERBOARDS: dict[str, Leaderboard] = {
    "streethazards": Leaderboard("test", ("caos",)),
    "bdd_anomaly": Leaderboard("test", ("caos",)),
    "smiyc-anomaly": Leaderboard("validation", ("smiyc-anomaly",)),
    "smiyc-obstacle": Leaderboard("validation", ("smiyc-obstacle",)),
    "fishyscapes-laf": Leaderboard("validation", ("smiyc-anomaly",)),
    "lostandfound": Leaderboard("testNoKnown", ("smiyc-obstacle",)),
    "road-anomaly": Leaderboard("test", ("smiyc-anomaly",)),
    "cityscapes": Leaderboard("val", ()),  # no anomaly: the mIoU only
}


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of an evaluation run: its registered name, root folder and split, and the
    name its results are reported under (`report`; default: the dataset's name)."""

    name: str
    root: str
    split: str
    report: str = ""

    @property
    def report_name(self) -> str:
        return self.report or self.name


def registered_name(name: str) -> str:
    """The DATASETS key of `name` (case and -/_ ignored): "SMIYC_anomaly" -> "smiyc-anomaly"."""
    cls = dataset_class(name)
    return next(key for key, value in DATASETS.items() if value is cls)


def leaderboard(name: str) -> Leaderboard:
    return LEADERBOARDS[registered_name(name)]


def default_protocols(name: str, protocol: str | None) -> tuple[str, ...]:
    """`protocol` when given, else the dataset's leaderboard protocols."""
    return (protocol,) if protocol else leaderboard(name).protocols


def dataset_specs(
    names: list[str], roots: list[str], splits: list[str] | None
) -> list[DatasetSpec]:
    """Pair dataset names with their roots (one each, in order) and splits (one each, one for
    all, or none for each dataset's leaderboard split)."""
    from segood.evaluation.options import option  # (options builds on this module)

    if len(roots) != len(names):
        raise SegoodError(
            f"{len(names)} dataset(s) {names} need one {option('data_root')} each, in the same "
            f"order; got {len(roots)}: {roots}"
        )
    splits = list(splits or [])
    if len(splits) not in (0, 1, len(names)):
        raise SegoodError(
            f"give one {option('split')} per dataset ({len(names)}) or one for all, got {splits}"
        )
    keys = [registered_name(n) for n in names]
    if len(set(keys)) != len(keys):
        raise SegoodError(f"datasets are listed twice: {names}; evaluate each split in its own run")
    if len(splits) == 1:
        splits = splits * len(names)
    return [
        DatasetSpec(key, str(root), splits[i] if splits else LEADERBOARDS[key].split)
        for i, (key, root) in enumerate(zip(keys, roots, strict=True))
    ]


def has_class_labels(dataset: Any) -> bool:
    """False for the benchmarks whose labels only say in-distribution / anomaly / void: their
    labels are not the model's classes, so no mIoU is computed on them (a dataset or its class)."""
    cls = dataset if isinstance(dataset, type) else type(dataset)
    return not issubclass(cls, AnomalyBenchmark)


def class_count_warning(model_classes: int | None, dataset: Any, name: str) -> str | None:
    """A one-line warning when a model is scored on data meant for Cityscapes' 19 classes but
    predicts another number of classes (e.g. a StreetHazards model); anomaly scores need no
    class correspondence, so the evaluation goes on (without the mIoU)."""
    cityscapes_style = getattr(dataset, "num_classes", None) == CITYSCAPES_CLASSES
    if model_classes is None or not cityscapes_style or model_classes == CITYSCAPES_CLASSES:
        return None
    return (
        f"warning: the model predicts {model_classes} classes, but {name} is Cityscapes-style "
        f"data for {CITYSCAPES_CLASSES}-class models: anomaly scores are computed, no mIoU"
    )
