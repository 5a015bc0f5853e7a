"""StreetHazards (Hendrycks et al., ICML 2022): CARLA scenes with 250 kinds of inserted anomalies.

Published layout (root = the folder holding `train/` and `test/` after extracting
streethazards_train.tar and streethazards_test.tar); towns are found by listing:

    train/images/training/<town>/*.png      train/annotations/training/<town>/*.png    (t1-t3)
    train/images/validation/<town>/*.png    train/annotations/validation/<town>/*.png  (t4)
    test/images/test/<town>/*.png           test/annotations/test/<town>/*.png         (t5, t6)

Annotations are single-channel PNGs with raw values 1..14; the loader subtracts 1, giving
class ids 0..13 with 13 = anomaly (test only). The scene generator in sim/ writes the same layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from segood.data.base import SegDataset
from segood.data.layout import PairScan, scan_towns

# The on-disk layout, defined once: sim/writer.py writes it, this loader reads it.
#   <root>/<top>/<kind>/<sub>/<town>/<frame>.png, kind IMAGES or ANNOTATIONS;
# split -> (top folder, sub folder):
SPLIT_FOLDERS = {"train": ("train", "training"), "validation": ("train", "validation"),
                 "test": ("test", "test")}  # fmt: skip
IMAGES, ANNOTATIONS = "images", "annotations"
SUFFIX = ".png"  # of images and annotations; an image and its annotation share the file name


def split_folder(root: Path, split: str, kind: str) -> Path:
    """`<root>/<top>/<kind>/<sub>`: the folder of one kind of file of a split, one sub-folder
    per town."""
    top, sub = SPLIT_FOLDERS[split]
    return Path(root) / top / kind / sub


class StreetHazards(SegDataset):
    """StreetHazards split "train", "validation" or "test"; items as in `SegDataset`."""

    NAME = "StreetHazards"
    CLASSES = (
        "unlabeled", "building", "fence", "other", "pedestrian", "pole", "road line", "road",
        "sidewalk", "vegetation", "car", "wall", "traffic sign", "anomaly",
    )  # fmt: skip
    # CARLA 0.9's CityScapes palette for 0..12, the maintainers' colour for the anomaly.
    PALETTE = (
        (0, 0, 0), (70, 70, 70), (190, 153, 153), (250, 170, 160), (220, 20, 60),
        (153, 153, 153), (157, 234, 50), (128, 64, 128), (244, 35, 232), (107, 142, 35),
        (0, 0, 142), (102, 102, 156), (220, 220, 0), (60, 250, 240),
    )  # fmt: skip
    num_classes = 13
    anomaly_ids = (13,)
    background_id = 0
    SPLIT_ALIASES: ClassVar[dict[str, str]] = {
        "train": "train", "validation": "validation", "val": "validation", "test": "test",
    }  # fmt: skip
    ANOMALY_FREE_SPLITS = ("train", "validation")
    EXPECTED_LAYOUT = """\
<root>/
├── train/
│   ├── images/
│   │   ├── training/<town>/*.png      (towns t1, t2, t3)
│   │   └── validation/<town>/*.png    (town t4)
│   └── annotations/
│       ├── training/<town>/*.png      (same file names as the images)
│       └── validation/<town>/*.png
└── test/
    ├── images/test/<town>/*.png       (towns t5, t6)
    └── annotations/test/<town>/*.png
"""

    @staticmethod
    def split_dirs(root: Path, split: str) -> tuple[Path, Path]:
        """(image folder, annotation folder) of a canonical split."""
        return split_folder(root, split, IMAGES), split_folder(root, split, ANNOTATIONS)

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        hint = f"is {root} the folder that holds train/ and test/?"
        image_dir, label_dir = cls.existing_split_dirs(root, split, hint)
        return scan_towns(image_dir, label_dir, SUFFIX, SUFFIX)
