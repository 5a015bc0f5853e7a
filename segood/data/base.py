"""The dataset base class: pairs found on disk -> items {image, label, paths, name}.

A subclass states its classes, how its raw label values map to class ids (by default the CAOS
shift: raw 0 -> ignore, raw v -> v - 1; `raw_label_map`) and how to find the pairs of a split;
reading, the raw -> class id lookup, the value and size checks and the joint image/mask
transform live here once. Every problem is a SegoodError naming the file: nothing is skipped.

Void pixels (label `ignore_index`, see `ignore_mask`) are left out of every metric. Splits
published without labels (benchmark test sets) give items whose label is None; `has_labels`
says so, and asking for anomaly or void masks there raises an error naming the split.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from segood.data.io import read_image, read_label
from segood.data.layout import Pair, PairScan, layout_error, require_clean, require_root
from segood.errors import SegoodError

IGNORE_INDEX = 255
"""Default label value for pixels that carry no class (raw 0, and padding in transforms)."""


def raw_to_ids(raw: np.ndarray, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Shift raw label values to class ids: raw v -> v - 1, raw 0 -> `ignore_index` (int64)."""
    ids = raw.astype(np.int64) - 1
    ids[raw == 0] = ignore_index
    return ids


def lookup_table(
    raw_label_map: dict[int, int | None], ignore_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """(class id per raw value 0..255 as int64, which raw values are valid) from a raw label map.

    Raw values mapped to None get `ignore_index`; values missing from the map are invalid.
    """
    table = np.full(256, ignore_index, dtype=np.int64)
    valid = np.zeros(256, dtype=bool)
    for raw, class_id in raw_label_map.items():
        valid[raw] = True
        if class_id is not None:
            table[raw] = class_id
    return table, valid


class SegDataset:
    """Base of the anomaly-segmentation datasets; subclasses set the class attributes below."""

    NAME: ClassVar[str]  # for messages, e.g. "StreetHazards"
    CLASSES: ClassVar[tuple[str, ...]]  # index = class id (after the -1 shift)
    PALETTE: ClassVar[tuple[tuple[int, int, int], ...]]  # RGB colour per class id
    num_classes: ClassVar[int]  # outputs a segmentation model is trained with
    anomaly_ids: ClassVar[tuple[int, ...]]  # class ids counted as anomaly at evaluation
    background_id: ClassVar[int] = 0
    SPLIT_ALIASES: ClassVar[dict[str, str]]  # accepted split name -> canonical split name
    EXPECTED_LAYOUT: ClassVar[str]  # the folder tree shown in layout errors
    UNLABELED_SPLITS: ClassVar[tuple[str, ...]] = ()  # canonical splits published without labels
    UNLABELED_HINT: ClassVar[str] = ""  # what to do instead, for the no-labels error
    SUBSET_SPLITS: ClassVar[tuple[str, ...]] = ()  # splits made of other splits' frames
    ANOMALY_FREE_SPLITS: ClassVar[tuple[str, ...]] = ()  # splits that must hold no anomaly

    def __init__(
        self,
        root: str | Path,
        split: str,
        transform: Callable[..., dict[str, Any]] | None = None,
        ignore_index: int = IGNORE_INDEX,
    ) -> None:
        self.root = Path(root)
        self.split = self.canonical_split(split)
        if 0 <= ignore_index < len(self.CLASSES):
            raise SegoodError(
                f"ignore_index={ignore_index} is a {self.NAME} class id "
                f"({self.CLASSES[ignore_index]!r}); choose a value outside "
                f"0..{len(self.CLASSES) - 1}, e.g. {IGNORE_INDEX} or -1"
            )
        self.ignore_index = ignore_index
        self.has_labels = self.split not in self.UNLABELED_SPLITS
        self._table, self._valid = lookup_table(self.raw_label_map(), ignore_index)
        self._all_valid = bool(self._valid.all())
        self.transform = transform
        scan = self.scan(self.root, self.split)
        self.pairs: list[Pair] = require_clean(
            scan, self.NAME, self.split, self.root, self.EXPECTED_LAYOUT
        )

    @classmethod
    def canonical_split(cls, split: str) -> str:
        """Map an accepted split name (or alias) to its canonical name, else raise."""
        if split not in cls.SPLIT_ALIASES:
            choices = ", ".join(repr(s) for s in cls.SPLIT_ALIASES)
            raise SegoodError(f"unknown {cls.NAME} split {split!r}; choose one of {choices}")
        return cls.SPLIT_ALIASES[split]

    @classmethod
    def splits(cls) -> tuple[str, ...]:
        """The canonical split names, in order."""
        return tuple(dict.fromkeys(cls.SPLIT_ALIASES.values()))

    @staticmethod
    def split_dirs(root: Path, split: str) -> tuple[Path, Path | None]:
        """(image folder, label folder or None if unlabeled) of a canonical split."""
        raise NotImplementedError

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        """Find the pairs of `split` under `root`; raise only if the layout itself is wrong."""
        raise NotImplementedError

    @classmethod
    def existing_split_dirs(cls, root: Path, split: str, hint: str) -> tuple[Path, Path | None]:
        """`split_dirs` once the root and both folders are found, else the layout error
        naming what is missing, followed by `hint` (what to check)."""
        require_root(root, cls.NAME, cls.EXPECTED_LAYOUT)
        image_dir, label_dir = cls.split_dirs(root, split)
        missing = [d for d in (image_dir, label_dir) if d is not None and not d.is_dir()]
        if missing:
            names = " and ".join(str(d) for d in missing)
            raise layout_error(
                f"{cls.NAME} split {split!r}: {names} not found; {hint}", cls.EXPECTED_LAYOUT
            )
        return image_dir, label_dir

    @classmethod
    def raw_label_map(cls) -> dict[int, int | None]:
        """Class id of every valid raw label value, None for void (default: the CAOS shift)."""
        return {0: None, **{v: v - 1 for v in range(1, len(cls.CLASSES) + 1)}}

    @classmethod
    def max_raw_value(cls) -> int:
        """The largest valid raw label value."""
        return max(cls.raw_label_map())

    @classmethod
    def raw_values_text(cls) -> str:
        """The valid raw label values, for messages."""
        return f"0..{cls.max_raw_value()} (class id + 1)"

    @classmethod
    def invalid_raw_values(cls, values: np.ndarray) -> list[int]:
        """The values among `values` (raw label values) that this dataset never holds."""
        valid = cls.raw_label_map()
        return [int(v) for v in np.unique(values) if int(v) not in valid]

    @classmethod
    def raw_to_class_ids(cls, values: np.ndarray) -> set[int]:
        """The class ids that the raw label values `values` stand for (void left out)."""
        mapped = (cls.raw_label_map().get(int(v)) for v in np.unique(values))
        return {c for c in mapped if c is not None}

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        pair = self.pairs[index]
        image = read_image(pair.image_path)
        label = None if pair.label_path is None else self.read_class_ids(pair, image)
        if self.transform is not None:
            image, label = self._apply_transform(image, label)
        return {
            "image": image,
            "label": label,
            "image_path": str(pair.image_path),
            "label_path": None if pair.label_path is None else str(pair.label_path),
            "name": pair.name,
        }

    def read_class_ids(self, pair: Pair, image: np.ndarray) -> np.ndarray:
        """The class-id label (int64, void = `ignore_index`) of a labelled pair, checked."""
        label_path = pair.label_path
        raw = read_label(label_path)
        if image.shape[:2] != raw.shape:
            raise SegoodError(
                f"{label_path} is {raw.shape[1]}x{raw.shape[0]} but its image "
                f"{pair.image_path} is {image.shape[1]}x{image.shape[0]}; they must match"
            )
        if not self._all_valid and not self._valid[raw].all():
            top = self.invalid_raw_values(raw)[-1]
            raise SegoodError(
                f"{label_path} holds raw label value {top}; {self.NAME} labels hold "
                f"{self.raw_values_text()}; is this the right dataset?"
            )
        return self._table[raw]

    def _apply_transform(self, image: np.ndarray, label: np.ndarray | None) -> tuple[Any, Any]:
        """Run the joint transform; the mask travels as uint8/int16 (OpenCV cannot warp int64)."""
        if label is None:
            return self.transform(image=image)["image"], None
        small = label.astype(np.uint8 if 0 <= self.ignore_index <= 255 else np.int16)
        out = self.transform(image=image, mask=small)
        mask = out["mask"]  # a numpy array, or a torch tensor after ToTensorV2
        mask = mask.astype(np.int64) if isinstance(mask, np.ndarray) else mask.long()
        return out["image"], mask

    def require_labels(self) -> None:
        """Raise if this split has no labels (a benchmark's private test set)."""
        if not self.has_labels:
            hint = f"; {self.UNLABELED_HINT}" if self.UNLABELED_HINT else ""
            raise SegoodError(
                f"{self.NAME} split {self.split!r} is published without labels, so no metric "
                f"can be computed on it{hint}"
            )

    def is_anomaly(self, label: Any) -> Any:
        """Boolean mask of the anomaly pixels of a class-id label (numpy array or tensor)."""
        self.require_labels()
        if isinstance(label, np.ndarray):
            return np.isin(label, self.anomaly_ids)
        import torch

        return torch.isin(label, torch.tensor(self.anomaly_ids, device=label.device))

    def ignore_mask(self, label: Any) -> Any:
        """Boolean mask of the void pixels of a class-id label: left out of every metric."""
        self.require_labels()
        return label == self.ignore_index

    def __repr__(self) -> str:
        labels = "" if self.has_labels else ", no labels"
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, "
            f"n={len(self)}{labels})"
        )
