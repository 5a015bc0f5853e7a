"""Writing frames in the StreetHazards layout, atomically, so a killed run resumes cleanly.

The layout is segood.data.streethazards' (the loader reads what this writes), plus metadata:

    <out>/<top>/images/<sub>/<town>/<stem>.png        RGB
    <out>/<top>/annotations/<sub>/<town>/<stem>.png   "L", raw values 1..14 (class id + 1)
    <out>/<top>/metadata/<sub>/<town>/<stem>.json     town, weather, camera, props

Every file is written to a hidden temporary name in its final folder and renamed into place
(os.replace is atomic); the metadata goes last and is the commit marker: a frame is done only
when its metadata exists. `clean` removes temporaries and uncommitted images/annotations left
by a killed run (only for the frames of the calling shard, so shards may share a folder).
Hidden names keep temporaries invisible to segood.data's scanner.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segood.data.streethazards import ANNOTATIONS, IMAGES, SUFFIX, split_folder
from segood.errors import SegoodError
from segood.io import atomic_write_path, atomic_write_text
from sim.plan import stem_frame

TMP_MARK = ".tmp-"
METADATA = "metadata"  # the generator's addition to the StreetHazards layout
KINDS = (IMAGES, ANNOTATIONS, METADATA)


@dataclass(frozen=True)
class FramePaths:
    image: Path
    annotation: Path
    metadata: Path

    def all(self) -> tuple[Path, Path, Path]:
        return self.image, self.annotation, self.metadata


def frame_paths(out: Path, split: str, town: str, stem: str) -> FramePaths:
    return FramePaths(
        split_folder(out, split, IMAGES) / town / f"{stem}{SUFFIX}",
        split_folder(out, split, ANNOTATIONS) / town / f"{stem}{SUFFIX}",
        split_folder(out, split, METADATA) / town / f"{stem}.json",
    )


def is_done(paths: FramePaths) -> bool:
    return all(p.is_file() for p in paths.all())


def _png(array: np.ndarray) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        ok, buf = cv2.imencode(".png", array)
        if not ok:
            raise OSError(f"PNG encoding failed for {tmp}")
        tmp.write_bytes(buf.tobytes())

    return write


def write_frame(paths: FramePaths, rgb: np.ndarray, annotation: np.ndarray, meta: dict) -> None:
    """rgb (H, W, 3) uint8 RGB; annotation (H, W) uint8 raw values 1..14; metadata last."""
    if annotation.dtype != np.uint8 or annotation.ndim != 2:
        raise ValueError("annotation must be a 2-D uint8 array")
    atomic_write_path(paths.image, _png(np.ascontiguousarray(rgb[..., ::-1])))
    atomic_write_path(paths.annotation, _png(annotation))
    text = json.dumps(meta, indent=1, sort_keys=True)
    atomic_write_text(paths.metadata, text)


def clean(out: Path, split: str, owns: Callable[[int], bool]) -> list[Path]:
    """Delete temporaries and uncommitted frame files of this shard; returns what went."""
    removed = []
    meta_root = split_folder(out, split, METADATA)
    for kind in KINDS:
        root = split_folder(out, split, kind)
        if not root.is_dir():
            continue
        for path in root.glob("*/*"):
            name = path.name
            if name.startswith(".") and TMP_MARK in name:
                stem = name[1:].split(".", 1)[0]
            elif kind != METADATA and path.suffix == SUFFIX:
                stem = path.stem
                if (meta_root / path.parent.name / f"{stem}.json").is_file():
                    continue
            else:
                continue
            frame = stem_frame(stem)
            if frame is not None and owns(frame):
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def read_manifest(out: Path) -> dict:
    path = Path(out) / "segood_sim.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def update_manifest(out: Path, split: str, entry: dict) -> None:
    data = read_manifest(out)
    data.setdefault("splits", {})[split] = entry
    atomic_write_text(Path(out) / "segood_sim.json", json.dumps(data, indent=1, sort_keys=True))


def check_out(out: Path) -> None:
    """Refuse an --out that cannot be a folder (a file, or inside one) before writing anything."""
    out = Path(out)
    for folder in [out, *out.parents]:
        if folder.exists():
            if not folder.is_dir():
                where = "is a file" if folder == out else f"is inside the file {folder}"
                raise SegoodError(f"--out {out} {where}; choose a folder path for the dataset")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise SegoodError(f"--out {out}: no permission to write in {folder}")
            return
