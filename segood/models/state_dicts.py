"""Reading weight files safely (`weights_only=True`) with one clear error per user mistake."""

import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from segood.errors import SegoodError


class _Opaque:
    """Stands in for a non-weight Python object of a checkpoint; builds nothing, runs nothing."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __setstate__(self, state: object) -> None:
        pass


def _opaque_getattr(obj: object, name: str) -> None:
    return None


def _mmengine_globals() -> list:
    """What an mmengine Runner checkpoint pickles besides tensors: its message hub's
    HistoryBuffer (whose methods pickle through getattr) and numpy arrays/scalars. The first two
    become inert stubs (no mmengine code runs); numpy arrays are rebuilt as torch's docs allow."""
    dtypes = [type(np.dtype(t)) for t in ("bool", "int8", "int16", "int32", "int64", "uint8")]
    dtypes += [type(np.dtype(t)) for t in ("float16", "float32", "float64")]
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    return [
        (_Opaque, "mmengine.logging.history_buffer.HistoryBuffer"),
        (_opaque_getattr, "builtins.getattr"),
        multiarray._reconstruct,
        multiarray.scalar,
        np.ndarray,
        np.dtype,
        *dtypes,
    ]


def read_weights_file(path: str | Path, what: str) -> object:
    """torch.load(path) on the CPU with weights_only=True; `what` names the file's role.

    An mmengine checkpoint also holds its message hub, which a plain weights-only load refuses;
    it is retried with the message hub's objects replaced by inert stubs (still weights-only).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise SegoodError(f"{what} file {path} does not exist; check the path")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            with torch.serialization.safe_globals(_mmengine_globals()):
                return torch.load(path, map_location="cpu", weights_only=True)
    except LOAD_ERRORS as e:
        raise unreadable_weights_error(
            path, what, e, "re-download it or re-save it with torch.save(model.state_dict(), path)"
        ) from None


# what torch.load raises on a file it cannot read: corrupt, truncated, refused objects, and
# for arbitrary bytes whatever the unpickler trips over (KeyError, ValueError, ...); only
# torch.load runs inside these handlers, so any Exception means "not readable weights"
LOAD_ERRORS = (Exception,)
_REFUSED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def describe_file(path: Path) -> str:
    """What a file is, from its size and first bytes, e.g. 'a PyTorch zip archive, 44.1 MB'."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return "unreadable"
    if size == 0:
        return "an empty file"
    if head.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(path):
            kind = "a truncated or damaged zip archive"
        else:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
            kind = (
                "a PyTorch zip archive"
                if any(n.endswith("data.pkl") for n in names)
                else "a NumPy .npz archive"
                if names and all(n.endswith(".npy") for n in names)
                else "a zip archive that is not a PyTorch file"
            )
    elif head[:1] == b"\x80":
        kind = "a pickle file (PyTorch's legacy format)"
    elif head.startswith(b"\x89HDF"):
        kind = "an HDF5 file, not a PyTorch file"
    elif head.startswith(b"\x89PNG"):
        kind = "a PNG image, not a PyTorch file"
    else:
        kind = "not a PyTorch file"
    return f"{kind}, {size / 1e6:.1f} MB" if size >= 100_000 else f"{kind}, {size} bytes"


def unreadable_weights_error(path: Path, what: str, err: BaseException, fix: str) -> SegoodError:
    """Our own words for a failed weights-only load: what the file is and, for a refused Python
    object, its class. torch's text is not quoted (it is long and advises unsafe loading)."""
    kind = describe_file(Path(path))
    refused = _REFUSED.search(str(err))
    if refused:
        return SegoodError(
            f"{what} file {path} could not be read: it is {kind} holding a pickled Python "
            f"object of class {refused.group(1)}, and segood reads only tensors, numbers, "
            f"strings and containers from weight files, so that loading a file can never run "
            f"code; save the weights alone (torch.save(model.state_dict(), path)) or use a "
            f"checkpoint written by segood"
        )
    if kind.startswith(("a PyTorch", "a pickle")):
        kind += ", but damaged or in a form this PyTorch cannot read"
    return SegoodError(
        f"{what} file {path} could not be read as PyTorch weights: it is {kind}; {fix}"
    )


def as_state_dict(obj: object, path: str | Path, what: str, expected: str) -> dict[str, Tensor]:
    """Unwrap {'state_dict': ...} (mmengine) or {'model': ...} and check str -> Tensor."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], Mapping):
                obj = obj[key]
                break
    if (
        not isinstance(obj, Mapping)
        or not obj
        or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())
    ):
        raise SegoodError(
            f"{what} file {path} does not hold a state dict (a mapping of names to tensors, "
            f"got {type(obj).__name__}); expected {expected}"
        )
    return dict(obj)


def shape_mismatches(
    state: Mapping[str, Tensor], expected: Mapping[str, Tensor]
) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """(key, file shape, model shape) for every shared key whose shapes differ."""
    return [
        (k, tuple(v.shape), tuple(expected[k].shape))
        for k, v in state.items()
        if k in expected and v.shape != expected[k].shape
    ]


def describe_mismatches(bad: list[tuple[str, tuple[int, ...], tuple[int, ...]]]) -> str:
    """The first three `shape_mismatches`, as an error message shows them."""
    return "; ".join(f"{k}: file {list(a)} vs model {list(b)}" for k, a, b in bad[:3])


def short_list(keys: list[str], n: int = 5) -> str:
    more = f", ... ({len(keys)} in all)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more
