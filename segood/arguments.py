"""Checks of command-line values shared by the tools, run before anything is built or written:
each bad value gets one `SegoodError` that names the flag, the value and the fix."""

from __future__ import annotations

import os
from pathlib import Path

from segood.errors import SegoodError

LAUNCHERS = ("none", "pytorch", "slurm", "mpi")  # how processes are started, in every tool


def check_output_dir(path: str | Path, flag: str = "--out") -> Path:
    """`path` as a folder the tool can create or write into: neither it nor any parent is a
    regular file, and its nearest existing folder is writable. Creates nothing."""
    path = Path(path)
    for existing in (path, *path.parents):
        if not existing.exists():
            continue
        if not existing.is_dir():
            where = "it" if existing == path else f"{existing}"
            raise SegoodError(
                f"{flag} {path}: {where} is a file, not a folder; choose another {flag}"
            )
        if not os.access(existing, os.W_OK | os.X_OK):
            raise SegoodError(f"{flag} {path}: no permission to write in {existing}")
        break
    return path


def check_count(value: int | None, flag: str, minimum: int = 1) -> int | None:
    """`value` (None passes) if it is an integer >= `minimum`."""
    if value is not None and value < minimum:
        raise SegoodError(f"{flag} must be at least {minimum}, got {value}")
    return value


def check_device(name: str | None, flag: str = "--device") -> str | None:
    """`name` (None passes) if it names a device this machine has: cpu, cuda, cuda:N, mps."""
    if name is None:
        return None
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise SegoodError(f"{flag} {name!r} is not a device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch is built without CUDA" if torch.version.cuda is None else (
                "no CUDA GPU is visible"
            )  # fmt: skip
            raise SegoodError(f"{flag} {name}: CUDA is not available here ({why}); use {flag} cpu")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise SegoodError(
                f"{flag} {name}: this machine has {count} CUDA device(s), cuda:0 to "
                f"cuda:{count - 1}"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise SegoodError(f"{flag} {name}: MPS is not available here; use {flag} cpu")
    elif device.type != "cpu":
        raise SegoodError(f"{flag} {name}: use cpu, cuda, cuda:N or mps")
    return name
