"""Base of the road-anomaly benchmarks whose labels only say in-distribution, anomaly or void.

SegmentMeIfYouCan, Fishyscapes Lost & Found, Lost and Found and Road Anomaly publish label maps
with in-distribution values (or road), anomaly (or obstacle) values and void. Their loaders map
them to class ids 0 (in-distribution / road), 1 (anomaly / obstacle) and `ignore_index` (void:
left out of every metric, as each benchmark's official evaluation leaves it out). Raw values
that a benchmark does not name are void, as in the official code, so no raw value is invalid.

The models these benchmarks are meant for are trained on Cityscapes' 19 classes; scoring
anomalies needs no class correspondence, so any model's scores can be evaluated on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from segood.data.base import SegDataset

CITYSCAPES_CLASSES = 19
"""Output count of the Cityscapes-trained models these benchmarks evaluate."""


def binary_label_map(
    in_distribution: Iterable[int], anomaly: Iterable[int]
) -> dict[int, int | None]:
    """Raw value -> 0 (in-distribution), 1 (anomaly) or None (void) for all values 0..255."""
    label_map: dict[int, int | None] = dict.fromkeys(range(256))
    label_map.update(dict.fromkeys(in_distribution, 0))
    label_map.update(dict.fromkeys(anomaly, 1))
    return label_map


class AnomalyBenchmark(SegDataset):
    """A benchmark with binary labels; subclasses name their raw values and their layout."""

    CLASSES: ClassVar[tuple[str, ...]] = ("in-distribution", "anomaly")
    PALETTE: ClassVar[tuple[tuple[int, int, int], ...]] = ((0, 0, 0), (255, 125, 0))
    num_classes = CITYSCAPES_CLASSES
    anomaly_ids = (1,)
    RAW_IN_DISTRIBUTION: ClassVar[tuple[int, ...]]  # raw values of in-distribution pixels
    RAW_ANOMALY: ClassVar[tuple[int, ...]]  # raw values of anomalous pixels
    RAW_VALUES_TEXT: ClassVar[str]  # the encoding in words, for messages

    @classmethod
    def raw_label_map(cls) -> dict[int, int | None]:
        return binary_label_map(cls.RAW_IN_DISTRIBUTION, cls.RAW_ANOMALY)

    @classmethod
    def raw_values_text(cls) -> str:
        return cls.RAW_VALUES_TEXT
