"""The dataset base class: pairs found on disk -> items {image, label, paths, name}.

A subclass states its classes and how to find the pairs of a split; reading, the raw -> class id
shift (raw 0 -> ignore, raw v -> v - 1), the value and size checks and the joint image/mask
transform live here once. Every problem is a SegoodError naming the file: nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from segood.data.io import read_image, read_label
from segood.data.layout import Pair, PairScan, require_clean
from segood.errors import SegoodError

IGNORE_INDEX = 255
"""Default label value for pixels that carry no class (raw 0, and padding in transforms)."""


def raw_to_ids(raw: np.ndarray, ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """Shift raw label values to class ids: raw v -> v - 1, raw 0 -> `ignore_index` (int64)."""
    ids = raw.astype(np.int64) - 1
    ids[raw == 0] = ignore_index
    return ids


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
    def split_dirs(root: Path, split: str) -> tuple[Path, Path]:
        """(image folder, label folder) of a canonical split."""
        raise NotImplementedError

    @classmethod
    def scan(cls, root: Path, split: str) -> PairScan:
        """Find the pairs of `split` under `root`; raise only if the layout itself is wrong."""
        raise NotImplementedError

    @classmethod
    def max_raw_value(cls) -> int:
        """The largest valid raw label value (class id + 1)."""
        return len(cls.CLASSES)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        pair = self.pairs[index]
        image = read_image(pair.image_path)
        raw = read_label(pair.label_path)
        if image.shape[:2] != raw.shape:
            raise SegoodError(
                f"{pair.label_path} is {raw.shape[1]}x{raw.shape[0]} but its image "
                f"{pair.image_path} is {image.shape[1]}x{image.shape[0]}; they must match"
            )
        top = int(raw.max())
        if top > self.max_raw_value():
            raise SegoodError(
                f"{pair.label_path} holds raw label value {top}; {self.NAME} labels hold "
                f"0..{self.max_raw_value()} (class id + 1); is this the right dataset?"
            )
        label = raw_to_ids(raw, self.ignore_index)
        if self.transform is not None:
            image, label = self._apply_transform(image, label)
        return {
            "image": image,
            "label": label,
            "image_path": str(pair.image_path),
            "label_path": str(pair.label_path),
            "name": pair.name,
        }

    def _apply_transform(self, image: np.ndarray, label: np.ndarray) -> tuple[Any, Any]:
        """Run the joint transform; the mask travels as uint8/int16 (OpenCV cannot warp int64)."""
        small = label.astype(np.uint8 if 0 <= self.ignore_index <= 255 else np.int16)
        out = self.transform(image=image, mask=small)
        mask = out["mask"]  # a numpy array, or a torch tensor after ToTensorV2
        mask = mask.astype(np.int64) if isinstance(mask, np.ndarray) else mask.long()
        return out["image"], mask

    def is_anomaly(self, label: Any) -> Any:
        """Boolean mask of the anomaly pixels of a class-id label (numpy array or tensor)."""
        if isinstance(label, np.ndarray):
            return np.isin(label, self.anomaly_ids)
        import torch

        return torch.isin(label, torch.tensor(self.anomaly_ids, device=label.device))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, n={len(self)})"
        )
