"""Reading and writing the image and label files of a dataset, with errors that name the file.

Images are decoded with OpenCV (which returns BGR) and converted to RGB. Labels are 8-bit
single-channel PNGs whose raw values are returned unchanged; shifting them to class ids is the
loader's job. Writes go to a temporary file in the same folder and are moved into place with
`os.replace`, so an interrupted run never leaves a half-written file under the final name.

A PNG's embedded colour profile (iCCP chunk) is dropped before decoding: OpenCV never applies
it, and libpng prints a warning to stderr for every malformed or "known incorrect" profile,
which exported PNGs often carry (once per image read, thousands of lines per epoch).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from segood.errors import SegoodError
from segood.io import atomic_write_path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def without_colour_profile(data: np.ndarray) -> np.ndarray:
    """The bytes of an encoded image (uint8 array) without a PNG's iCCP chunk; anything else
    (other formats, PNGs without a profile, truncated files) is returned unchanged."""
    if bytes(data[:8]) != PNG_SIGNATURE:
        return data
    pos = 8
    while pos + 8 <= data.size:
        length = int.from_bytes(bytes(data[pos : pos + 4]), "big")
        kind = bytes(data[pos + 4 : pos + 8])
        if kind in (b"IDAT", b"IEND"):  # a profile must come before the image data
            return data
        end = pos + 12 + length  # length, type, body, CRC
        if kind == b"iCCP":
            return np.concatenate([data[:pos], data[end:]])
        pos = end
    return data


def decode_file(path: str | Path, flags: int) -> np.ndarray:
    """Decode the image file `path` with OpenCV (`flags`: cv2.IMREAD_*); any failure becomes a
    SegoodError naming the file."""
    try:
        buffer = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise SegoodError(f"cannot read {path}: {err.strerror or err}") from err
    array = cv2.imdecode(without_colour_profile(buffer), flags) if buffer.size else None
    if array is None:
        raise SegoodError(
            f"cannot decode {path}: the file is empty, truncated or not an image; "
            "re-extract or re-download it"
        )
    return array


def read_image(path: str | Path) -> np.ndarray:
    """Return the image at `path` as an (H, W, 3) uint8 RGB array."""
    path = Path(path)
    array = decode_file(path, cv2.IMREAD_COLOR)
    if array.dtype != np.uint8:
        raise SegoodError(
            f"{path} is not an 8-bit image (dtype {array.dtype}); convert it to 8 bit"
        )
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)


def read_label(path: str | Path) -> np.ndarray:
    """Return the raw values of the single-channel 8-bit label PNG at `path`, shape (H, W)."""
    path = Path(path)
    array = decode_file(path, cv2.IMREAD_UNCHANGED)
    if array.ndim != 2 or array.dtype != np.uint8:
        channels = 1 if array.ndim == 2 else array.shape[2]
        raise SegoodError(
            f"{path} is not a single-channel 8-bit label map ({channels} channel(s), "
            f"dtype {array.dtype}); point the dataset at the id masks, not the colour renderings"
        )
    return array


def image_size(path: str | Path) -> tuple[int, int]:
    """Return (height, width) of the image or label at `path` (decodes it)."""
    array = decode_file(Path(path), cv2.IMREAD_UNCHANGED)
    return int(array.shape[0]), int(array.shape[1])


def write_label_atomic(dest: str | Path, label: np.ndarray) -> None:
    """Write a (H, W) uint8 label map as a PNG at `dest`, atomically."""
    if label.ndim != 2 or label.dtype != np.uint8:
        raise ValueError(f"label must be (H, W) uint8, got {label.shape} {label.dtype}")

    def write(tmp: Path) -> None:
        ok, encoded = cv2.imencode(".png", label)
        if not ok:
            raise OSError(f"cannot encode PNG for {dest}")
        encoded.tofile(tmp)

    atomic_write_path(dest, write)


def copy_atomic(src: str | Path, dest: str | Path) -> None:
    """Copy the file `src` to `dest` byte for byte, atomically."""
    atomic_write_path(dest, lambda tmp: shutil.copyfile(src, tmp))
