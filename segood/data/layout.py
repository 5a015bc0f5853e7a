"""Finding image/label pairs on disk, and the one error a wrong layout produces.

A dataset split is an image folder and a label folder with the same structure: either flat
(`images/<stem>.jpg` beside `labels/<stem>.png`) or one level of sub-folders (towns, cities)
found by listing. An image and its label share a file stem. The scan reports every image without
a label, every label without an image and every stray file; it never drops anything, so a loader
can refuse an inconsistent split and `checks.py` can count the problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from segood.errors import SegoodError

_SHOWN = 5  # how many offending paths an error message lists before summarizing


@dataclass(frozen=True)
class Pair:
    """One sample: an image, its label, and a stable unique name such as "t5/300"."""

    image_path: Path
    label_path: Path
    name: str


@dataclass
class PairScan:
    """Result of scanning one split: the pairs and everything that could not be paired."""

    pairs: list[Pair] = field(default_factory=list)
    missing_label: list[Path] = field(default_factory=list)  # images without a label
    missing_image: list[Path] = field(default_factory=list)  # labels without an image
    unexpected: list[Path] = field(default_factory=list)  # files that fit neither pattern

    @property
    def ok(self) -> bool:
        return not (self.missing_label or self.missing_image or self.unexpected)

    def problems(self) -> dict[str, list[Path]]:
        """The non-empty problem lists, keyed by a short human-readable kind."""
        found = {
            "image without label": self.missing_label,
            "label without image": self.missing_image,
            "unexpected file": self.unexpected,
        }
        return {kind: paths for kind, paths in found.items() if paths}


def format_paths(paths: Iterable[Path], shown: int = _SHOWN) -> str:
    """List the first `shown` paths, one per line, then how many more there are."""
    paths = list(paths)
    lines = [f"  {p}" for p in paths[:shown]]
    if len(paths) > shown:
        lines.append(f"  ... and {len(paths) - shown} more")
    return "\n".join(lines)


def layout_error(problem: str, expected_tree: str) -> SegoodError:
    """A SegoodError stating `problem` followed by the expected layout."""
    return SegoodError(f"{problem}\nExpected layout:\n{expected_tree.rstrip()}")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs by value: "t1/2" < "t1/10" (real StreetHazards stems)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)
    )


def _visible(folder: Path) -> list[Path]:
    """Entries of `folder` in natural order, skipping hidden files (".DS_Store", temp files)."""
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".")),
                  key=lambda p: natural_key(p.name))  # fmt: skip


def _files_by_stem(
    folder: Path, suffix: str, stem_suffix: str, unexpected: list[Path]
) -> dict[str, Path]:
    """Map stem -> file for files named `<stem><stem_suffix><suffix>`; others go to unexpected."""
    ending = stem_suffix + suffix
    found: dict[str, Path] = {}
    if not folder.is_dir():
        return found
    for path in _visible(folder):
        if path.is_file() and path.name.lower().endswith(ending.lower()):
            found[path.name[: len(path.name) - len(ending)]] = path
        else:
            unexpected.append(path)
    return found


def scan_flat(
    image_dir: Path,
    label_dir: Path,
    image_suffix: str,
    label_suffix: str,
    label_stem_suffix: str = "",
    prefix: str = "",
) -> PairScan:
    """Pair image and label files by stem.

    Image `image_dir/<stem><image_suffix>` goes with label
    `label_dir/<stem><label_stem_suffix><label_suffix>`.
    Names are `prefix + stem`; pairs are in natural order of the stem.
    """
    scan = PairScan()
    images = _files_by_stem(image_dir, image_suffix, "", scan.unexpected)
    labels = _files_by_stem(label_dir, label_suffix, label_stem_suffix, scan.unexpected)
    for stem in sorted(images.keys() | labels.keys(), key=natural_key):
        if stem not in labels:
            scan.missing_label.append(images[stem])
        elif stem not in images:
            scan.missing_image.append(labels[stem])
        else:
            scan.pairs.append(Pair(images[stem], labels[stem], prefix + stem))
    return scan


def scan_towns(image_dir: Path, label_dir: Path, image_suffix: str, label_suffix: str) -> PairScan:
    """Pair files inside the sub-folders (towns) of `image_dir` and `label_dir`.

    Towns are found by listing both folders; a town present on one side only yields missing
    counterparts for all its files. Files directly inside the two folders are unexpected.
    Names are `<town>/<stem>`.
    """
    scan = PairScan()
    towns: set[str] = set()
    for folder in (image_dir, label_dir):
        if folder.is_dir():
            for entry in _visible(folder):
                if entry.is_dir():
                    towns.add(entry.name)
                else:
                    scan.unexpected.append(entry)
    for town in sorted(towns, key=natural_key):
        part = scan_flat(
            image_dir / town, label_dir / town, image_suffix, label_suffix, prefix=f"{town}/"
        )
        scan.pairs += part.pairs
        scan.missing_label += part.missing_label
        scan.missing_image += part.missing_image
        scan.unexpected += part.unexpected
    return scan


def require_root(root: Path, dataset: str, expected_tree: str) -> Path:
    """Return `root` if it is a folder, else raise the layout error."""
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise layout_error(f"{dataset} root {root} {what}.", expected_tree)
    return root


def require_clean(scan: PairScan, dataset: str, split: str, where: Path, tree: str) -> list[Pair]:
    """Return the pairs of a split, or raise if it is empty or anything could not be paired."""
    problems = scan.problems()
    if problems:
        details = "\n".join(
            f"{len(paths)} {kind}(s):\n{format_paths(paths)}" for kind, paths in problems.items()
        )
        raise layout_error(
            f"{dataset} split {split!r} under {where} is inconsistent (an image and its label "
            f"must share a file name); fix or remove these files, "
            f"or run tools/check_data.py for a full report:\n{details}",
            tree,
        )
    if not scan.pairs:
        raise layout_error(f"{dataset} split {split!r} under {where} has no images.", tree)
    return scan.pairs
