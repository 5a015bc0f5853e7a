"""BDD-Anomaly (Hendrycks et al., ICML 2022): BDD100K 10K segmentation with train, motorcycle and
bicycle held out as anomalies.

Built by tools/make_bdd_anomaly.py (library: `segood.data.make_bdd`) into this layout:

    <root>/images/{train,val,test}/<stem>.jpg   (BDD100K images, copied byte for byte)
    <root>/labels/{train,val,test}/<stem>.png   (single channel, stored = train id + 2, 255 -> 1)
    <root>/manifest.json                        (counts, source, remap; written last)

The loader subtracts 1 (as for StreetHazards), so class ids are 0 other (BDD100K's unlabeled),
1..16 the known classes, 17 train, 18 motorcycle, 19 bicycle. Models train 17 outputs (0..16);
evaluation counts {17, 18, 19} as anomaly. On the real data the splits hold 6,280 / 910 / 810.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from segood.data.base import SegDataset
from segood.data.layout import PairScan, scan_flat

# BDD100K train ids 0..18 (255 = unlabeled).
BDD100K_TRAIN_IDS = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train",
    "motorcycle", "bicycle",
)  # fmt: skip
BDD100K_UNLABELED = 255
ANOMALY_TRAIN_IDS = (16, 17, 18)  # train, motorcycle, bicycle
SPLIT_NAMES = ("train", "val", "test")


def _remap_table() -> np.ndarray:
    """Stored value for each BDD100K train id (uint8 table of 256); 0 marks an invalid id."""
    table = np.zeros(256, dtype=np.uint8)
    table[: len(BDD100K_TRAIN_IDS)] = np.arange(len(BDD100K_TRAIN_IDS)) + 2
    table[BDD100K_UNLABELED] = 1
    return table


REMAP_TABLE = _remap_table()
"""stored = REMAP_TABLE[train_id]: train id t -> t + 2, 255 -> 1; 0 means "not a valid id"."""


class BDDAnomaly(SegDataset):
    """BDD-Anomaly split "train", "val" (alias "validation") or "test"; items as in `SegDataset`."""

    NAME = "BDD-Anomaly"
    CLASSES = ("other", *BDD100K_TRAIN_IDS)
    # Cityscapes colours (BDD100K uses the same), black for "other".
    PALETTE = (
        (0, 0, 0), (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
        (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35),
        (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
        (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32),
    )  # fmt: skip
    num_classes = 17
    anomaly_ids = (17, 18, 19)
    background_id = 0
    SPLIT_ALIASES: ClassVar[dict[str, str]] = {
        "train": "train", "val": "val", "validation": "val", "test": "test",
    }  # fmt: skip
    ANOMALY_FREE_SPLITS = ("train", "val")
    EXPECTED_LAYOUT = """\
<root>/                      (the --out folder of tools/make_bdd_anomaly.py)
├── images/
│   ├── train/<stem>.jpg
│   ├── val/<stem>.jpg
│   └── test/<stem>.jpg
├── labels/
│   ├── train/<stem>.png     (same stem as the image)
│   ├── val/<stem>.png
│   └── test/<stem>.png
└── manifest.json
"""

    @staticmethod
    def split_dirs(root: Path, split: str) -> tuple[Path, Path]:
        """(image folder, label folder) of a canonical split."""
        return root / "images" / split, root / "labels" / split

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        hint = (
            "this looks like the BDD100K release itself: build BDD-Anomaly from it with "
            f"tools/make_bdd_anomaly.py --bdd-root {root} --out OUT."
            if (root / "images" / "10k").is_dir() or (root / "seg").is_dir()
            else "build it with tools/make_bdd_anomaly.py --bdd-root BDD100K --out ROOT."
        )
        image_dir, label_dir = cls.existing_split_dirs(root, split, hint)
        return scan_flat(image_dir, label_dir, ".jpg", ".png", prefix=f"{split}/")
