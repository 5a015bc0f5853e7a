"""Cityscapes (Cordts et al., CVPR 2016): the training set of the road-anomaly benchmarks' models.

Published layout (root = the folder leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip
extract to); cities are found by listing:

    leftImg8bit/{train,val,test}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png   (+ side files)

Label maps hold Cityscapes label ids 0..33; the loader maps them to the 19 training ids of the
official label table (`cityscapesscripts.helpers.labels`, the dataset's own scripts: road 0,
sidewalk 1, ..., bicycle 18) and every id whose train id is 255 (unlabeled, ego vehicle,
parking, ...) to `ignore_index`. The test split's labels are withheld by the benchmark, so
"test" gives images only. Cityscapes has no anomaly class.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from cityscapesscripts.helpers.labels import labels as CITYSCAPES_LABELS

from segood.data.base import SegDataset
from segood.data.layout import PairScan, scan_split

IMAGE_ENDING = "_leftImg8bit.png"
LABEL_ENDING = "_gtFine_labelIds.png"


def _train_classes() -> tuple[tuple[str, ...], tuple[tuple[int, int, int], ...]]:
    """(names, colours) of the train ids 0..18, first label of each id (as the table says)."""
    first = {}
    for label in CITYSCAPES_LABELS:
        if 0 <= label.trainId < 255:
            first.setdefault(label.trainId, label)
    ordered = [first[t] for t in sorted(first)]
    return tuple(lb.name for lb in ordered), tuple(tuple(lb.color) for lb in ordered)


_NAMES, _COLOURS = _train_classes()


class Cityscapes(SegDataset):
    """Cityscapes split "train", "val" (alias "validation") or "test" (no labels); labels are
    the 19 train ids, void = `ignore_index`; items as in `SegDataset`."""

    NAME = "Cityscapes"
    CLASSES = _NAMES
    PALETTE = _COLOURS
    num_classes = len(_NAMES)
    anomaly_ids = ()
    SPLIT_ALIASES: ClassVar[dict[str, str]] = {
        "train": "train", "val": "val", "validation": "val", "test": "test",
    }  # fmt: skip
    UNLABELED_SPLITS = ("test",)
    UNLABELED_HINT = "Cityscapes keeps its test labels on its evaluation server; use 'val'"
    EXPECTED_LAYOUT = """\
<root>/                                   (leftImg8bit_trainvaltest.zip, gtFine_trainvaltest.zip)
├── leftImg8bit/
│   ├── train/<city>/<frame>_leftImg8bit.png
│   ├── val/<city>/<frame>_leftImg8bit.png
│   └── test/<city>/<frame>_leftImg8bit.png
└── gtFine/
    ├── train/<city>/<frame>_gtFine_labelIds.png   (label ids 0..33; side files
    └── val/<city>/<frame>_gtFine_labelIds.png      *_gtFine_color.png etc. ok)
"""

    @classmethod
    def raw_label_map(cls) -> dict[int, int | None]:
        return {
            label.id: label.trainId if 0 <= label.trainId < 255 else None
            for label in CITYSCAPES_LABELS
            if label.id >= 0
        }

    @classmethod
    def raw_values_text(cls) -> str:
        return f"Cityscapes label ids 0..{cls.max_raw_value()}"

    @classmethod
    def split_dirs(cls, root: Path, split: str) -> tuple[Path, Path | None]:
        labels = None if split in cls.UNLABELED_SPLITS else root / "gtFine" / split
        return root / "leftImg8bit" / split, labels

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        hint = f"is {root} the folder that holds leftImg8bit/ and gtFine/?"
        image_dir, label_dir = cls.existing_split_dirs(root, split, hint)
        return scan_split(image_dir, label_dir, IMAGE_ENDING, LABEL_ENDING, nested=True,
                          companions=True)  # fmt: skip
