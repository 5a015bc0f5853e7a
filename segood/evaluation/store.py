"""Resumable, shard-safe storage of evaluation results under one output folder.

Every finished image is one file, `<out>/<dataset>/images/<name>.npz`, written atomically: it
holds that image's per-protocol records (JSON), its confusion matrix and its curve sample. A
killed evaluation restarted with `--resume` skips every image whose file holds every protocol
asked for; files are independent of the order, the shard and the process that wrote them, so
merging is a union.
Pooled accumulators are checkpointed per shard in `pooled-rank<R>.npz` with the images they
hold. Everything is read back with `allow_pickle=False`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from segood.io import atomic_write


def save_npz(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> None:
    payload = dict(arrays)
    if meta is not None:
        payload["__meta__"] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **payload))


def load_npz(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
    return arrays, meta


def load_meta(path: Path) -> dict[str, Any]:
    """Only the JSON metadata of a file written by `save_npz` (its arrays stay unread)."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}


def safe_name(name: str) -> str:
    """An image name ("t5/300") as a file name ("t5__300")."""
    return name.replace(os.sep, "__").replace("/", "__")


class ResultStore:
    """The per-image files of one dataset's evaluation."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.images = self.folder / "images"

    def path(self, name: str) -> Path:
        return self.images / f"{safe_name(name)}.npz"

    def key(self, name: str) -> str:
        """The key of image `name` in `records()`."""
        return safe_name(name)

    def records(self) -> dict[str, set[str]]:
        """{key: protocols its stored result holds} of every finished image."""
        if not self.images.is_dir():
            return {}
        return {
            path.stem: set(load_meta(path).get("protocols", {}))
            for path in self.images.glob("*.npz")
        }

    def write(self, name: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        save_npz(self.path(name), arrays, {"name": name, **meta})

    def read_all(self):
        """Yield (arrays, meta) of every finished image, in name order."""
        for path in sorted(self.images.glob("*.npz")):
            yield load_npz(path)

    def clear_temporaries(self) -> None:
        """Remove temp files an interrupted write left behind."""
        if self.folder.is_dir():
            for tmp in self.folder.rglob(".*.tmp"):
                tmp.unlink(missing_ok=True)
