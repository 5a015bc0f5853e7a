"""Lost and Found (Pinggera et al., IROS 2016) and Fishyscapes Lost & Found (Blum et al., 2019).

Lost and Found is published in Cityscapes' layout (leftImg8bit.zip, gtCoarse.zip); a frame is
`<NN_scene>_<sequence>_<time>`, e.g. `01_Hanns_Klemm_Str_45_000000_000080`, filed under its
scene folder `<NN_scene>`. Its gtCoarse label ids are 0 = void (unlabeled, ego vehicle,
rectification border, out of roi, background), 1 = free space (the road), 2..43 = the obstacle
classes. As the official SegmentMeIfYouCan code (`tracks.py`, DatasetLostAndFound) reads them:
1 -> road, 2..200 -> obstacle, every other value -> void, so the labelled road is the region of
interest and everything off it is left out of the metrics.

Splits: "train" (1036 frames), "test" (1203) and "testNoKnown" (1043), the official obstacle
benchmark subset of the test split: sort the 1203 test frames by name, drop the 17 at positions
17, 37, 55, 72, 91, 110, 129, 153, 174, 197, 218, 353, 490, 618, 686, 792, 793 (frames whose
labels are empty), then drop the frames whose name starts with 15_Rechbergstr_Deckenpfronn
(children), 01_Hanns_Klemm_Str_45_000006, 01_Hanns_Klemm_Str_45_000007 or
10_Schlossberg_9_000004 (bicycles): the known classes a Cityscapes model would recognise.

Fishyscapes Lost & Found's validation set (fishyscapes_lostandfound.zip) relabels 100 Lost and
Found frames: `<NNNN>_<frame>_labels.png`, 0 = in-distribution, 1 = anomaly, 255 = void (the
Fishyscapes benchmark keeps `label <= 1` and counts `label == 1` as positive). Its images are
Lost and Found's, from the train or the test split, so its root is a Lost and Found root with the
label folder added.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from segood.data.anomaly_benchmark import AnomalyBenchmark
from segood.data.layout import Pair, PairScan, list_frames, natural_key, scan_split
from segood.errors import SegoodError

IMAGE_ENDING = "_leftImg8bit.png"
LABEL_ENDING = "_gtCoarse_labelIds.png"
TEST_FRAMES = 1203
INVALID_TEST_POSITIONS = (
    17, 37, 55, 72, 91, 110, 129, 153, 174, 197, 218, 353, 490, 618, 686, 792, 793,
)  # fmt: skip
KNOWN_OBJECT_PREFIXES = (
    "15_Rechbergstr_Deckenpfronn",
    "01_Hanns_Klemm_Str_45_000006",
    "01_Hanns_Klemm_Str_45_000007",
    "10_Schlossberg_9_000004",
)
LAF_TREE = """\
<root>/                               (leftImg8bit.zip and gtCoarse.zip extracted here)
├── leftImg8bit/
│   ├── train/<NN_scene>/<frame>_leftImg8bit.png       (1036 frames)
│   └── test/<NN_scene>/<frame>_leftImg8bit.png        (1203 frames)
└── gtCoarse/
    ├── train/<NN_scene>/<frame>_gtCoarse_labelIds.png (0 void, 1 road, 2..200 obstacle;
    └── test/<NN_scene>/<frame>_gtCoarse_labelIds.png   side files *_gtCoarse_* ok)
"""


def frame_name(frame_id: str) -> str:
    """`<scene>/<frame>` -> `<frame>`: Lost and Found's frame names are unique on their own."""
    return frame_id.rsplit("/", 1)[-1]


def no_known_test_frames(frame_ids: list[str]) -> list[str]:
    """The official testNoKnown subset of the full test split (see the module docstring)."""
    if len(frame_ids) != TEST_FRAMES:
        raise SegoodError(
            f"Lost and Found split 'testNoKnown' is defined by the official benchmark by position "
            f"in the complete test split of {TEST_FRAMES} frames, but {len(frame_ids)} were found; "
            "extract the complete leftImg8bit.zip and gtCoarse.zip, or use split 'test'"
        )
    ordered = sorted(frame_ids, key=frame_name)
    invalid = set(INVALID_TEST_POSITIONS)
    valid = [f for i, f in enumerate(ordered) if i not in invalid]
    return [f for f in valid if not frame_name(f).startswith(KNOWN_OBJECT_PREFIXES)]


class LostAndFound(AnomalyBenchmark):
    """Lost and Found split "train", "test" or "testNoKnown"; labels 0 road, 1 obstacle, void
    (everything off the road) ignored; items as in `SegDataset`, named by frame."""

    NAME = "Lost and Found"
    CLASSES = ("road", "obstacle")
    PALETTE = ((128, 64, 128), (255, 125, 0))
    RAW_IN_DISTRIBUTION = (1,)
    RAW_ANOMALY = tuple(range(2, 201))
    RAW_VALUES_TEXT = "1 road, 2..200 obstacle, any other value void"
    SPLIT_ALIASES: ClassVar[dict[str, str]] = {
        "train": "train", "test": "test", "testNoKnown": "testNoKnown",
        "test-no-known": "testNoKnown", "test_no_known": "testNoKnown",
    }  # fmt: skip
    SUBSET_SPLITS = ("testNoKnown",)
    EXPECTED_LAYOUT = LAF_TREE

    @staticmethod
    def split_dirs(root: Path, split: str) -> tuple[Path, Path]:
        folder = "train" if split == "train" else "test"
        return root / "leftImg8bit" / folder, root / "gtCoarse" / folder

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        hint = f"is {root} the folder that holds leftImg8bit/ and gtCoarse/?"
        image_dir, label_dir = cls.existing_split_dirs(root, split, hint)
        select = no_known_test_frames if split == "testNoKnown" else None
        scan = scan_split(image_dir, label_dir, IMAGE_ENDING, LABEL_ENDING, nested=True,
                          select=select, companions=True)  # fmt: skip
        # Items are named by frame alone, as the official code (and Fishyscapes) names them.
        scan.pairs = [Pair(p.image_path, p.label_path, frame_name(p.name)) for p in scan.pairs]
        return scan


FISHY_LABELS = "fishyscapes_lostandfound"
_FISHY_NAME = re.compile(r"(\d+)_(.+)_labels\.png", re.IGNORECASE)


class FishyscapesLAF(AnomalyBenchmark):
    """Fishyscapes Lost & Found split "validation" (100 frames); labels 0 in-distribution,
    1 anomaly, void ignored; items as in `SegDataset`, named by the Lost and Found frame."""

    NAME = "Fishyscapes Lost & Found"
    RAW_IN_DISTRIBUTION = (0,)
    RAW_ANOMALY = (1,)
    RAW_VALUES_TEXT = "0 in-distribution, 1 anomaly, any other value (255) void"
    SPLIT_ALIASES: ClassVar[dict[str, str]] = {"validation": "validation", "val": "validation"}
    EXPECTED_LAYOUT = """\
<root>/                       (a Lost and Found root with fishyscapes_lostandfound.zip added)
├── fishyscapes_lostandfound/<NNNN>_<frame>_labels.png   (100 labels: 0 in-distribution,
│                                                         1 anomaly, 255 void)
└── leftImg8bit/
    ├── train/<NN_scene>/<frame>_leftImg8bit.png         (Lost and Found's leftImg8bit.zip;
    └── test/<NN_scene>/<frame>_leftImg8bit.png           each frame is in one of the two)
"""

    @staticmethod
    def split_dirs(root: Path, split: str) -> tuple[Path, Path]:
        return root / "leftImg8bit", root / FISHY_LABELS

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        hint = (
            f"put the label files of fishyscapes_lostandfound.zip in {root / FISHY_LABELS}/, "
            "beside Lost and Found's leftImg8bit/ (from its leftImg8bit.zip)"
        )
        image_dir, label_dir = cls.existing_split_dirs(root, split, hint)
        scan = PairScan()
        labels = list_frames(label_dir, "_labels.png", False, scan.unexpected)
        for stem in sorted(labels, key=lambda s: natural_key(s.split("_", 1)[-1])):
            match = _FISHY_NAME.fullmatch(labels[stem].name)
            if match is None:
                scan.unexpected.append(labels[stem])
                continue
            frame = match.group(2)
            scene = frame.rsplit("_", 2)[0]
            images = [image_dir / s / scene / f"{frame}{IMAGE_ENDING}" for s in ("train", "test")]
            found = [p for p in images if p.is_file()]
            if found:
                scan.pairs.append(Pair(found[0], labels[stem], frame))
            else:
                scan.missing_image.append(labels[stem])
        return scan
