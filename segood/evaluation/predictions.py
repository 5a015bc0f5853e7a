"""Score maps read from saved predictions: any framework's outputs, evaluated by segood.

`--predictions DIR` or `--predictions name=DIR name2=DIR2`: each folder holds one file per
dataset image (layout and formats: `prediction_files`). A folder of score maps is one score
column (named `name`, or the folder's name); a folder of logits is scored by every logit scorer
(the same scorer objects a model run uses), giving columns `name/scorer` (or the scorer names
for a single unnamed folder). Before anything is evaluated, every folder is checked: missing
and extra files, mixed formats, shapes that differ from the labels, unusable dtypes, NaN / Inf,
all reported at once, naming the files and the fix.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch

import segood.scorers as scorer_registry
from segood.data.layout import format_paths
from segood.errors import SegoodError
from segood.evaluation.options import option
from segood.evaluation.prediction_files import SUFFIXES, map_dtype, peek, read, relative_stem
from segood.evaluation.sources import ImageScores, predicted_classes, score_maps
from segood.progress import show_progress

CAOS_LOGIT_SCORERS = ("msp", "background", "maxlogit")


@dataclass
class PredictionMethod:
    """One `--predictions` folder; `suffix` and `kind` are found on disk."""

    name: str  # "" for a single unnamed folder
    folder: Path
    suffix: str = ""
    kind: str = ""  # "scores" or "logits"


def parse_predictions(specs: list[str]) -> list[PredictionMethod]:
    """`["DIR"]` or `["name=DIR", ...]` -> methods; names unique, folders that exist."""
    methods = []
    for spec in specs:
        name, eq, folder = spec.partition("=")
        if not eq:
            name, folder = "", spec
        if eq and not name:
            raise SegoodError(f"{option('predictions')} {spec!r}: write NAME=DIR (or only DIR)")
        path = Path(folder)
        if not path.is_dir():
            raise SegoodError(
                f"{option('predictions')}: {path} is not a folder of prediction files"
            )
        methods.append(PredictionMethod(name, path))
    if len(methods) > 1 and not all(m.name for m in methods):
        raise SegoodError(
            f"several {option('predictions')} folders need names: NAME=DIR NAME2=DIR2"
        )
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise SegoodError(f"{option('predictions')} names must differ, got {names}")
    return methods


def logit_scorers() -> list[str]:
    """Every registered scorer that needs only logits and no fit: CAOS ones first."""
    found = set()
    for name in scorer_registry.available():
        scorer = scorer_registry.get(name)
        fitted = isinstance(scorer, scorer_registry.FittedScorer)
        if scorer.requires == ("logits",) and not fitted:
            found.add(scorer.name)
    return [*CAOS_LOGIT_SCORERS, *sorted(found - set(CAOS_LOGIT_SCORERS))]


def check_logit_scorers(scorers: dict[str, Any]) -> None:
    for name, scorer in scorers.items():
        if scorer.requires != ("logits",):
            raise SegoodError(
                f"scorer {name!r} needs model outputs {list(scorer.requires)}; saved predictions "
                f"give only logits: run it with the model ({option('config')} "
                f"{option('checkpoint')} ...)"
            )
        if isinstance(scorer, scorer_registry.FittedScorer):
            raise SegoodError(
                f"scorer {name!r} is fitted on in-distribution data, which saved test "
                f"predictions do not include: run it with the model ({option('config')} "
                f"{option('checkpoint')} ...)"
            )


class PredictionSource:
    """Score maps of each dataset image read from the methods' folders (see `sources`)."""

    def __init__(
        self,
        dataset: Any,
        methods: list[PredictionMethod],
        scorers: dict[str, Any],
        exclude_classes: tuple[int, ...] = (),
        count: int | None = None,
        progress: bool = True,
    ) -> None:
        self.dataset, self.methods, self.scorers = dataset, methods, scorers
        self.exclude_classes, self.progress = exclude_classes, progress
        self.stems = [relative_stem(dataset, pair.image_path) for pair in dataset.pairs]
        self.index_of = {pair.name: i for i, pair in enumerate(dataset.pairs)}
        evaluated = self.stems[:count]
        problems = [p for m in methods for p in self._scan(m, set(self.stems), evaluated)]
        if problems:
            raise SegoodError(_report(problems, self._example()))
        for method in methods:
            method.kind = peek(self.path(method, 0)).kind
        if any(m.kind == "logits" for m in methods):
            check_logit_scorers(scorers)
        self.names = [c for m in methods for c in self._columns(m)]
        if len(set(self.names)) != len(self.names):
            raise SegoodError(
                f"{option('predictions')} give the same score column twice: {self.names}"
            )
        self.segmentation = next(
            (m for m in methods if m.kind == "logits"), None
        )  # the first logits folder gives the predicted classes (mIoU)

    def path(self, method: PredictionMethod, index: int) -> Path:
        return method.folder / f"{self.stems[index]}{method.suffix}"

    def _columns(self, method: PredictionMethod) -> list[str]:
        if method.kind == "scores":
            return [method.name or method.folder.resolve().name]
        return [f"{method.name}/{s}" if method.name else s for s in self.scorers]

    def _example(self) -> str:
        return f"{self.dataset.pairs[0].image_path} -> DIR/{self.stems[0]}.npz"

    @staticmethod
    def _scan(method, stems: set[PurePosixPath], evaluated: list[PurePosixPath]) -> list:
        """[(problem, paths, fix)] of a folder's listing; sets `method.suffix`."""
        folder = method.folder
        files = [
            p for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(s.startswith(".") for s in p.relative_to(folder).parts)
        ]  # fmt: skip
        suffixes = sorted({p.suffix for p in files if p.suffix in SUFFIXES})
        fix = f"one format per folder: {', '.join(SUFFIXES)}"
        if not suffixes:
            return [(f"no prediction files in {folder}", files, fix)]
        if len(suffixes) > 1:
            by_suffix = {x: [p for p in files if p.suffix == x] for x in suffixes}
            counts = ", ".join(f"{len(ps)} {x}" for x, ps in by_suffix.items())
            examples = [p for ps in by_suffix.values() for p in ps[:2]]
            return [(f"mixed formats in {folder} ({counts}), for example", examples, fix)]
        method.suffix = suffixes[0]
        found = {PurePosixPath(p.relative_to(folder).with_suffix("").as_posix()): p for p in files}
        extra = [p for s, p in found.items() if p.suffix != method.suffix or s not in stems]
        missing = [folder / f"{s}{method.suffix}" for s in evaluated if s not in found]
        problems = []
        if missing:
            what = f"{len(missing)} missing prediction files"
            problems.append((what, missing, "write one file per image"))
        if extra:
            what = f"{len(extra)} files in {folder} that match no image"
            problems.append((what, extra, "remove them"))
        return problems

    def check(self, dataset: Any, indices: list[int]) -> None:
        """Every file of `indices` read once: kind, shape, dtype, finiteness, class count."""
        tasks = [(m, i) for i in indices for m in self.methods]
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            found = list(
                show_progress(pool.map(self._check_file, tasks), total=len(tasks), unit="file",
                     desc="check predictions", disable=not self.progress)
            )  # fmt: skip
        problems: dict[tuple[str, str], list[Path]] = {}
        classes: dict[str, dict[int, list[Path]]] = {}
        for (method, index), (problem, count) in zip(tasks, found, strict=True):
            path = self.path(method, index)
            if problem:
                problems.setdefault(problem, []).append(path)
            if count is not None:
                classes.setdefault(method.name, {}).setdefault(count, []).append(path)
        listed = [(f"{len(ps)} x {what}", ps, fix) for (what, fix), ps in problems.items()]
        for name, counts in classes.items():
            if len(counts) > 1:
                paths = [p for ps in counts.values() for p in ps[:2]]
                what = f"logits of {name or 'the folder'} with class counts {sorted(counts)}"
                listed.append((what, paths, "save every image's logits alike"))
        if listed:
            raise SegoodError(_report(listed, self._example()))

    def _check_file(self, task) -> tuple[tuple[str, str] | None, int | None]:
        """((problem, fix) or None, class count of logits or None) of one file."""
        method, index = task
        path, (height, width) = self.path(method, index), _label_size(self.dataset, index)
        try:
            info = peek(path)
        except SegoodError as err:
            reason = str(err).split(": ", 1)[-1]
            return (f"unreadable files ({reason})", "rewrite them"), None
        if info.kind != method.kind:
            return (f"{info.kind} in a folder of {method.kind}", "one kind per folder"), None
        if info.dtype.kind not in "fiub":
            return (f"arrays of dtype {info.dtype}", "save real numbers (float16/32/64)"), None
        want = (height, width) if method.kind == "scores" else (*info.shape[:1], height, width)
        if info.shape != want:
            layout = "(H, W)" if method.kind == "scores" else "(C, H, W)"
            return (
                f"{method.kind} of shape {info.shape} where {layout} = {want} fits the label",
                "save each image's map at its label's size",
            ), None
        if info.dtype.kind == "f" and not np.isfinite(read(path, info)).all():
            return (
                "NaN or Inf values",
                "replace them (e.g. np.nan_to_num) or fix the method",
            ), None
        return None, (info.shape[0] if method.kind == "logits" else None)

    def prepare(self, cache: Any, rank: int) -> None:
        """Nothing to fit: fitted scorers are refused for saved predictions."""

    def scores(self, item: dict[str, Any]) -> ImageScores:
        start, index = time.perf_counter(), self.index_of[item["name"]]
        arrays = {}
        for method in self.methods:
            path = self.path(method, index)
            arrays[method.name] = read(path, peek(path))
        t_read = time.perf_counter()
        maps, classes, num_classes = {}, None, 0
        for method, columns in ((m, self._columns(m)) for m in self.methods):
            data = arrays[method.name]
            if method.kind == "scores":
                maps[columns[0]] = data.astype(map_dtype(data.dtype))
                continue
            logits = {"logits": torch.from_numpy(np.ascontiguousarray(data))[None]}
            scored = score_maps(self.scorers, logits, self.exclude_classes)
            maps.update(zip(columns, scored.values(), strict=True))
            if method is self.segmentation:
                classes, num_classes = predicted_classes(logits["logits"])
        seconds = {"read": t_read - start, "scorers": time.perf_counter() - t_read}
        return ImageScores(maps, classes, num_classes, seconds)

    def describe(self) -> dict[str, Any]:
        return {
            "predictions": {
                m.name or m.folder.resolve().name: {
                    "folder": str(m.folder.resolve()),
                    "format": m.suffix,
                    "kind": m.kind,
                }
                for m in self.methods
            },
            "scorer_settings": {name: repr(s) for name, s in self.scorers.items()},
            "exclude_classes": list(self.exclude_classes),
        }


def _label_size(dataset: Any, index: int) -> tuple[int, int]:
    """(H, W) of an image's label (its image's in a split without labels), from the header."""
    from PIL import Image

    pair = dataset.pairs[index]
    with Image.open(pair.label_path or pair.image_path) as label:
        width, height = label.size
    return height, width


def _report(problems: list[tuple[str, list[Path], str]], example: str) -> str:
    """One message for every problem found: what, which files, the fix."""
    lines = ["the predictions cannot be evaluated; nothing was written:"]
    for what, paths, fix in problems:
        lines += [f"{what} ({fix}):", format_paths(paths)]
    lines.append(
        "Layout: one file per image, at the image's path relative to the split's image folder "
        f"with the extension replaced (e.g. {example})."
    )
    return "\n".join(lines)
