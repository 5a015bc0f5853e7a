"""Atomic file writes and JSON files, the one implementation every part of segood uses.

A write goes to a temporary file beside the target, `.<name>.tmp-<random>.tmp`, is flushed to
disk and moved onto the target with `os.replace` (atomic on one file system): a run killed
mid-write leaves the previous file intact, never a truncated one under the final name. The
temporary name starts with a dot and holds `TEMP_MARK`, so a resumed run recognises what an
interrupted one left behind (`is_temporary`) and deletes it. Files get the usual permissions
(0666 less the umask), not mkstemp's 0600.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

TEMP_MARK = ".tmp-"


def is_temporary(path: str | Path) -> bool:
    """True for a temporary file an atomic write left behind when its process was killed."""
    name = Path(path).name
    return name.startswith(".") and TEMP_MARK in name


def atomic_write_path(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(temporary_path)`, then move the temporary file onto `path`.

    The temporary file keeps `path`'s extension (`.<name>.tmp-<random>.tmp<ext>`), for writers
    that pick the format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}{TEMP_MARK}", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call `write(binary_file)` on a temporary file, then move it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TEMP_MARK}", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(name, 0o666 & ~_umask())
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, value: Any, **dumps: Any) -> None:
    """Write `value` as JSON to `path` atomically; `dumps` go to `json.dumps` (indent, ...)."""
    atomic_write_text(path, json.dumps(value, **dumps))


def read_json(path: str | Path) -> Any:
    """The JSON value stored at `path`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
