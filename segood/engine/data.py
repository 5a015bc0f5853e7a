"""Data side of training: the dataset adapter, a resumable sampler, the padding collate and the
data preprocessor.

Exact resumption needs the data stream to be a pure function of (seed, position):
`ResumableInfiniteSampler` yields `(index, sample_seed)` for global position p (epoch
`p // len(dataset)` is a seeded permutation), and `SegoodDataset` reseeds the augmentation
(albumentations' own generators and Python's/NumPy's global ones) from `sample_seed` before
transforming. A resumed run therefore skips the consumed positions without loading them, and
the augmentations it draws do not depend on worker counts or on what ran before.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence, Sized
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.model import BaseDataPreprocessor
from mmengine.registry import DATA_SAMPLERS, DATASETS, FUNCTIONS, MODELS
from torch import Tensor
from torch.utils.data import Sampler

from segood.data import IGNORE_INDEX, build_dataset
from segood.errors import SegoodError


def sample_seed(seed: int, position: int) -> int:
    """A 32-bit seed for the sample at global stream `position` (independent streams)."""
    return int(np.random.SeedSequence((seed % 2**32, position)).generate_state(1)[0])


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(Sampler):
    """An endless, seeded stream of `(index, sample_seed)` that can start at any position.

    Global position p belongs to epoch `p // n`, whose order is `randperm(n)` seeded with
    `seed + epoch` (or `arange(n)` without shuffling); rank r of w takes positions r, r + w, ...
    `__len__` is the number of samples per rank per epoch, so `len(dataloader)` is the number
    of iterations per epoch and epoch-based schedules convert correctly.
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: int | None = None) -> None:
        self.rank, self.world_size = get_dist_info()
        self.size = len(dataset)
        if self.size == 0:
            raise SegoodError("the training dataset is empty; check data_root and the split")
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.start = 0  # samples of this rank already consumed

    def set_start(self, samples_per_rank: int) -> None:
        """Skip the first `samples_per_rank` samples of this rank (applies to the next iter)."""
        self.start = int(samples_per_rank)

    def _order(self, epoch: int) -> Tensor:
        if not self.shuffle:
            return torch.arange(self.size)
        g = torch.Generator().manual_seed(self.seed + epoch)
        return torch.randperm(self.size, generator=g)

    def __iter__(self):
        position = self.start * self.world_size + self.rank
        epoch, order = -1, None
        while True:
            e, i = divmod(position, self.size)
            if e != epoch:
                epoch, order = e, self._order(e)
            yield int(order[i]), sample_seed(self.seed, position)
            position += self.world_size

    def __len__(self) -> int:
        return math.ceil(self.size / self.world_size)


@DATASETS.register_module()
class SegoodDataset:
    """A `segood.data` dataset as mmengine sees it.

    dataset: "streethazards" or "bdd_anomaly"; data_root, split: as for `build_dataset`;
    transform: kwargs of `segood.data.transforms.build_transform` (e.g.
    `dict(name="reference_train")`), default the "eval" transform (normalise, to tensor).
    indices: use only the first `indices` images (quick runs). Items are
    `dict(inputs=(3, H, W) float, data_samples=dict(label=(H, W) int64, name=str))`.
    """

    def __init__(
        self,
        dataset: str,
        data_root: str,
        split: str,
        transform: Mapping[str, Any] | None = None,
        ignore_index: int = IGNORE_INDEX,
        indices: int | None = None,
    ) -> None:
        from segood.data.transforms import build_transform

        transform = dict(transform or {"name": "eval"})
        self.transform = build_transform(**transform)
        self.dataset = build_dataset(
            dataset, data_root, split, transform=self.transform, ignore_index=ignore_index
        )
        self.ignore_index = ignore_index
        self.length = len(self.dataset) if indices is None else min(indices, len(self.dataset))
        self.metainfo = dict(
            dataset=dataset,
            classes=tuple(self.dataset.CLASSES),
            num_classes=self.dataset.num_classes,
            anomaly_ids=tuple(self.dataset.anomaly_ids),
        )

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = key if isinstance(key, tuple) else (key, None)
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed)  # noqa: NPY002 (legacy transforms draw from the global RNG)
            if hasattr(self.transform, "set_random_seed"):
                self.transform.set_random_seed(seed)
        item = self.dataset[index]
        image, label = item["image"], item["label"]
        if not isinstance(image, Tensor):
            raise SegoodError(
                "the dataset transform must end with ToTensorV2 (use a segood.data.transforms "
                "pipeline: reference_train, scale_crop_train or eval)"
            )
        return dict(
            inputs=image.float(), data_samples=dict(label=torch.as_tensor(label), name=item["name"])
        )


@FUNCTIONS.register_module()
def seg_collate(
    batch: Sequence[Mapping[str, Any]], ignore_index: int = IGNORE_INDEX, size_divisor: int = 1
) -> dict[str, Any]:
    """Pad images (with 0) and labels (with `ignore_index`) bottom/right to the largest size in
    the batch, rounded up to `size_divisor`, and stack them.

    Returns dict(inputs=(B, 3, H, W), data_samples=dict(labels=(B, H, W), valid=(B, H, W) bool
    (False on padding), sizes=[(h, w)], names=[...])).
    """
    sizes = [tuple(item["inputs"].shape[-2:]) for item in batch]
    H = math.ceil(max(h for h, _ in sizes) / size_divisor) * size_divisor
    W = math.ceil(max(w for _, w in sizes) / size_divisor) * size_divisor
    images, labels, valid = [], [], []
    for item, (h, w) in zip(batch, sizes, strict=True):
        pad = (0, W - w, 0, H - h)
        images.append(F.pad(item["inputs"], pad, value=0.0))
        labels.append(F.pad(item["data_samples"]["label"].long(), pad, value=ignore_index))
        mask = torch.zeros(H, W, dtype=torch.bool)
        mask[:h, :w] = True
        valid.append(mask)
    return dict(
        inputs=torch.stack(images),
        data_samples=dict(
            labels=torch.stack(labels),
            valid=torch.stack(valid),
            sizes=sizes,
            names=[item["data_samples"]["name"] for item in batch],
        ),
    )


@MODELS.register_module()
class SegDataPreprocessor(BaseDataPreprocessor):
    """Moves a `seg_collate` batch to the model's device (non-blocking) and optionally to
    channels_last memory format (a GPU speed switch). Normalisation happens in the transform."""

    def __init__(self, channels_last: bool = False, non_blocking: bool = True) -> None:
        super().__init__(non_blocking=non_blocking)
        self.channels_last = channels_last

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        if self.channels_last:
            data["inputs"] = data["inputs"].contiguous(memory_format=torch.channels_last)
        return data
