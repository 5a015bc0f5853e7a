"""Which frames exist and who makes them: towns per frame, shards, deterministic seeds.

Frame i of a split belongs to town `towns[i % len(towns)]` and is drawn from the random stream
`frame_seed(seed, split, i)`: both depend on the index alone, never on the number of frames, so
a dataset grows by rerunning with a larger --frames (frames 0..N-1 stay as they are, and the
result equals a single run of the larger size). A generator makes its frames grouped by town,
so it loads each town once. With `--shard I/N` it makes the frames i with i % N == I, so N
generators with the same arguments cover the split exactly once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from segood.errors import SegoodError


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def owns(self, frame: int) -> bool:
        return frame % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError as exc:
        raise SegoodError(f"--shard must look like I/N (e.g. 0/4), got {text!r}") from exc
    if n < 1 or not 0 <= i < n:
        raise SegoodError(f"--shard {text}: need N >= 1 and 0 <= I < N")
    return Shard(i, n)


def frame_town(frame: int, towns: list[str]) -> str:
    return towns[frame % len(towns)]


def frame_seed(seed: int, split: str, frame: int, attempt: int = 0) -> int:
    digest = hashlib.sha256(f"segood-sim:{seed}:{split}:{frame}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def frame_stem(frame: int) -> str:
    return f"{frame:06d}"


def stem_frame(stem: str) -> int | None:
    return int(stem) if stem.isdigit() else None


def plan(frames: int, towns: list[str], shard: Shard = Shard()) -> list[tuple[int, str]]:
    """(frame index, town) of every frame this shard makes: by town, then by index."""
    if frames < 1:
        raise SegoodError(f"--frames must be >= 1, got {frames}")
    mine = [(i, frame_town(i, towns)) for i in range(frames) if shard.owns(i)]
    return sorted(mine, key=lambda item: (towns.index(item[1]), item[0]))
