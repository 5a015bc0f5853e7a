"""Evaluation protocols: how per-image score maps become a dataset's metrics.

A protocol is one class here, registered by name (`@register_protocol`); the evaluation loop
(`runner.Evaluation`) knows only the hooks below, so adding one (e.g. a leaderboard's rules) is
local to its class:
- `add(name, maps, anomaly, ignore)`: called once per image of the first pass; returns a
  JSON-able per-image record stored in that image's result file (resume and sharding are then
  free), or None; `arrays(...)`: per-image arrays stored there too (e.g. histogram bins);
- `begin()` / `save()`: load and checkpoint a running state that cannot live per image (the
  pooled distinct-value counts), written per process and merged at the end;
- `component_plan()`: after every process finished the first pass, the ComponentAccumulator
  settings per score column (thresholds come from the first pass), or None; one second pass
  over the images serves every protocol's plan (`component_results()` reads them back);
- `compute(records)`: the dataset's results per score column from the per-image records.
`ROWS` are the (metric key, label) rows of the report tables; `in_all`: run by "all".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from segood.errors import SegoodError
from segood.evaluation import smiyc
from segood.evaluation.options import option
from segood.evaluation.store import load_meta, load_npz, safe_name, save_npz
from segood.metrics import PerImageAccumulator, PooledAccumulator
from segood.metrics.components import ComponentAccumulator, best_f1_threshold

if TYPE_CHECKING:
    from segood.evaluation.runner import Evaluation

METRIC_ROWS = (("fpr95", "FPR95 ↓"), ("auroc", "AUROC ↑"), ("aupr", "AUPR ↑"))
COMPONENT_ROWS = (("siou_gt", "sIoU gt ↑"), ("ppv", "PPV ↑"), ("mean_f1", "mean F1 ↑"))
SMIYC_ROWS = (("aupr", "AUPR ↑"), ("fpr95", "FPR95 ↓"), *COMPONENT_ROWS)  # the leaderboard's

_PROTOCOLS: dict[str, type[Protocol]] = {}


def register_protocol(cls: type[Protocol]) -> type[Protocol]:
    _PROTOCOLS[cls.name] = cls
    return cls


def protocol_names(all_only: bool = False) -> tuple[str, ...]:
    """Registered protocol names (those in `--protocol all` with `all_only`)."""
    return tuple(n for n, c in _PROTOCOLS.items() if c.in_all or not all_only)


def protocol_class(name: str) -> type[Protocol]:
    if name not in _PROTOCOLS:
        raise SegoodError(f"unknown protocol {name!r}; choose from {', '.join(_PROTOCOLS)}")
    return _PROTOCOLS[name]


def resolve_protocols(names: tuple[str, ...], job: Any) -> tuple[str, ...]:
    """`names` ("all" expanded) plus the protocols they require, in registration order."""
    wanted = set(protocol_names(all_only=True) if "all" in names else names)
    for name in list(wanted):
        wanted |= set(protocol_class(name).requires(job))
    return tuple(n for n in _PROTOCOLS if n in wanted)


class Protocol:
    """Base: a protocol with per-image records only and no second pass."""

    name: ClassVar[str]
    ROWS: ClassVar[tuple[tuple[str, str], ...]] = METRIC_ROWS
    in_all: ClassVar[bool] = True  # run by `--protocol all`

    @classmethod
    def requires(cls, job: Any) -> tuple[str, ...]:
        """Protocols that must run too, for this job (their results are read by this one)."""
        return ()

    def __init__(self, evaluation: Evaluation) -> None:
        self.ev = evaluation
        self.columns = evaluation.source.names

    def begin(self) -> set[str] | None:
        """Images a running state already holds after a resume (None: no running state)."""
        return None

    def add(self, name: str, maps: dict, anomaly: np.ndarray, ignore: np.ndarray) -> Any:
        return None

    def arrays(self, maps: dict, anomaly: np.ndarray, ignore: np.ndarray) -> dict:
        """Per-image arrays to store in the image's result file (keys unique to the protocol)."""
        return {}

    def save(self) -> None:
        """Checkpoint the running state (called every few images and after the first pass)."""

    def component_plan(self) -> dict[str, dict[str, Any]] | None:
        """Score column -> ComponentAccumulator settings for the second pass, or None."""
        return None

    def component_results(self, records: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Score column -> component metrics of this protocol's plan over the `records` images,
        from the second pass's files (those written with the current plans only)."""
        plans = self.ev.plans
        accs = {col: ComponentAccumulator(**kw) for col, kw in plans[self.name].items()}
        wanted = {safe_name(name) for name in records}
        for path in sorted((self.ev.job.out / "components").glob("*.npz")):
            meta = load_meta(path) if path.stem in wanted else {}
            if meta.get("plans") == plans:
                for col, (siou, ppv) in meta["states"][self.name].items():
                    accs[col].per_image[path.stem] = (siou, ppv)
        return {col: acc.compute() for col, acc in accs.items()}

    def compute(self, records: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


@register_protocol
class Caos(Protocol):
    """Per-image AUROC / AUPR / FPR95 averaged over images (the CAOS reference's rules)."""

    name = "caos"

    def add(self, name: str, maps: dict, anomaly: np.ndarray, ignore: np.ndarray) -> Any:
        per_image = PerImageAccumulator()
        metrics = {col: per_image.add(col, m, anomaly, ignore) for col, m in maps.items()}
        return {"metrics": metrics, "skipped": next(iter(per_image.skipped.values()), None)}

    def compute(self, records: dict[str, Any]) -> dict[str, Any]:
        accs = {col: PerImageAccumulator() for col in self.columns}
        for image, record in records.items():
            for col, acc in accs.items():
                value = record["metrics"].get(col)
                if value is None:
                    acc.skipped[image] = record["skipped"] or "skipped"
                else:
                    acc.per_image[image] = value
        if all(not acc.per_image for acc in accs.values()):
            raise SegoodError(
                f"none of the {len(records)} images of {self.ev.job.out.name} has an anomalous "
                "pixel: the CAOS protocol needs a split with anomalies (the test split)"
            )
        return {col: acc.compute() for col, acc in accs.items()}


@register_protocol
class Pooled(Protocol):
    """Exact metrics over all pixels of the split; a running state per process."""

    name = "pooled"

    def path(self) -> Path:
        return self.ev.job.out / f"pooled-rank{self.ev.job.rank}.npz"

    def begin(self) -> set[str]:
        self.accs = {col: PooledAccumulator() for col in self.columns}
        self.images: set[str] = set()
        job = self.ev.job
        if not (job.resume and self.path().exists()):
            return self.images
        arrays, meta = load_npz(self.path())
        if meta.get("world") != job.world or sorted(meta["scorers"]) != sorted(self.columns):
            raise SegoodError(
                f"{self.path()} was written by a run with {meta.get('world')} processes and "
                f"scorers {meta.get('scorers')}; resume with the same settings or use a new "
                f"{option('out')}"
            )
        self.accs = _pooled_from_arrays(arrays, self.columns)
        self.images = set(meta["images"])
        return self.images

    def add(self, name: str, maps: dict, anomaly: np.ndarray, ignore: np.ndarray) -> Any:
        if name not in self.images:
            for col, score_map in maps.items():
                self.accs[col].add(score_map, anomaly, ignore)
            self.images.add(name)
        return None

    def save(self) -> None:
        arrays = {}
        for col, acc in self.accs.items():
            state = acc.state_dict()
            for key in ("pos_keys", "pos_counts", "neg_keys", "neg_counts"):
                arrays[f"{col}/{key}"] = state[key]
        meta = {"world": self.ev.job.world, "scorers": sorted(self.accs),
                "images": sorted(self.images)}  # fmt: skip
        save_npz(self.path(), arrays, meta)

    def merged(self) -> dict[str, PooledAccumulator]:
        """Every process's state merged: the pooled accumulators of the whole split."""
        merged = {col: PooledAccumulator() for col in self.columns}
        for path in sorted(self.ev.job.out.glob("pooled-rank*.npz")):
            for col, acc in _pooled_from_arrays(load_npz(path)[0], self.columns).items():
                merged[col].merge(acc)
        return merged

    def compute(self, records: dict[str, Any]) -> dict[str, Any]:
        return {col: acc.compute() for col, acc in self.merged().items()}


def _pooled_from_arrays(arrays: dict, columns: list[str]) -> dict[str, PooledAccumulator]:
    """Accumulators from `save`'s arrays ("<column>/<key>"; a column may hold "/")."""
    states: dict[str, dict] = {col: {} for col in columns}
    for key, value in arrays.items():
        col, part = key.rsplit("/", 1)
        if col in states:
            states[col][part] = value
    return {
        col: PooledAccumulator.from_state_dict({**s, "fpr_rule": "nearest", "ap_rule": "step"})
        for col, s in states.items()
    }


@register_protocol
class Components(Protocol):
    """SegmentMeIfYouCan sIoU gt / PPV / mean F1 at the best pooled pixel-F1 threshold, without
    the leaderboard's size filters (segood's exact variant)."""

    name = "components"
    ROWS = COMPONENT_ROWS

    @classmethod
    def requires(cls, job: Any) -> tuple[str, ...]:
        return () if job.component_threshold is not None else ("pooled",)

    def component_plan(self) -> dict[str, dict[str, Any]]:
        fixed = self.ev.job.component_threshold
        if fixed is not None:
            return {col: {"threshold": fixed} for col in self.columns}
        pooled = Pooled(self.ev).merged()
        return {col: {"threshold": best_f1_threshold(acc.rank_counts())}
                for col, acc in pooled.items()}  # fmt: skip

    def compute(self, records: dict[str, Any]) -> dict[str, Any]:
        return self.component_results(records)


class Smiyc(Protocol):
    """The SegmentMeIfYouCan leaderboard's own evaluation (`segood.evaluation.smiyc`): pixel
    AUPR / FPR95 from per-frame bins, components at the official threshold and size filters."""

    ROWS = SMIYC_ROWS
    in_all = False

    def arrays(self, maps: dict, anomaly: np.ndarray, ignore: np.ndarray) -> dict:
        return smiyc.frame_arrays(maps, anomaly, ignore)

    def pixel(self) -> dict[str, dict[str, Any]]:
        """Score column -> official pixel metrics over every stored image (all shards), once."""
        if not hasattr(self, "_pixel"):
            from segood.evaluation.runner import item_name

            dataset = self.ev.job.dataset
            wanted = {item_name(dataset, i) for i in range(len(dataset))}
            stored = ((a, m) for a, m in self.ev.store.read_all() if m["name"] in wanted)
            self._pixel = smiyc.pixel_results(stored, self.columns)
        return self._pixel

    def component_plan(self) -> dict[str, dict[str, Any]]:
        return {
            col: smiyc.component_settings(self.name, values["threshold"])
            for col, values in self.pixel().items()
        }

    def compute(self, records: dict[str, Any]) -> dict[str, Any]:
        parts = self.component_results(records)
        return {col: {**self.pixel()[col], **parts[col]} for col in self.columns}


@register_protocol
class SmiycAnomaly(Smiyc):
    name = "smiyc-anomaly"


@register_protocol
class SmiycObstacle(Smiyc):
    name = "smiyc-obstacle"
