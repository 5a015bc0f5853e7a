"""Per-image prediction files: where they live, how they are read, and `--save-scores`.

Layout: one file per dataset image, at the image's path relative to its split's image folder
with the extension replaced (StreetHazards `test/images/test/t5/300.png` -> `t5/300.npz`;
BDD-Anomaly `images/test/<stem>.jpg` -> `<stem>.npz`). Formats:
- `.npy`: a score map (H, W), higher = more anomalous;
- `.npz`: a score map under the key `scores` (or the file's only array), or logits (C, H, W)
  under the key `logits`;
- `.hdf5`: SegmentMeIfYouCan's per-frame layout (road-anomaly-benchmark `Evaluation`: one file
  `<frame id>.hdf5` per frame holding the dataset `value`, the anomaly score map (H, W) stored
  as float16, gzip level 9, in `outputs/anomaly_p/<method>/<dataset>/`).
Files are inspected from their headers first (`peek`: shape and dtype without reading the
data), so a whole folder is checked before anything is evaluated. Nothing is unpickled.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from segood.errors import SegoodError
from segood.evaluation.options import option
from segood.io import atomic_write_bytes

SUFFIXES = (".npy", ".npz", ".hdf5")
SMIYC_KEY = "value"  # the dataset name road-anomaly-benchmark's ChannelLoaderHDF5 uses
SAVE_DTYPES = ("float16", "float32")
SAVE_FORMATS = ("npz", "hdf5")


@dataclass(frozen=True)
class ArrayInfo:
    """What a prediction file holds: `kind` "scores" (H, W) or "logits" (C, H, W)."""

    kind: str
    shape: tuple[int, ...]
    dtype: np.dtype
    key: str | None = None  # the array's name inside an .npz / .hdf5


def relative_stem(dataset: Any, image_path: str | Path) -> PurePosixPath:
    """An image's path relative to its split's image folder, without the extension."""
    image_dir = Path(dataset.split_dirs(dataset.root, dataset.split)[0])
    return PurePosixPath(Path(image_path).relative_to(image_dir).with_suffix("").as_posix())


def peek(path: Path) -> ArrayInfo:
    """The kind, shape and dtype of a prediction file, from its header."""
    try:
        if path.suffix == ".npy":
            with open(path, "rb") as handle:
                return _info("scores", *_npy_header(handle))
        if path.suffix == ".npz":
            return _peek_npz(path)
        if path.suffix == ".hdf5":
            return _peek_hdf5(path)
    except SegoodError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, KeyError) as err:
        raise SegoodError(f"cannot read prediction file {path}: {err}") from None
    raise SegoodError(f"{path}: prediction files end in {', '.join(SUFFIXES)}")


def read(path: Path, info: ArrayInfo) -> np.ndarray:
    """The array of a prediction file that `peek` described."""
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                return data[info.key]
        import h5py

        with h5py.File(path, "r") as handle:
            return handle[info.key][()]
    except (OSError, ValueError, zipfile.BadZipFile, KeyError) as err:
        raise SegoodError(f"cannot read prediction file {path}: {err}") from None


def _npy_header(handle) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(handle)
    reader = {(1, 0): np.lib.format.read_array_header_1_0}.get(
        version, np.lib.format.read_array_header_2_0
    )
    shape, _, dtype = reader(handle)
    return tuple(shape), dtype


def _peek_npz(path: Path) -> ArrayInfo:
    with zipfile.ZipFile(path) as archive:
        keys = [n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy")]
        if "logits" in keys:
            key, kind = "logits", "logits"
        elif "scores" in keys or len(keys) == 1:
            key, kind = ("scores" if "scores" in keys else keys[0]), "scores"
        else:
            raise SegoodError(
                f"{path} holds the arrays {keys}; a prediction .npz holds `scores` (H, W) or "
                "`logits` (C, H, W)"
            )
        with archive.open(f"{key}.npy") as member:
            return _info(kind, *_npy_header(member), key=key)


def _peek_hdf5(path: Path) -> ArrayInfo:
    import h5py

    with h5py.File(path, "r") as handle:
        if SMIYC_KEY not in handle:
            raise SegoodError(
                f"{path} has no dataset {SMIYC_KEY!r} (it holds {list(handle.keys())}); "
                "SegmentMeIfYouCan's layout stores the score map as `value`"
            )
        data = handle[SMIYC_KEY]
        return _info("scores", tuple(data.shape), data.dtype, key=SMIYC_KEY)


def _info(kind: str, shape: tuple[int, ...], dtype: np.dtype, key: str | None = None):
    return ArrayInfo(kind, tuple(int(s) for s in shape), np.dtype(dtype), key)


def map_dtype(dtype: np.dtype) -> type:
    """The float type a score map is evaluated in: exact for every stored dtype."""
    exact32 = (dtype.kind == "f" and dtype.itemsize <= 4) or dtype.itemsize <= 2
    return np.float32 if exact32 else np.float64


class ScoreWriter:
    """`--save-scores`: each score column's maps under `folder/<column>/`, in the layout above."""

    def __init__(self, folder: Path, dtype: str = "float16", fmt: str = "npz") -> None:
        if dtype not in SAVE_DTYPES:
            raise SegoodError(f"{option('save_dtype')} must be one of {SAVE_DTYPES}, got {dtype!r}")
        if fmt not in SAVE_FORMATS:
            raise SegoodError(f"{option('save_format')} must be one of {SAVE_FORMATS}, got {fmt!r}")
        self.folder, self.dtype, self.fmt = Path(folder), np.dtype(dtype), fmt

    def describe(self) -> dict[str, str]:
        return {"folder": str(self.folder.resolve()), "dtype": str(self.dtype), "format": self.fmt}

    def path(self, column: str, stem: PurePosixPath) -> Path:
        return self.folder / column / f"{stem}.{self.fmt}"

    def write(self, dataset: Any, item: dict[str, Any], maps: dict[str, np.ndarray]) -> None:
        """Every column's map of one image; all are cast (and checked) before any is written."""
        stem = relative_stem(dataset, item["image_path"])
        cast = {column: score_map.astype(self.dtype) for column, score_map in maps.items()}
        for column, values in cast.items():
            if not np.isfinite(values).all():
                raise SegoodError(
                    f"scores of {column!r} on {item['name']} leave the range of {self.dtype} "
                    f"(largest magnitude {np.abs(maps[column]).max():.4g}); pass "
                    f"{option('save_dtype', 'float32')}"
                )
        for column, values in cast.items():
            atomic_write_bytes(self.path(column, stem), self._bytes(values))

    def _bytes(self, values: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        if self.fmt == "npz":
            np.savez_compressed(buffer, scores=values)
        else:
            import h5py

            with h5py.File(buffer, "w") as handle:
                handle.create_dataset(SMIYC_KEY, data=values, compression="gzip",
                                      compression_opts=9)  # fmt: skip
        return buffer.getvalue()
