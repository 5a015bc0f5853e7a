"""Saved classifier outputs (.npz): the input format of the `logits` protocol.

An .npz file holds `logits` (N, C) and optionally `features` (N, D) (penultimate layer, for
iForest / LOF), `labels` (N,) (class ids, for accuracy), `dropout_logits` (T, N, C) (T passes
with dropout on, for MC dropout) and `confidence` (N,) or (N, 1) (a confidence branch).
Anyone can evaluate their own model by saving these arrays with `np.savez`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segood.errors import SegoodError

OPTIONAL_KEYS = ("features", "labels", "dropout_logits", "confidence")


@dataclass
class OutputSet:
    """A named set of classifier outputs: `outputs` maps output name -> array (N first)."""

    name: str
    outputs: dict[str, np.ndarray]
    source: str = ""
    labels: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def logits(self) -> np.ndarray:
        return self.outputs["logits"]

    @property
    def size(self) -> int:
        return int(self.logits.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.logits.shape[1])


def check_outputs(name: str, outputs: dict[str, np.ndarray], where: str) -> None:
    """Shapes agree, values are finite; raises one SegoodError naming `where` and the fix."""
    logits = outputs.get("logits")
    if logits is None:
        raise SegoodError(f"{where} has no 'logits' array; save logits of shape (N, C)")
    if logits.ndim != 2:
        raise SegoodError(f"{where}: 'logits' must have shape (N, C), got {logits.shape}")
    n, c = logits.shape
    if n == 0:
        raise SegoodError(f"{where}: 'logits' is empty (0 samples); nothing to evaluate")
    if c < 2:
        raise SegoodError(f"{where}: 'logits' has {c} class; a classifier needs C >= 2")
    for key, value in outputs.items():
        if not np.issubdtype(value.dtype, np.number) and value.dtype != np.bool_:
            raise SegoodError(f"{where}: '{key}' has non-numeric dtype {value.dtype}")
        if key == "dropout_logits":
            if value.ndim != 3 or value.shape[1:] != (n, c):
                raise SegoodError(
                    f"{where}: 'dropout_logits' must have shape (T, {n}, {c}), got {value.shape}"
                )
        elif value.ndim == 0 or value.shape[0] != n:
            raise SegoodError(
                f"{where}: '{key}' has {value.shape[0] if value.ndim else 0} rows but 'logits' "
                f"has {n}; every array must have one row per sample"
            )
        if np.issubdtype(value.dtype, np.floating):
            bad = int((~np.isfinite(value)).sum())
            if bad:
                raise SegoodError(
                    f"{where}: '{key}' contains {bad} NaN/Inf values out of {value.size}; "
                    "fix the model's numerics (e.g. fp16 overflow) before saving"
                )
    if "features" in outputs and outputs["features"].ndim != 2:
        raise SegoodError(
            f"{where}: 'features' must have shape (N, D), got {outputs['features'].shape}"
        )


def load_output_set(path: str | Path, name: str | None = None) -> OutputSet:
    """Read one .npz of classifier outputs, validated."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise SegoodError(f"logits file {path} does not exist; check the path")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        # numpy's own text for an object array advises allow_pickle; we never unpickle
        reason = (
            "it holds Python objects (an object array), which segood does not unpickle"
            if "allow_pickle" in str(err)
            else str(err)
        )
        raise SegoodError(
            f"{path} is not a readable .npz of numeric arrays ({reason}); save it with "
            "np.savez(path, logits=logits, features=..., labels=...)"
        ) from None
    unknown = sorted(set(arrays) - {"logits", *OPTIONAL_KEYS})
    known = {k: v for k, v in arrays.items() if k in ("logits", *OPTIONAL_KEYS)}
    check_outputs(name or path.stem, known, str(path))
    labels = known.pop("labels", None)
    outputs = known
    extra = {"ignored_arrays": unknown} if unknown else {}
    return OutputSet(name or path.stem, outputs, str(path), labels, extra)


def check_same_classes(sets: list[OutputSet]) -> None:
    """Every set must come from the same classifier: same number of classes (and of features)."""
    first = sets[0]
    for other in sets[1:]:
        if other.num_classes != first.num_classes:
            raise SegoodError(
                f"class counts differ: {first.source or first.name} has {first.num_classes} "
                f"classes but {other.source or other.name} has {other.num_classes}; all files "
                "must hold logits of the same classifier"
            )
        a, b = first.outputs.get("features"), other.outputs.get("features")
        if a is not None and b is not None and a.shape[1] != b.shape[1]:
            raise SegoodError(
                f"feature sizes differ: {first.source or first.name} has {a.shape[1]} but "
                f"{other.source or other.name} has {b.shape[1]}"
            )


def parse_named(spec: str) -> tuple[str, str]:
    """'NAME=PATH' -> (NAME, PATH); a bare PATH is named by its file stem."""
    if "=" in spec:
        name, path = spec.split("=", 1)
        if not name or not path:
            raise SegoodError(f"bad OOD set {spec!r}; write NAME=PATH (e.g. textures=tex.npz)")
        return name, path
    return Path(spec).stem, spec
