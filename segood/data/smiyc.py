"""SegmentMeIfYouCan (Chan et al., NeurIPS 2021 datasets track): RoadAnomaly21 and RoadObstacle21.

Each track is one archive that extracts to one folder (the dataset root) holding every frame
in `images/` and the public labels in `labels_masks/`; the splits are subsets of the frames,
selected by name as the official benchmark code (github SegmentMeIfYouCan/road-anomaly-benchmark,
`road_anomaly_benchmark/datasets/tracks.py` and `tracks_extra.py`) selects them:

- AnomalyTrack (`dataset_AnomalyTrack/`, JPEG images): "validation" = the 10 frames
  `validation0000` .. `validation0009`, labelled; "test" = the other 100 frames (zebra0000,
  ...), whose labels are private; "all" = the 110 frames.
- ObstacleTrack (`dataset_ObstacleTrack/`, WebP images): a frame's scene is its name up to the
  first "_". "validation" = scene `validation` less the frames whose name starts with
  `validation_19` or `validation_21` .. `validation_29` (30 frames), labelled; "test" = scenes
  curvy-street, one-way-street, gravel, greyasphalt, motorway, paving, darkasphalt, darkasphalt2
  (327 frames, the leaderboard's test set); "night" = scene driveway (30); "snowstorm" = scenes
  snowstorm1 and snowstorm2 (55); "all" = every frame of these scenes (452).

Labels are `labels_masks/<frame>_labels_semantic.png`, one channel: 0 = in-distribution (on the
obstacle track: road), 1 = anomaly (obstacle), anything else (255) = void. On the obstacle
track the void is everything off the road: the labelled road is the region of interest, and the
official metrics keep only pixels with a label below 255 (`mask_roi = label < 255`), so the
loader's void mask (`ignore_mask`) is exactly the complement of that region.
Unlabeled splits give items with label None, for saving scores to submit to the leaderboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from segood.data.anomaly_benchmark import AnomalyBenchmark
from segood.data.layout import PairScan, list_frames, scan_split

LABEL_ENDING = "_labels_semantic.png"
_UNLABELED_HINT = (
    "its labels are kept by the benchmark's server; evaluate the 'validation' split, or save "
    "the scores of this split and submit them to the SegmentMeIfYouCan leaderboard"
)


class SmiycTrack(AnomalyBenchmark):
    """Shared loading of the two tracks; a track names its folder, images and splits."""

    FOLDER: ClassVar[str]  # the folder the archive extracts to
    IMAGE_ENDING: ClassVar[str]
    RAW_IN_DISTRIBUTION = (0,)
    RAW_ANOMALY = (1,)
    UNLABELED_HINT = _UNLABELED_HINT
    SUBSET_SPLITS = ("all",)

    @classmethod
    def splits_of(cls, frame: str) -> tuple[str, ...]:
        """The canonical splits holding `frame` (an image name less its extension); () if the
        benchmark has no such frame."""
        raise NotImplementedError

    @classmethod
    def split_dirs(cls, root: Path, split: str) -> tuple[Path, Path | None]:
        labels = None if split in cls.UNLABELED_SPLITS else root / "labels_masks"
        return root / "images", labels

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        hint = (
            f"pass {root / cls.FOLDER}, the folder the archive extracts to"
            if (root / cls.FOLDER).is_dir()
            else f"is {root} the {cls.FOLDER} folder the official archive extracts to?"
        )
        image_dir, label_dir = cls.existing_split_dirs(root, split, hint)
        scan = scan_split(
            image_dir,
            label_dir,
            cls.IMAGE_ENDING,
            LABEL_ENDING,
            select=lambda frames: [f for f in frames if split in cls.splits_of(f)],
            companions=True,
        )
        frames = list_frames(image_dir, cls.IMAGE_ENDING, False, [])
        scan.unexpected += [path for f, path in frames.items() if not cls.splits_of(f)]
        return scan


class SmiycAnomalyTrack(SmiycTrack):
    """SegmentMeIfYouCan AnomalyTrack (RoadAnomaly21): "validation", "test" (no labels), "all"
    (no labels); items as in `SegDataset`, labels 0 in-distribution, 1 anomaly, void ignored."""

    NAME = "SegmentMeIfYouCan AnomalyTrack"
    FOLDER = "dataset_AnomalyTrack"
    IMAGE_ENDING = ".jpg"
    RAW_VALUES_TEXT = "0 in-distribution, 1 anomaly, any other value void"
    SPLIT_ALIASES: ClassVar[dict[str, str]] = {
        "validation": "validation", "val": "validation", "test": "test", "all": "all",
    }  # fmt: skip
    UNLABELED_SPLITS = ("test", "all")
    EXPECTED_LAYOUT = """\
<root>/                                   (dataset_AnomalyTrack/, as the archive extracts)
├── images/
│   ├── validation0000.jpg .. validation0009.jpg   (split "validation")
│   └── <name>.jpg                                 (the 100 test frames, e.g. zebra0000.jpg)
└── labels_masks/
    └── validation0000_labels_semantic.png ..      (0 in-distribution, 1 anomaly, 255 void;
                                                    side files *_labels_semantic_color.png ok)
"""

    @classmethod
    def splits_of(cls, frame: str) -> tuple[str, ...]:
        return ("validation", "all") if frame.startswith("validation") else ("test", "all")


class SmiycObstacleTrack(SmiycTrack):
    """SegmentMeIfYouCan ObstacleTrack (RoadObstacle21): "validation", "test", "night",
    "snowstorm", "all" (all but validation without labels); labels 0 road, 1 obstacle, void
    (everything off the road: outside the region of interest) ignored."""

    NAME = "SegmentMeIfYouCan ObstacleTrack"
    FOLDER = "dataset_ObstacleTrack"
    CLASSES = ("road", "obstacle")
    PALETTE = ((128, 64, 128), (255, 125, 0))
    IMAGE_ENDING = ".webp"
    RAW_VALUES_TEXT = "0 road, 1 obstacle, any other value void (off the road)"
    SPLIT_ALIASES: ClassVar[dict[str, str]] = {
        "validation": "validation", "val": "validation", "test": "test", "night": "night",
        "snowstorm": "snowstorm", "all": "all",
    }  # fmt: skip
    UNLABELED_SPLITS = ("test", "night", "snowstorm", "all")
    SCENES: ClassVar[dict[str, str]] = {
        "curvy-street": "test", "one-way-street": "test", "gravel": "test", "greyasphalt": "test",
        "motorway": "test", "paving": "test", "darkasphalt": "test", "darkasphalt2": "test",
        "driveway": "night", "snowstorm1": "snowstorm", "snowstorm2": "snowstorm",
        "validation": "validation",
    }  # fmt: skip
    # Scene "validation" frames that the official validation split leaves out (by name prefix).
    EXCLUDED_VALIDATION: ClassVar[tuple[str, ...]] = (
        "validation_19", *(f"validation_{i}" for i in range(21, 30)),
    )  # fmt: skip
    EXPECTED_LAYOUT = """\
<root>/                                   (dataset_ObstacleTrack/, as the archive extracts)
├── images/<scene>_<rest>.webp            (scene = name up to the first "_": validation;
│                                          curvy-street, one-way-street, gravel, greyasphalt,
│                                          motorway, paving, darkasphalt, darkasphalt2 (test);
│                                          driveway (night); snowstorm1, snowstorm2)
└── labels_masks/<frame>_labels_semantic.png   (validation frames: 0 road, 1 obstacle,
                                                255 void = off the road)
"""

    @classmethod
    def splits_of(cls, frame: str) -> tuple[str, ...]:
        split = cls.SCENES.get(frame.split("_", 1)[0])
        if split is None:
            return ()
        if split == "validation" and frame.startswith(cls.EXCLUDED_VALIDATION):
            return ("all",)
        return (split, "all")
