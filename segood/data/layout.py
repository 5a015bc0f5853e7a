"""Finding image/label pairs on disk, and the one error a wrong layout produces.

A dataset split is an image folder and a label folder with the same structure: either flat
(`images/<id>.jpg` beside `labels/<id>.png`) or one level of sub-folders (towns, cities)
found by listing. An image and its label share a frame id: the file name less a fixed ending
(".png", or "_leftImg8bit.png" beside "_gtFine_labelIds.png" in Cityscapes' naming). Several
splits may share one folder (a split then selects its frame ids), and a split may have no
labels at all. The scan reports every image without a label, every label without an image and
every stray file; it never drops anything, so a loader can refuse an inconsistent split and
`checks.py` can count the problems.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from segood.errors import SegoodError

_SHOWN = 5  # how many offending paths an error message lists before summarizing


@dataclass(frozen=True)
class Pair:
    """One sample: an image, its label, and a stable unique name such as "t5/300"."""

    image_path: Path
    label_path: Path | None  # None in a split published without labels
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


def visible(folder: Path) -> list[Path]:
    """Entries of `folder` in natural order, skipping hidden files (".DS_Store", temp files)."""
    return sorted((p for p in folder.iterdir() if not p.name.startswith(".")),
                  key=lambda p: natural_key(p.name))  # fmt: skip


def _files_by_ending(folder: Path, ending: str, others: list[Path]) -> dict[str, Path]:
    """Map id -> file for files named `<id><ending>` (case-insensitive); others go to `others`."""
    found: dict[str, Path] = {}
    for path in visible(folder):
        if path.is_file() and path.name.lower().endswith(ending.lower()):
            found[path.name[: len(path.name) - len(ending)]] = path
        else:
            others.append(path)
    return found


def list_frames(folder: Path, ending: str, nested: bool, others: list[Path]) -> dict[str, Path]:
    """Frame id -> file for the files `<id><ending>` in `folder` (nothing if it is missing).

    `nested`: the files sit one level down, in sub-folders found by listing (towns, cities), and
    ids are `<sub-folder>/<stem>`; files directly inside `folder` then go to `others`, as does
    every entry that does not fit the pattern.
    """
    if not folder.is_dir():
        return {}
    if not nested:
        return _files_by_ending(folder, ending, others)
    found: dict[str, Path] = {}
    for entry in visible(folder):
        if not entry.is_dir():
            others.append(entry)
            continue
        inside = _files_by_ending(entry, ending, others)
        found.update({f"{entry.name}/{stem}": path for stem, path in inside.items()})
    return found


def _is_companion(path: Path, folder: Path, frame_ids: set[str]) -> bool:
    """True if `path` is named `<frame id>_...` or `<frame id>.<...>` for a known frame.

    Published label folders hold side files next to the label maps (colour renderings,
    instance maps, polygon files); they belong to a frame and are not strays.
    """
    relative = path.relative_to(folder).as_posix()
    cuts = (i for i, char in enumerate(relative) if char in "_.")
    return any(relative[:i] in frame_ids for i in cuts)


def scan_split(
    image_dir: Path,
    label_dir: Path | None,
    image_ending: str,
    label_ending: str = "",
    *,
    nested: bool = False,
    prefix: str = "",
    select: Callable[[list[str]], Iterable[str]] | None = None,
    companions: bool = False,
) -> PairScan:
    """Pair image `<id><image_ending>` with label `<id><label_ending>` (see `list_frames`).

    select: given every frame id found in `image_dir`, returns the ids of this split (the
        others belong to other splits sharing the folder and are neither paired nor reported).
    label_dir: None for a split published without labels (pairs get no label path).
    companions: accept side files `<id>_*` / `<id>.*` of known frames in `label_dir`.
    Names are `prefix + id`; pairs are in natural order of the id.
    """
    scan = PairScan()
    images = list_frames(image_dir, image_ending, nested, scan.unexpected)
    wanted = set(select(sorted(images)) if select else images)
    if label_dir is None:
        scan.pairs = [Pair(images[i], None, prefix + i) for i in sorted(wanted, key=natural_key)]
        return scan
    others: list[Path] = []
    labels = list_frames(label_dir, label_ending, nested, others)
    known = set(images) if companions else set()
    scan.unexpected += [p for p in others if not _is_companion(p, label_dir, known)]
    scan.missing_image = [labels[i] for i in sorted(labels.keys() - images.keys(), key=natural_key)]
    for frame in sorted(wanted, key=natural_key):
        if frame in labels:
            scan.pairs.append(Pair(images[frame], labels[frame], prefix + frame))
        else:
            scan.missing_label.append(images[frame])
    return scan


def scan_flat(
    image_dir: Path,
    label_dir: Path,
    image_suffix: str,
    label_suffix: str,
    label_stem_suffix: str = "",
    prefix: str = "",
) -> PairScan:
    """Pair image `image_dir/<stem><image_suffix>` with label
    `label_dir/<stem><label_stem_suffix><label_suffix>`; names are `prefix + stem`."""
    return scan_split(image_dir, label_dir, image_suffix, label_stem_suffix + label_suffix,
                      prefix=prefix)  # fmt: skip


def scan_towns(image_dir: Path, label_dir: Path, image_suffix: str, label_suffix: str) -> PairScan:
    """Pair files inside the sub-folders (towns) of `image_dir` and `label_dir`.

    Towns are found by listing both folders; a town present on one side only yields missing
    counterparts for all its files. Files directly inside the two folders are unexpected.
    Names are `<town>/<stem>`.
    """
    return scan_split(image_dir, label_dir, image_suffix, label_suffix, nested=True)


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
