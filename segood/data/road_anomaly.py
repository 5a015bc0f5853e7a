"""Road Anomaly (Lis et al., "Detecting the Unexpected via Image Resynthesis", ICCV 2019).

60 web images of animals, cones and unusual vehicles on roads, as RoadAnomaly_jpg.zip (JPEG) or
RoadAnomaly.zip (WebP) extract:

    <root>/frame_list.json                          the image file names, e.g. "animals01_....jpg"
    <root>/frames/<name>.jpg                        the images
    <root>/frames/<name>.labels/labels_semantic.png one channel: 0 background, 1 road, 2 anomaly

The authors' code lists the frames from frame_list.json and counts `label >= 2` as anomaly;
there is no void, so every pixel is scored. One split, "test".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from segood.data.anomaly_benchmark import AnomalyBenchmark
from segood.data.layout import Pair, PairScan, layout_error, visible
from segood.errors import SegoodError

LABEL_FILE = "labels_semantic.png"


def read_frame_list(path: Path) -> list[str]:
    """The image file names listed in frame_list.json; a SegoodError names a bad file."""
    try:
        names = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SegoodError(f"cannot read {path}: {err}; re-extract the dataset") from err
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise SegoodError(f"{path} must be a JSON list of image file names; re-extract it")
    return names


class RoadAnomaly(AnomalyBenchmark):
    """Road Anomaly split "test" (60 frames); labels 0 in-distribution (background and road),
    1 anomaly; nothing is void; items as in `SegDataset`."""

    NAME = "Road Anomaly"
    RAW_IN_DISTRIBUTION = (0, 1)
    RAW_ANOMALY = tuple(range(2, 256))
    RAW_VALUES_TEXT = "0 background, 1 road, 2 (or more) anomaly"
    SPLIT_ALIASES: ClassVar[dict[str, str]] = {"test": "test"}
    EXPECTED_LAYOUT = """\
<root>/                          (RoadAnomaly_jpg/ or RoadAnomaly/, as the archive extracts)
├── frame_list.json              (the image file names)
└── frames/
    ├── <name>.jpg               (or .webp)
    └── <name>.labels/
        └── labels_semantic.png  (0 background, 1 road, 2 anomaly; side files ok)
"""

    @staticmethod
    def split_dirs(root: Path, split: str) -> tuple[Path, Path]:
        return root / "frames", root / "frames"

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        hint = f"is {root} the folder the archive extracts to?"
        frames, _ = cls.existing_split_dirs(root, split, hint)
        frame_list = root / "frame_list.json"
        if not frame_list.is_file():
            raise layout_error(f"{cls.NAME}: {frame_list} not found; {hint}", cls.EXPECTED_LAYOUT)
        names = read_frame_list(frame_list)
        scan = PairScan()
        absent = []
        for name in names:
            image = frames / name
            label = frames / f"{Path(name).stem}.labels" / LABEL_FILE
            if image.is_file() and label.is_file():
                scan.pairs.append(Pair(image, label, Path(name).stem))
            elif image.is_file():
                scan.missing_label.append(image)
            elif label.is_file():
                scan.missing_image.append(label)
            else:
                absent.append(image)
        if absent:
            raise layout_error(f"{frame_list} lists {len(absent)} frame(s) with neither image "
                               f"nor label, e.g. {absent[0]}; re-extract the archive",
                               cls.EXPECTED_LAYOUT)  # fmt: skip
        listed = set(names) | {f"{Path(n).stem}.labels" for n in names}
        scan.unexpected = [p for p in visible(frames) if p.name not in listed]
        return scan
