"""Build BDD-Anomaly from the BDD100K 10K semantic-segmentation release.

Rule (paper, section 5): every image whose label contains train id 16 (train), 17 (motorcycle)
or 18 (bicycle) leaves train/val and goes to test; all others stay in their split. Labels are
stored remapped (`REMAP_TABLE`: train id t -> t + 2, 255 -> 1), so the loader's -1 shift gives
0 other, 1..16 known, 17..19 anomaly. Any other value is an error naming the file.

Two source layouts are accepted (root = the folder holding `images/` + `labels/`, or `seg/`,
or its parent holding `bdd100k/`):

    current:  images/10k/{train,val}/<stem>.jpg   labels/sem_seg/masks/{train,val}/<stem>.png
    older:    seg/images/{train,val}/<stem>.jpg   seg/labels/{train,val}/<stem>_train_id.png

Every file is written to a temporary name and moved into place, and `manifest.json` is written
last, so an interrupted build can simply be re-run: it rewrites the labels, skips images that are
already complete, and only a finished build has a manifest. Real data gives 6,280 / 910 / 810.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segood.data.bdd_anomaly import (
    ANOMALY_TRAIN_IDS,
    REMAP_TABLE,
    SPLIT_NAMES,
    BDDAnomaly,
)
from segood.data.io import copy_atomic, read_label, write_label_atomic
from segood.data.layout import Pair, format_paths, layout_error, require_clean, scan_flat
from segood.errors import SegoodError
from segood.io import atomic_write_text, is_temporary
from segood.progress import show_progress

MANIFEST = "manifest.json"
SOURCE_SPLITS = ("train", "val")
EXPECTED_COUNTS = {"train": 6280, "val": 910, "test": 810}  # on the real BDD100K 10K release


@dataclass(frozen=True)
class SourceLayout:
    """Where one BDD100K release layout keeps the images and train-id masks of a split."""

    name: str
    image_dir: str  # relative to the root, with {split}
    label_dir: str
    label_stem_suffix: str  # label file = <stem><suffix>.png

    def dirs(self, root: Path, split: str) -> tuple[Path, Path]:
        return root / self.image_dir.format(split=split), root / self.label_dir.format(split=split)


SOURCE_LAYOUTS = (
    SourceLayout("current", "images/10k/{split}", "labels/sem_seg/masks/{split}", ""),
    SourceLayout("seg", "seg/images/{split}", "seg/labels/{split}", "_train_id"),
)

SOURCE_TREE = """\
<bdd-root>/                                  (current release)
├── images/10k/{train,val}/<stem>.jpg
└── labels/sem_seg/masks/{train,val}/<stem>.png          (train ids 0..18, 255)
or
<bdd-root>/                                  (older release)
└── seg/
    ├── images/{train,val}/<stem>.jpg
    └── labels/{train,val}/<stem>_train_id.png           (train ids 0..18, 255)
"""


@dataclass
class BuildResult:
    """What a build did: images per output split, the source used, stale files removed."""

    counts: dict[str, int]
    layout: str
    source_root: Path
    removed: list[Path] = field(default_factory=list)


def remap_label(train_ids: np.ndarray, path: Path | str = "<array>") -> np.ndarray:
    """Stored BDD-Anomaly label for a BDD100K train-id mask; unexpected ids raise naming `path`."""
    stored = REMAP_TABLE[train_ids]
    if not stored.all():
        bad = sorted(int(v) for v in np.unique(train_ids[stored == 0]))
        raise SegoodError(
            f"{path} holds unexpected BDD100K train id(s) {bad}; train-id masks hold 0..18 and "
            "255 (use labels/sem_seg/masks or *_train_id.png, not colour or id renderings)"
        )
    return stored


def target_split(train_ids: np.ndarray, source_split: str) -> str:
    """ "test" if the mask contains train, motorcycle or bicycle, else the source split."""
    return "test" if np.isin(train_ids, ANOMALY_TRAIN_IDS).any() else source_split


def find_source(bdd_root: Path) -> tuple[Path, SourceLayout]:
    """Locate the release layout under `bdd_root` (or `bdd_root/bdd100k`), else raise."""
    tried: list[Path] = []
    for root in (bdd_root, bdd_root / "bdd100k"):
        for layout in SOURCE_LAYOUTS:
            image_dir, _ = layout.dirs(root, "train")
            if image_dir.is_dir():
                return root, layout
            tried.append(image_dir)
    what = "does not exist" if not bdd_root.exists() else "holds neither known layout"
    raise layout_error(
        f"BDD100K root {bdd_root} {what}; looked for:\n{format_paths(tried, len(tried))}",
        SOURCE_TREE,
    )


def scan_source(root: Path, layout: SourceLayout) -> dict[str, list[Pair]]:
    """The (image, train-id mask) pairs of train and val; empty or unpaired splits raise."""
    pairs: dict[str, list[Pair]] = {}
    for split in SOURCE_SPLITS:
        image_dir, label_dir = layout.dirs(root, split)
        scan = scan_flat(image_dir, label_dir, ".jpg", ".png", layout.label_stem_suffix)
        if not scan.pairs:
            raise layout_error(
                f"BDD100K {split} split: no image/label pair matched "
                f"{image_dir}/*.jpg with {label_dir}/*{layout.label_stem_suffix}.png "
                f"({len(scan.missing_label)} images, {len(scan.missing_image)} labels found).",
                SOURCE_TREE,
            )
        pairs[split] = require_clean(scan, f"BDD100K ({layout.name} layout)", split, root,
                                     SOURCE_TREE)  # fmt: skip
    stems = Counter(p.name for ps in pairs.values() for p in ps)
    dupes = sorted(stem for stem, n in stems.items() if n > 1)
    if dupes:
        raise SegoodError(
            f"BDD100K images {dupes[:5]} appear in both train and val under {root}; "
            "each file name must be unique because both feed the test split"
        )
    return pairs


def _check_out(out: Path, source_root: Path, force: bool) -> None:
    """Refuse an output folder that overlaps the source, or holds a finished build without force."""
    out_r, src_r = out.resolve(), source_root.resolve()
    if out_r == src_r or out_r.is_relative_to(src_r) or src_r.is_relative_to(out_r):
        raise SegoodError(
            f"--out {out} overlaps the BDD100K folder {source_root}; choose a separate folder"
        )
    if (out / MANIFEST).exists() and not force:
        raise SegoodError(
            f"{out} already holds a finished BDD-Anomaly build ({out / MANIFEST}); "
            "pass --force to rebuild it"
        )


def _stale_files(out: Path, written: set[Path]) -> list[Path]:
    """Files in the output splits that this build did not write (e.g. from another source).

    Temporary files left by an interrupted build (`segood.io.is_temporary`) are ours and are
    deleted here.
    """
    stale = []
    for kind in ("images", "labels"):
        for split in SPLIT_NAMES:
            folder = out / kind / split
            for path in sorted(folder.iterdir()) if folder.is_dir() else []:
                if is_temporary(path):
                    path.unlink()
                elif path.is_file() and path not in written:
                    stale.append(path)
    return stale


def _write_pair(out: Path, source_split: str, pair: Pair) -> tuple[str, set[Path]]:
    """Copy one image and write its remapped label into the split it belongs to; returns
    (that split, the two files)."""
    train_ids = read_label(pair.label_path)
    stored = remap_label(train_ids, pair.label_path)
    split = target_split(train_ids, source_split)
    image_dest, label_dest = BDDAnomaly.split_dirs(out, split)
    image_dest, label_dest = image_dest / f"{pair.name}.jpg", label_dest / f"{pair.name}.png"
    done = image_dest.is_file() and image_dest.stat().st_size == pair.image_path.stat().st_size
    if not done:  # resume: an image under its final name is complete (atomic writes)
        copy_atomic(pair.image_path, image_dest)
    write_label_atomic(label_dest, stored)
    return split, {image_dest, label_dest}


def _check_counts(counts: dict[str, int], dirs: list[Path]) -> None:
    """SegoodError if a split came out empty, naming the folders read."""
    empty = [s for s, n in counts.items() if n == 0]
    if empty:
        why = (
            "no label contains train id 16, 17 or 18 (train, motorcycle, bicycle)"
            if "test" in empty
            else "every image of a source split contains train, motorcycle or bicycle"
        )
        raise SegoodError(
            f"BDD-Anomaly split(s) {empty} came out empty (counts {counts}): {why}; "
            f"read from:\n{format_paths(dirs, len(dirs))}\nis this the 10K semantic-segmentation "
            "release with train-id masks? The build is not marked finished."
        )


def build_bdd_anomaly(
    bdd_root: str | Path, out: str | Path, force: bool = False, progress: bool = True
) -> BuildResult:
    """Build BDD-Anomaly at `out` from the BDD100K release at `bdd_root` (see module docstring).

    `force` rebuilds a finished output and deletes files in the output splits that this build
    did not produce; without it those are errors, so nothing is overwritten by surprise.
    """
    source_root, layout = find_source(Path(bdd_root))
    out = Path(out)
    _check_out(out, source_root, force)
    pairs = scan_source(source_root, layout)
    (out / MANIFEST).unlink(missing_ok=True)  # only a finished build carries a manifest

    counts = dict.fromkeys(SPLIT_NAMES, 0)
    written: set[Path] = set()
    jobs = [(split, pair) for split in SOURCE_SPLITS for pair in pairs[split]]
    for source_split, pair in show_progress(
        jobs, desc="BDD-Anomaly", unit="img", disable=not progress
    ):
        split, files = _write_pair(out, source_split, pair)
        written |= files
        counts[split] += 1

    stale = _stale_files(out, written)
    if stale and not force:
        raise SegoodError(
            f"{out} holds {len(stale)} file(s) this build did not produce (an earlier build from "
            f"other data?):\n{format_paths(stale)}\npass --force to delete them, or use a new --out"
        )
    for path in stale:
        path.unlink()

    _check_counts(counts, [d for s in SOURCE_SPLITS for d in layout.dirs(source_root, s)])
    manifest = {
        "counts": counts,
        "source_root": str(source_root),
        "source_layout": layout.name,
        "remap": "stored = train_id + 2, 255 -> 1; loader class id = stored - 1",
        "anomaly_train_ids": list(ANOMALY_TRAIN_IDS),
    }
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return BuildResult(counts, layout.name, source_root, stale)
