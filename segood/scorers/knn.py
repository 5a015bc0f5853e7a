"""k-nearest-neighbour distance on normalised features, per pixel.

Sun, Ming, Zhu and Li, "Out-of-Distribution Detection with Deep Nearest Neighbors", ICML 2022.
Features are L2-normalised, z = x / ||x||; the memory bank holds normalised in-distribution
features; score = ||z - z_(k)||, the distance to the k-th nearest bank entry, higher = more
anomalous (the paper thresholds the negative distance as a confidence).

Choices:
- The bank is a uniform sample of at most `bank_size` in-distribution pixels (default 20,000),
  drawn while streaming with reservoir sampling (Vitter's algorithm R, seeded by `seed`): every
  fitted pixel has the same chance to be in it, whatever the batch sizes. The paper samples
  1% of ImageNet's training set (12,811 images) with k = 10, and uses k = 50 for the 50,000
  CIFAR-10 images: k grows with the bank. Pixels of one image are strongly correlated
  neighbours, so a small k keeps the score local: default k = 10 with a 20,000-pixel bank.
- A reloaded fit keeps its bank and count but restarts the sampler from `seed`, so a fit
  continued after `load` is still a uniform sample (though not the same one).
- Distances come from one matmul per block of pixels: ||a - b||^2 = 2 - 2 a.b for unit vectors.
- A fit mask at image resolution is resampled to the feature grid (nearest, pixel centres).

Compared with pytorch-ood 0.4.0's KNN (by design; expect different numbers): pytorch-ood keeps
every fitted feature (normalised, in sklearn's NearestNeighbors) and defaults to k = 50, the
paper's CIFAR-10 choice; segood keeps a uniform sample of `bank_size` pixels, since a
segmentation fit has millions of feature pixels (14,400 per 720x1280 image at stride 8) that no
per-pixel search could afford, and defaults to k = 10 for that bank size. With a bank that holds
the whole fit (no more fitted pixels than `bank_size`) and the same k, the two give the same
distances (to float32 rounding: segood computes sqrt(2 - 2 a.b)). The normalisation is the same.

Memory, for any image size: the bank, 4 bank_size D bytes (41 MB for 20,000 x 512; float32 on
the CPU, copied to the features' device and dtype when scoring). A fit step works on blocks of
4096 pixels (under 24 MB at D = 512) and, while the bank fills, briefly holds a second copy of
it. Scoring takes `block // bank` pixels at a time so that the similarity block (pixels x bank)
stays at `block` elements (default 2^22 = 16 MB in float32): peak beyond inputs, bank and
output under 24 MB. Both bounds are checked on a 720x1280 image by the tests.
Time: 2 N bank D flops for N pixels (295 GFLOP for a 720x1280 image at the defaults).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import FittedScorer
from segood.scorers.mahalanobis import FIT_CHUNK, check_count, map_pixels, pixel_chunks
from segood.scorers.registry import register


def reservoir_update(
    bank: Tensor | None, seen: int, rows: Tensor, capacity: int, rng: np.random.Generator
) -> tuple[Tensor, int]:
    """Algorithm R over a batch of `rows` (n, D): the new bank and the new count of rows seen.

    Row t (1-based over everything seen) fills the bank while it has room; after that it
    replaces slot j, j uniform in [0, t), when j < capacity. A slot drawn twice in one batch
    keeps the later row, as the sequential algorithm would.
    """
    if bank is None:
        bank = rows.new_empty((0, rows.shape[1]))
    fill = min(capacity - len(bank), len(rows))
    if fill > 0:
        bank = torch.cat([bank, rows[:fill]])
    rest = rows[max(fill, 0) :]
    if len(rest):
        t = seen + max(fill, 0) + np.arange(1, len(rest) + 1)
        slots = rng.integers(0, t)
        accepted = np.flatnonzero(slots < capacity)
        slots = slots[accepted]
        last_slots, first = np.unique(slots[::-1], return_index=True)  # the last draw wins
        sources = accepted[::-1][first]
        bank[torch.from_numpy(last_slots)] = rest[torch.from_numpy(sources)]
    return bank, seen + len(rows)


def knn_distance(features: Tensor, bank: Tensor, k: int, block: int = 1 << 22) -> Tensor:
    """Distance of each normalised pixel of features (B, D, h, w) to its k-th nearest row of
    the normalised `bank` (M, D): (B, h, w). Pixels go `block // M` at a time."""
    bank = bank.to(device=features.device, dtype=features.dtype)
    chunk = max(1, block // len(bank))

    def kth(x: Tensor) -> Tensor:  # (c, D) -> (c,)
        sims = F.normalize(x, dim=1) @ bank.T  # (c, M)
        top = sims.topk(k, dim=1).values[:, -1]
        return (2 - 2 * top).clamp_(min=0).sqrt_()

    return map_pixels(chunk, kth, features)


@register("knn")
class KNN(FittedScorer):
    """Distance to the k-th nearest in-distribution feature on the unit sphere (Sun et al.
    2022), per pixel; the bank is a seeded uniform sample of the fitted pixels."""

    requires = ("features",)
    resample_mask = True

    def __init__(self, k: int = 10, bank_size: int = 20000, seed: int = 0, block: int = 1 << 22):
        self.k = check_count("knn", "k", k)
        self.bank_size = check_count("knn", "bank_size", bank_size)
        if self.k > self.bank_size:
            raise SegoodError(f"knn: k = {k} is larger than bank_size = {bank_size}")
        self.seed = check_count("knn", "seed", seed, minimum=0)
        self.block = check_count("knn", "block", block)
        self._rng = np.random.default_rng(seed)
        self._bank: Tensor | None = None  # (M, D) float32, normalised rows
        self._seen = 0

    @property
    def bank(self) -> Tensor | None:
        """The memory bank (M, D) of normalised features, float32."""
        return self._bank

    @property
    def fitted(self) -> bool:
        return self._bank is not None and len(self._bank) >= self.k

    def accumulate(self, keep: Tensor, features: Tensor) -> None:
        d = features.shape[1]
        if self._bank is not None and self._bank.shape[1] != d:
            raise SegoodError(
                f"knn was fitted on {self._bank.shape[1]}-channel features; cannot update with {d}"
            )
        for _, (x, kept) in pixel_chunks(FIT_CHUNK, features, keep[:, None]):
            self._bank, self._seen = reservoir_update(
                self._bank,
                self._seen,
                F.normalize(x[kept[:, 0]].float(), dim=1).cpu(),
                self.bank_size,
                self._rng,
            )

    def score(self, features: Tensor) -> Tensor:
        if features.shape[1] != self._bank.shape[1]:
            raise SegoodError(
                f"knn was fitted on {self._bank.shape[1]}-channel features; cannot score "
                f"{features.shape[1]}-channel features"
            )
        return knn_distance(features, self._bank, self.k, self.block)

    def state_dict(self) -> dict[str, Tensor]:
        if self._bank is None:
            raise SegoodError("knn has no fitted state to save: call .update first")
        return {"bank": self._bank.clone(), "seen": torch.tensor(self._seen)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        missing = {"bank", "seen"} - set(state)
        if missing:
            raise SegoodError(f"knn state lacks {sorted(missing)}")
        bank = torch.as_tensor(state["bank"], dtype=torch.float32)
        if bank.ndim != 2 or len(bank) > self.bank_size:
            raise SegoodError(
                f"knn state is inconsistent: bank must be (M <= {self.bank_size}, D), got "
                f"{tuple(bank.shape)}"
            )
        self._bank, self._seen = bank, int(state["seen"])
        self._rng = np.random.default_rng(self.seed)
