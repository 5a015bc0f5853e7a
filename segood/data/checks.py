"""Scan a dataset and report every problem, with counts, instead of stopping at the first.

Problems found per split: images without a label, labels without an image, stray files,
unreadable files, image/label size mismatches, raw label values the dataset never holds,
anomaly classes in a split that must have none (StreetHazards' and BDD-Anomaly's train and
validation splits), and empty splits. Splits published without labels have their images
decoded only. A missing root or a wrong layout is not a finding but a SegoodError (the tool
exits 2 on it), since nothing can be scanned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segood.data.base import SegDataset
from segood.data.factory import dataset_class
from segood.data.io import read_image, read_label
from segood.data.layout import Pair
from segood.errors import SegoodError
from segood.progress import show_progress

KINDS = (
    "empty split",
    "image without label",
    "label without image",
    "unexpected file",
    "unreadable file",
    "size mismatch",
    "label value out of range",
    "anomaly outside test",
)
# "anomaly outside test" means: anomaly class ids in one of the dataset's ANOMALY_FREE_SPLITS.


@dataclass(frozen=True)
class Problem:
    """One finding: its kind (one of KINDS), split, the file concerned and a detail line."""

    kind: str
    split: str
    path: Path
    detail: str = ""


@dataclass
class CheckReport:
    """All findings of one scan, plus how many pairs each split holds."""

    dataset: str
    root: Path
    pairs: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> Counter[tuple[str, str]]:
        """Number of problems per (kind, split)."""
        return Counter((p.kind, p.split) for p in self.problems)

    def render(self, listed: int = 10) -> str:
        """A summary table (kinds x splits) followed by up to `listed` examples per kind."""
        splits = list(self.pairs)
        counts = self.counts()
        rows = [("pairs", *(str(self.pairs[s]) for s in splits), str(sum(self.pairs.values())))]
        for kind in KINDS:
            per = [counts[kind, s] for s in splits]
            if any(per):
                rows.append((kind, *(str(n) for n in per), str(sum(per))))
        header = ("", *splits, "total")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        fmt = "  ".join(
            f"{{:<{widths[0]}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths)
        )
        lines = [f"{self.dataset} at {self.root}", fmt.format(*header)]
        lines += [fmt.format(*r) for r in rows]
        lines.append("no problems found" if self.ok else f"{len(self.problems)} problem(s)")
        for kind in KINDS:
            found = [p for p in self.problems if p.kind == kind]
            if found:
                lines.append(f"\n{kind}:")
                lines += [
                    f"  {p.path}{': ' + p.detail if p.detail else ''}" for p in found[:listed]
                ]
                if len(found) > listed:
                    lines.append(f"  ... and {len(found) - listed} more")
        return "\n".join(lines)


def _reason(err: SegoodError) -> str:
    """The part of a read error after the file name (the report prints the path already)."""
    return str(err).split(": ", 1)[-1]


def check_pair(cls: type[SegDataset], split: str, pair: Pair) -> list[Problem]:
    """Decode one pair and report what is wrong with it."""
    problems = []
    try:
        image = read_image(pair.image_path)
    except SegoodError as err:
        problems.append(Problem("unreadable file", split, pair.image_path, _reason(err)))
        image = None
    if pair.label_path is None:
        return problems
    try:
        raw = read_label(pair.label_path)
    except SegoodError as err:
        problems.append(Problem("unreadable file", split, pair.label_path, _reason(err)))
        return problems
    if image is not None and image.shape[:2] != raw.shape:
        detail = f"label {raw.shape[1]}x{raw.shape[0]}, image {image.shape[1]}x{image.shape[0]}"
        problems.append(Problem("size mismatch", split, pair.label_path, detail))
    values = np.unique(raw)
    bad = cls.invalid_raw_values(values)
    if bad:
        detail = f"raw values {bad} (valid {cls.raw_values_text()})"
        problems.append(Problem("label value out of range", split, pair.label_path, detail))
    if split in cls.ANOMALY_FREE_SPLITS:
        anomalies = sorted(cls.raw_to_class_ids(values) & set(cls.anomaly_ids))
        if anomalies:
            detail = f"anomaly class id(s) {anomalies} in a {split} split"
            problems.append(Problem("anomaly outside test", split, pair.label_path, detail))
    return problems


def check_dataset(
    name: str, root: str | Path, splits: Sequence[str] | None = None, progress: bool = False
) -> CheckReport:
    """Scan `splits` of dataset `name` at `root` and collect every problem.

    Default: every split except those made of other splits' frames (`SUBSET_SPLITS`, e.g.
    SegmentMeIfYouCan's "all"), which would only be scanned twice.
    """
    cls = dataset_class(name)
    root = Path(root)
    report = CheckReport(cls.NAME, root)
    default = [s for s in cls.splits() if s not in cls.SUBSET_SPLITS]
    for split in [cls.canonical_split(s) for s in splits] if splits else default:
        scan = cls.scan(root, split)  # raises on a missing root or a wrong layout
        report.pairs[split] = len(scan.pairs)
        for kind, paths in scan.problems().items():
            report.problems += [Problem(kind, split, p) for p in paths]
        if not scan.pairs and scan.ok:
            report.problems.append(Problem("empty split", split, cls.split_dirs(root, split)[0]))
        for pair in show_progress(scan.pairs, desc=f"{cls.NAME} {split}", disable=not progress):
            report.problems += check_pair(cls, split, pair)
    return report
