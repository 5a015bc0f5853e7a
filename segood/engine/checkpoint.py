"""Checkpoint I/O for the Runner, in one place: atomic writes and weights-only loads.

- Atomic: `AtomicLocalBackend.put` writes through `segood.io.atomic_write_bytes` (a temporary
  file moved onto the target), so a run killed mid-save leaves the previous checkpoint intact. The
  checkpoint hook selects it with `backend_args=dict(backend="atomic_local")`.
- Weights-only: mmengine 0.10.7 stores its message hub as `HistoryBuffer` objects with numpy
  arrays, and HistoryBuffer pickles its statistics methods through `builtins.getattr`, which
  no safe allowlist should admit. `encode_message_hub` therefore turns the message hub state
  into plain dicts of tensors before saving (and `decode_message_hub` rebuilds it on load),
  so a checkpoint holds only tensors, numbers, strings and containers: `torch.load(...,
  weights_only=True)` reads it with no allowlist at all. mmengine's local loader is replaced
  by `load_local_weights_only`, which passes `weights_only=True` explicitly and names the file
  in a `SegoodError` if it is corrupt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from segood.errors import SegoodError
from segood.io import atomic_write_bytes, is_temporary
from segood.models.state_dicts import LOAD_ERRORS, unreadable_weights_error

_HB = "__history_buffer__"
_ND = "__ndarray__"


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files an atomic write left in `folder` when a process was
    killed mid-write (`segood.io.is_temporary`); returns them. Call it before resuming there."""
    folder = Path(folder)
    stale = sorted(p for p in folder.iterdir() if is_temporary(p)) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


@register_backend("atomic_local", force=True)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic `put` / `put_text`."""

    def put(self, obj: bytes, filepath: str | Path) -> None:
        atomic_write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath: str | Path, encoding: str = "utf-8") -> None:
        atomic_write_bytes(filepath, obj.encode(encoding))


def _encode(value: Any) -> Any:
    if isinstance(value, HistoryBuffer):
        log, count = value.data
        return {
            _HB: True,
            "max_length": int(value.max_length),
            "log": torch.from_numpy(np.asarray(log, dtype=np.float64).copy()),
            "count": torch.from_numpy(np.asarray(count, dtype=np.float64).copy()),
        }
    if isinstance(value, np.ndarray):
        return {_ND: torch.from_numpy(value.copy())}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_encode(v) for v in value)
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_HB) is True:
            buffer = HistoryBuffer(max_length=value["max_length"])
            buffer._log_history = value["log"].numpy()
            buffer._count_history = value["count"].numpy()
            return buffer
        if set(value) == {_ND}:
            return value[_ND].numpy()
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_decode(v) for v in value)
    return value


def encode_message_hub(state: dict) -> dict:
    """MessageHub.state_dict() -> the same with HistoryBuffers/numpy as tensors and dicts."""
    return _encode(state)


def decode_message_hub(state: dict) -> dict:
    """Inverse of `encode_message_hub` (a state that was never encoded passes through)."""
    return _decode(state)


def load_from_local_weights_only(filename: str, map_location: Any = None) -> Any:
    """torch.load(weights_only=True) of a local checkpoint, with a clear error if unreadable."""
    path = Path(filename).expanduser()
    if not path.is_file():
        raise SegoodError(f"checkpoint {path} does not exist; check the path (or the work dir)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except LOAD_ERRORS as e:
        raise unreadable_weights_error(
            path,
            "checkpoint",
            e,
            "delete it (and fix work_dir/last_checkpoint) or point to another checkpoint",
        ) from None


# The one patch of mmengine: its local-file loader (`load_from_local`) calls torch.load without
# weights_only; every Runner load (resume, load_from) goes through this scheme.
CheckpointLoader.register_scheme(prefixes="", loader=load_from_local_weights_only, force=True)
