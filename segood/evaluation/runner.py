"""The evaluation loop: dataset items -> score maps (a source) -> every protocol -> results.

Score maps come from a `sources.ScoreSource` (a model run on the image, or files another
framework saved); the loop is the same for both. Per-image results are stored as they are
computed (`store.ResultStore`), so a killed run resumes where it stopped and a sharded run (one
shard per process) merges exactly. The protocols (`protocols.py`: "caos", "pooled",
"components", "smiyc-anomaly", ...) each add what they need per image and compute the dataset's
metrics; component metrics need a threshold from the first pass, so one second pass over the
images serves every protocol's component plan. What a
run was started with (score columns, scorer and source settings) is recorded in `run.json`;
`--resume` refuses a run whose settings differ, since mixing them would give silent garbage.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segood.errors import SegoodError
from segood.evaluation.inference import image_seed
from segood.evaluation.model_source import barrier, logits_function, normalize
from segood.evaluation.options import option
from segood.evaluation.protocols import protocol_class, resolve_protocols
from segood.evaluation.sources import ImageScores, ScoreSource
from segood.evaluation.store import ResultStore, load_meta, safe_name, save_npz
from segood.io import atomic_write_text
from segood.metrics.components import ComponentAccumulator
from segood.metrics.segmentation import confusion_matrix, iou_per_class
from segood.progress import show_progress

__all__ = ["EvalJob", "Evaluation", "item_name", "logits_function", "normalize"]


@dataclass
class EvalJob:
    """Everything one dataset's evaluation needs, already built."""

    dataset: Any  # a segood.data dataset (test split)
    source: ScoreSource
    out: Path
    protocols: tuple[str, ...] = ("caos",)
    resume: bool = False
    max_images: int | None = None
    curve_sample: int = 2000
    pooled_every: int = 50
    component_threshold: float | None = None
    rank: int = 0
    world: int = 1
    progress: bool = True
    save_scores: Any = None  # a prediction_files.ScoreWriter, or None
    segmentation: bool = True  # compute the mIoU (labels are the model's classes)


class Evaluation:
    """Runs an `EvalJob`; `run()` returns the results dict (on rank 0)."""

    def __init__(self, job: EvalJob) -> None:
        self.job = job
        self.source = job.source
        self.store = ResultStore(job.out)
        self.timing: dict[str, float] = {}
        self.plans: dict[str, dict[str, dict[str, Any]]] = {}  # protocol -> component plan
        self.labelled = getattr(job.dataset, "has_labels", True)  # else: scores saved only
        job.protocols = resolve_protocols(job.protocols, job)
        self.protocols = [protocol_class(name)(self) for name in job.protocols]

    def truth(self, label: Any) -> tuple[np.ndarray, np.ndarray]:
        """(anomaly, ignore) boolean maps of a class-id label."""
        label = np.asarray(label)
        anomaly = np.asarray(self.job.dataset.is_anomaly(label), dtype=bool)
        return anomaly, label == self.job.dataset.ignore_index

    def my_indices(self) -> list[int]:
        n = len(self.job.dataset)
        if self.job.max_images is not None:
            n = min(n, self.job.max_images)
        return list(range(n))[self.job.rank :: self.job.world]

    def run(self) -> dict[str, Any] | None:
        job = self.job
        done = self._check_previous_run()
        self._held = [protocol.begin() for protocol in self.protocols]
        todo = [i for i in self.my_indices() if not self._finished(item_name(job.dataset, i), done)]
        agree(lambda: self.source.check(job.dataset, todo))
        if job.rank == 0:
            atomic_write_text(self.run_file, self._run_record())
        self.store.clear_temporaries()
        self.source.prepare(job.out.parent / "fits", job.rank)
        self._first_pass(todo)
        barrier()
        self.plans = {p.name: plan for p in self.protocols if (plan := p.component_plan())}
        if self.plans:
            self._component_pass()
            barrier()
        return self.aggregate() if job.rank == 0 else None

    # ----------------------------------------------------------------------------- resume
    @property
    def run_file(self) -> Path:
        return self.job.out / "run.json"

    def _run_record(self) -> str:
        writer = self.job.save_scores
        record = {
            "columns": list(self.source.names),
            "source": self.source.describe(),
            "save_scores": writer.describe() if writer is not None else None,
        }
        return json.dumps(record, indent=1, sort_keys=True)

    def _check_previous_run(self) -> dict[str, set[str]]:
        """The finished images' protocols ({safe name: protocols}); refuse what cannot resume."""
        job, done = self.job, self.store.records()
        mine = {self.store.key(item_name(job.dataset, i)) for i in self.my_indices()}
        if not job.resume:
            if mine & set(done):
                raise SegoodError(
                    f"{job.out} already holds results; pass {option('resume')} to continue that "
                    f"run, or choose another {option('out')}"
                )
            return {}
        if done and not self.run_file.exists():
            raise SegoodError(
                f"{job.out} holds results of an older segood without run.json; evaluate into a "
                f"new {option('out')}"
            )
        if self.run_file.exists():
            self._compare_run(json.loads(self.run_file.read_text()), json.loads(self._run_record()))
        return done

    def _compare_run(self, before: dict, now: dict) -> None:
        if before["columns"] != now["columns"]:
            raise SegoodError(
                f"{self.job.out} was evaluated with scorers {before['columns']}; "
                f"{option('resume')} needs the same scorers, got {now['columns']}: resume with "
                f"{option('scorers', before['columns'])}, or evaluate into a new {option('out')}"
            )
        changed = _differences(before, now)
        if changed:
            raise SegoodError(
                f"{self.job.out} was evaluated with other settings ({', '.join(changed)} differ; "
                f"see {self.run_file}); {option('resume')} needs the same ones, or evaluate into "
                f"a new {option('out')}"
            )

    def _finished(self, name: str, done: dict[str, set[str]]) -> bool:
        stored = done.get(self.store.key(name))
        if stored is None or not set(self.job.protocols) <= stored:
            return False
        return all(name in h for h in self._held if h is not None)

    # ----------------------------------------------------------------------------- pass 1
    def _first_pass(self, todo: list[int]) -> None:
        job = self.job
        bar = show_progress(todo, desc=f"eval {job.out.name}", unit="img", disable=not job.progress)
        for count, index in enumerate(bar, start=1):
            self._evaluate_image(job.dataset[index])
            if count % job.pooled_every == 0:
                for protocol in self.protocols:
                    protocol.save()
            bar.set_postfix(img_s=f"{count / max(sum(self.timing.values()), 1e-9):.2f}")
        for protocol in self.protocols:
            protocol.save()

    def _evaluate_image(self, item: dict) -> None:
        """Score one image, let every protocol add it, and store its per-image results."""
        name = item["name"]
        start = time.perf_counter()
        scores = self.source.scores(item)
        t_scored = time.perf_counter()
        records, arrays = {}, {}
        if self.labelled:  # a split without labels: its scores are only saved
            label = np.asarray(item["label"])
            anomaly, ignore = self.truth(label)
            records = {p.name: p.add(name, scores.maps, anomaly, ignore) for p in self.protocols}
            arrays = self._curves_and_confusion(name, scores, label, anomaly, ignore)
            for protocol in self.protocols:
                arrays.update(protocol.arrays(scores.maps, anomaly, ignore))
        t_metrics = time.perf_counter()
        if self.job.save_scores is not None:
            self.job.save_scores.write(self.job.dataset, item, scores.maps)
        seconds = {
            **scores.seconds,
            "metrics": t_metrics - t_scored,
            **({"save": time.perf_counter() - t_metrics} if self.job.save_scores else {}),
        }
        if not scores.seconds:
            seconds["scores"] = t_scored - start
        self.store.write(name, arrays, {"protocols": records, "seconds": seconds})
        for key, value in seconds.items():
            self.timing[key] = self.timing.get(key, 0.0) + value

    def _curves_and_confusion(
        self, name: str, scores: ImageScores, label: np.ndarray, anomaly, ignore
    ) -> dict[str, np.ndarray]:
        """A pixel sample per score column (ROC / PR plots) and the confusion matrix."""
        pick = _curve_pixels(anomaly, ignore, self.job.curve_sample, image_seed(name))
        picked_anomaly = anomaly.ravel()[pick]
        arrays = {
            "curve/is_anomaly": picked_anomaly,
            "curve/weight": _sample_weights(anomaly & ~ignore, ~anomaly & ~ignore, picked_anomaly),
        }
        for column, score_map in scores.maps.items():
            arrays[f"curve/{column}"] = score_map.ravel()[pick]
        if scores.classes is not None and self.job.segmentation:
            arrays["confusion"] = confusion_matrix(scores.classes, label, scores.num_classes)
        return arrays

    # ----------------------------------------------------------------------------- pass 2
    def _component_pass(self) -> None:
        """sIoU / PPV of every component under every protocol's plan, one file per image; a
        resumed run keeps the files written under the same plans."""
        job = self.job
        for index in show_progress(self.my_indices(), desc="components", unit="img",
                          disable=not job.progress):  # fmt: skip
            item = job.dataset[index]
            path = job.out / "components" / f"{safe_name(item['name'])}.npz"
            if job.resume and path.exists() and load_meta(path).get("plans") == self.plans:
                continue
            maps = self.source.scores(item).maps
            anomaly, ignore = self.truth(item["label"])
            states: dict[str, dict[str, Any]] = {}
            for protocol, plan in self.plans.items():
                states[protocol] = {}
                for column, score_map in maps.items():
                    acc = ComponentAccumulator(**plan[column])
                    acc.add(item["name"], score_map, anomaly, ignore)
                    states[protocol][column] = acc.per_image[item["name"]]
            save_npz(path, {}, {"plans": self.plans, "states": states})

    # ----------------------------------------------------------------------------- results
    def aggregate(self) -> dict[str, Any]:
        """Merge every stored image (all shards) into the dataset's results."""
        job, columns = self.job, self.source.names
        wanted = {item_name(job.dataset, i) for i in range(len(job.dataset))}
        records: dict[str, dict] = {p.name: {} for p in self.protocols}
        curves: dict[str, list] = {key: [] for key in ["is_anomaly", "weight", *columns]}
        confusion, seconds, n_images = None, {}, 0
        for arrays, meta in self.store.read_all():
            if meta["name"] not in wanted:
                continue
            n_images += 1
            for protocol in self.protocols:
                records[protocol.name][meta["name"]] = meta["protocols"][protocol.name]
            for key, values in curves.items():
                if f"curve/{key}" in arrays:  # not for a split without labels
                    values.append(arrays[f"curve/{key}"])
            if "confusion" in arrays:
                c = arrays["confusion"]
                confusion = c if confusion is None else confusion + c
            for key, value in meta.get("seconds", {}).items():
                seconds[key] = seconds.get(key, 0.0) + value
        if n_images == 0:
            raise SegoodError(f"no evaluated image found in {self.store.images}")
        results: dict[str, Any] = {"images": n_images}
        for protocol in self.protocols:
            results[protocol.name] = protocol.compute(records[protocol.name])
        if confusion is not None:
            results["segmentation"] = _segmentation(confusion, job.dataset)
        if curves["is_anomaly"]:
            labels, weights = np.concatenate(curves["is_anomaly"]), np.concatenate(curves["weight"])
            results["curves"] = {c: (np.concatenate(curves[c]), labels, weights) for c in columns}
        results["seconds_per_image"] = {k: v / n_images for k, v in seconds.items()}
        return results


def _segmentation(confusion: np.ndarray, dataset: Any) -> dict[str, Any]:
    ious = iou_per_class(confusion)
    classes = list(getattr(dataset, "CLASSES", []))[: len(ious)]
    return {
        "miou": float(np.nanmean(ious)),
        "iou": {
            c: (None if np.isnan(v) else float(v)) for c, v in zip(classes, ious, strict=False)
        },
    }


def _differences(before: Any, now: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two JSON records."""
    if not (isinstance(before, dict) and isinstance(now, dict)):
        return [prefix.rstrip(".") or "value"] if before != now else []
    keys = sorted(set(before) | set(now))
    return [d for k in keys for d in _differences(before.get(k), now.get(k), f"{prefix}{k}.")]


def agree(check) -> None:
    """Run `check()` on every process; if any raised `SegoodError`, every process raises it,
    before any of them writes anything."""
    import torch.distributed as dist

    try:
        check()
        message = None
    except SegoodError as err:
        message = str(err)
    if dist.is_available() and dist.is_initialized():
        messages: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(messages, message)
        message = message or next((m for m in messages if m), None)
    if message:
        raise SegoodError(message)


def item_name(dataset: Any, index: int) -> str:
    """The name of item `index` without reading its files (segood datasets list their pairs)."""
    pairs = getattr(dataset, "pairs", None)
    return pairs[index].name if pairs is not None else dataset[index]["name"]


def _curve_pixels(anomaly: np.ndarray, ignore: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of up to `size` anomalous and `size` normal pixels, to plot ROC / PR curves."""
    rng = np.random.default_rng(seed)
    keep = ~ignore.ravel()
    flat = anomaly.ravel()
    pos, neg = np.flatnonzero(flat & keep), np.flatnonzero(~flat & keep)
    pick = [rng.choice(group, min(size, len(group)), replace=False) for group in (pos, neg)]
    return np.sort(np.concatenate(pick))


def _sample_weights(pos: np.ndarray, neg: np.ndarray, picked_anomaly: np.ndarray) -> np.ndarray:
    """Pixels each sampled pixel stands for, so sampled curves estimate the pooled ones."""
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    k_pos = int(picked_anomaly.sum())
    k_neg = len(picked_anomaly) - k_pos
    w_pos = n_pos / k_pos if k_pos else 0.0
    w_neg = n_neg / k_neg if k_neg else 0.0
    return np.where(picked_anomaly, w_pos, w_neg).astype(np.float32)
