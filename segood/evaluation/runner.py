"""The CAOS evaluation loop: images -> model outputs -> every scorer -> every protocol.

One forward pass per image and scale feeds all scorers (`inference.infer`); per-image results
are stored as they are computed (`store.ResultStore`), so a killed run resumes where it
stopped and a sharded run (one shard per process) merges exactly. Protocols:
- "caos": per-image AUROC / AUPR / FPR95 averaged over images (the reference's rules);
- "pooled": exact metrics over all pixels (bounded memory);
- "components": SegmentMeIfYouCan sIoU_gt / PPV / mean F1 at the best pooled pixel-F1
  threshold (needs "pooled" for the threshold, and a second pass over the images);
- "smiyc-anomaly", "smiyc-obstacle": the SegmentMeIfYouCan leaderboard's own evaluation
  (`segood.evaluation.smiyc`); named explicitly, not part of "all".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from segood.errors import SegoodError
from segood.evaluation import smiyc
from segood.evaluation.inference import InferenceSettings, image_seed, infer, reconstruct
from segood.evaluation.store import ResultStore, load_npz, safe_name, save_npz
from segood.metrics import PerImageAccumulator, PooledAccumulator
from segood.metrics.components import ComponentAccumulator, best_f1_threshold
from segood.metrics.segmentation import confusion_matrix, iou_per_class
from segood.progress import show_progress
from segood.scorers import FittedScorer, Scorer

PROTOCOLS = ("caos", "pooled", "components")  # what "all" runs
KNOWN_PROTOCOLS = (*PROTOCOLS, *smiyc.PROTOCOLS)


@dataclass
class EvalJob:
    """Everything one dataset's evaluation needs, already built."""

    dataset: Any  # a segood.data dataset (test split)
    model: torch.nn.Module
    scorers: dict[str, Scorer]
    out: Path
    settings: InferenceSettings = field(default_factory=InferenceSettings)
    protocols: tuple[str, ...] = ("caos",)
    fit_dataset: Any = None  # in-distribution split for fitted scorers
    autoencoder: torch.nn.Module | None = None
    branch_model: torch.nn.Module | None = None
    device: str = "cpu"
    resume: bool = False
    max_images: int | None = None
    fit_images: int | None = None
    curve_sample: int = 2000
    pooled_every: int = 50
    component_threshold: float | None = None
    fingerprint: dict[str, Any] = field(default_factory=dict)  # what the fits depend on
    rank: int = 0
    world: int = 1
    progress: bool = True


def normalize(image: np.ndarray, device: str) -> torch.Tensor:
    """HxWx3 uint8 RGB -> (1, 3, H, W) float, ImageNet mean/std (as the training transforms)."""
    from segood.data.transforms import IMAGENET_MEAN, IMAGENET_STD

    x = torch.from_numpy(np.ascontiguousarray(image)).to(device=device, dtype=torch.float32)
    x = x.permute(2, 0, 1)[None] / 255.0
    mean = torch.tensor(IMAGENET_MEAN, device=device)[None, :, None, None]
    std = torch.tensor(IMAGENET_STD, device=device)[None, :, None, None]
    return (x - mean) / std


def needed_outputs(scorers: dict[str, Scorer]) -> set[str]:
    return {key for scorer in scorers.values() for key in scorer.requires}


def logits_function(model: torch.nn.Module):
    """The `model` output of gradient scorers: a normalised image (B, 3, H, W) -> logits
    (B, C, H, W) at its own resolution, one scale, eval mode, gradients enabled."""

    def logits(x: torch.Tensor) -> torch.Tensor:
        if model.training:
            raise SegoodError("gradient scorers need the model in eval mode (model.eval())")
        with torch.enable_grad():
            return model(x)

    return logits


class Evaluation:
    """Runs an `EvalJob`; `run()` returns the results dict (on rank 0)."""

    def __init__(self, job: EvalJob) -> None:
        self.job = job
        self.needs = needed_outputs(job.scorers)
        self.store = ResultStore(job.out)
        self.timing = {"forward": 0.0, "scorers": 0.0, "metrics": 0.0, "images": 0}
        self._smiyc: dict[str, dict[str, Any]] | None = None  # official pixel results
        for protocol in job.protocols:
            if protocol not in KNOWN_PROTOCOLS:
                raise SegoodError(f"unknown protocol {protocol!r}; choose from {KNOWN_PROTOCOLS}")
        needs_pooled = "components" in job.protocols and job.component_threshold is None
        if needs_pooled and "pooled" not in job.protocols:
            job.protocols = (*job.protocols, "pooled")  # the component threshold comes from it
        self._check_requirements()

    # ----------------------------------------------------------------------------- set-up
    def _check_requirements(self) -> None:
        job = self.job
        if {"image", "reconstruction"} & self.needs and job.autoencoder is None:
            raise SegoodError(
                "scorer 'ae' needs an autoencoder: pass --ae-checkpoint (a checkpoint trained with "
                "an ae_* config), or leave 'ae' out of --scorers"
            )
        has_branch = getattr(job.model, "confidence_head", None) is not None
        if "confidence" in self.needs and not has_branch and job.branch_model is None:
            raise SegoodError(
                "scorer 'branch' needs a confidence branch: pass --branch-checkpoint (a model "
                "trained with a pspnet-conf_* config), or leave 'branch' out of --scorers"
            )

    def outputs(self, image: torch.Tensor, name: str) -> dict[str, Any]:
        """Every output the scorers need, for one normalised image.

        Gradient scorers (ODIN, PRO) get `model`, a function image -> logits (see
        `logits_function`), and `inputs`, the normalised image, and run the model themselves.
        """
        job, seed = self.job, image_seed(name)
        outputs: dict[str, Any] = infer(job.model, image, job.settings, self.needs, seed)
        if {"model", "inputs"} & self.needs:
            outputs["model"] = logits_function(job.model)
            outputs["inputs"] = image
        if "confidence" in self.needs and "confidence" not in outputs:
            outputs["confidence"] = infer(
                job.branch_model, image, job.settings, {"confidence"}, seed
            )["confidence"]
        if {"image", "reconstruction"} & self.needs:
            outputs.update(reconstruct(job.autoencoder, image))
        return outputs

    def score(self, outputs: dict[str, Any]) -> dict[str, np.ndarray]:
        """(H, W) float32 score map per scorer, at the image's (the logits') resolution.

        A map on another grid (feature scorers score the stride-8 decoder grid) is resized
        bilinearly (align_corners=False) to the image before any metric: the one place it is.
        """
        size = tuple(outputs["logits"].shape[-2:])
        maps = {}
        for name, scorer in self.job.scorers.items():
            scores = torch.as_tensor(scorer(**{k: outputs[k] for k in scorer.requires}))
            if tuple(scores.shape[-2:]) != size:
                scores = F.interpolate(
                    scores[:, None].float(), size=size, mode="bilinear", align_corners=False
                )[:, 0]
            maps[name] = scores[0].detach().float().cpu().numpy()
        return maps

    def fit(self) -> None:
        """Fit the fitted scorers on the in-distribution split, or load the cached fit.

        Rank 0 fits (or finds a valid cached fit) and saves it; the other ranks wait for it and
        load it, so every shard scores with the same statistics.
        """
        job = self.job
        fitted = {n: s for n, s in job.scorers.items() if isinstance(s, FittedScorer)}
        if not fitted:
            return
        cache = job.out.parent / "fits"
        key = {**job.fingerprint, "settings": repr(job.settings), "fit_images": job.fit_images}
        if job.rank == 0:
            stale = {
                name: scorer
                for name, scorer in fitted.items()
                if not (cache / f"{name}.json").exists()
                or _read_json(cache / f"{name}.json") != key
                or not (cache / f"{name}.pt").exists()
            }
            if stale:
                self._fit_on_in_distribution(stale)
                for name, scorer in stale.items():
                    scorer.save(cache / f"{name}.pt")
                    _write_json(cache / f"{name}.json", key)
        _barrier()
        for name, scorer in fitted.items():
            if not scorer.fitted:
                scorer.load(cache / f"{name}.pt")

    def _fit_on_in_distribution(self, pending: dict[str, FittedScorer]) -> None:
        job = self.job
        if job.fit_dataset is None:
            raise SegoodError(
                f"scorers {sorted(pending)} must be fitted on in-distribution data, but the "
                "dataset has no validation split to fit them on"
            )
        indices = range(len(job.fit_dataset))
        if job.fit_images is not None:
            indices = np.linspace(0, len(job.fit_dataset) - 1, min(job.fit_images, len(indices)))
            indices = sorted({int(i) for i in indices})
        needs = needed_outputs(pending)
        for index in show_progress(
            indices, desc=f"fit {','.join(pending)}", disable=not job.progress
        ):
            item = job.fit_dataset[index]
            image = normalize(item["image"], job.device)
            outputs = infer(job.model, image, job.settings, needs, image_seed(item["name"]))
            label = torch.as_tensor(item["label"], device=job.device)
            keep = (label >= 0) & (label < outputs["logits"].shape[1])
            for scorer in pending.values():
                scorer.update(**{k: outputs[k] for k in scorer.requires}, mask=keep[None])

    # ----------------------------------------------------------------------------- pass 1
    def my_indices(self) -> list[int]:
        n = len(self.job.dataset)
        if self.job.max_images is not None:
            n = min(n, self.job.max_images)
        return list(range(n))[self.job.rank :: self.job.world]

    def run(self) -> dict[str, Any] | None:
        job = self.job
        mine = {safe_name(item_name(job.dataset, i)) for i in self.my_indices()}
        if not job.resume and mine & self.store.done():
            raise SegoodError(
                f"{job.out} already holds results; pass --resume to continue that run, or choose "
                "another --out"
            )
        self.store.clear_temporaries()
        self.fit()
        self._first_pass()
        _barrier()
        plans = self._component_plans()
        if plans:
            self._component_pass(plans)
            _barrier()
        if job.rank != 0:
            return None
        return self.aggregate(plans)

    def _pooled_path(self) -> Path:
        return self.job.out / f"pooled-rank{self.job.rank}.npz"

    def _load_pooled(self) -> tuple[dict[str, PooledAccumulator], set[str]]:
        pooled = {name: PooledAccumulator() for name in self.job.scorers}
        path = self._pooled_path()
        if not (self.job.resume and path.exists()):
            return pooled, set()
        arrays, meta = load_npz(path)
        if meta.get("world") != self.job.world or sorted(meta["scorers"]) != sorted(pooled):
            raise SegoodError(
                f"{path} was written by a run with {meta.get('world')} processes and scorers "
                f"{meta.get('scorers')}; resume with the same settings or use a new --out"
            )
        for name in pooled:
            state = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{name}/")}
            pooled[name] = PooledAccumulator.from_state_dict(
                {**state, "fpr_rule": "nearest", "ap_rule": "step"}
            )
        return pooled, set(meta["images"])

    def _save_pooled(self, pooled: dict[str, PooledAccumulator], images: set[str]) -> None:
        arrays = {}
        for name, acc in pooled.items():
            state = acc.state_dict()
            for key in ("pos_keys", "pos_counts", "neg_keys", "neg_counts"):
                arrays[f"{name}/{key}"] = state[key]
        meta = {"world": self.job.world, "scorers": sorted(pooled), "images": sorted(images)}
        save_npz(self._pooled_path(), arrays, meta)

    def _first_pass(self) -> None:
        job = self.job
        use_pooled = "pooled" in job.protocols
        pooled, pooled_images = self._load_pooled() if use_pooled else ({}, set())
        done = self.store.done() if job.resume else set()

        def finished(name: str) -> bool:
            return self.store.is_done(name, done) and (not use_pooled or name in pooled_images)

        todo = [i for i in self.my_indices() if not finished(item_name(job.dataset, i))]
        bar = show_progress(todo, desc=f"eval {job.out.name}", unit="img", disable=not job.progress)
        since_save = 0
        for index in bar:
            item = job.dataset[index]
            name = item["name"]
            self._evaluate_image(item, {} if name in pooled_images else pooled)
            if use_pooled:
                pooled_images.add(name)
                since_save += 1
                if since_save >= job.pooled_every:
                    self._save_pooled(pooled, pooled_images)
                    since_save = 0
            bar.set_postfix(img_s=f"{self.timing['images'] / self._elapsed():.2f}")
        if use_pooled:
            self._save_pooled(pooled, pooled_images)

    def _elapsed(self) -> float:
        return max(self.timing["forward"] + self.timing["scorers"] + self.timing["metrics"], 1e-9)

    def _evaluate_image(self, item: dict, pooled: dict[str, PooledAccumulator]) -> None:
        """Score one image with every scorer and store its per-image results."""
        job, ds = self.job, self.job.dataset
        name, label = item["name"], np.asarray(item["label"])
        start = time.perf_counter()
        outputs = self.outputs(normalize(item["image"], job.device), name)
        t_forward = time.perf_counter()
        scores = self.score(outputs)
        t_scores = time.perf_counter()
        anomaly = np.asarray(ds.is_anomaly(label), dtype=bool)
        ignore = label == ds.ignore_index
        pick = _curve_pixels(anomaly, ignore, job.curve_sample, image_seed(name))
        pred = outputs["logits"][0].argmax(dim=0).cpu().numpy()
        picked_anomaly = anomaly.ravel()[pick]
        arrays = {
            "confusion": confusion_matrix(pred, label, outputs["logits"].shape[1]),
            "curve/is_anomaly": picked_anomaly,
            "curve/weight": _sample_weights(anomaly & ~ignore, ~anomaly & ~ignore, picked_anomaly),
        }
        per_image = PerImageAccumulator()
        metrics = {}
        for scorer_name, score_map in scores.items():
            metrics[scorer_name] = per_image.add(scorer_name, score_map, anomaly, ignore)
            if scorer_name in pooled:
                pooled[scorer_name].add(score_map, anomaly, ignore)
            arrays[f"curve/{scorer_name}"] = score_map.ravel()[pick]
        if set(smiyc.PROTOCOLS) & set(job.protocols):
            arrays.update(smiyc.frame_arrays(scores, anomaly, ignore))
        skipped = next(iter(per_image.skipped.values()), None)
        seconds = {
            "forward": t_forward - start,
            "scorers": t_scores - t_forward,
            "metrics": time.perf_counter() - t_scores,
        }
        self.store.write(name, arrays, {"metrics": metrics, "skipped": skipped, "seconds": seconds})
        for key, value in seconds.items():
            self.timing[key] += value
        self.timing["images"] += 1

    # ----------------------------------------------------------------------------- components
    def _component_thresholds(self) -> dict[str, float]:
        job = self.job
        if job.component_threshold is not None:
            return {name: job.component_threshold for name in job.scorers}
        merged = self._merged_pooled()
        return {name: best_f1_threshold(acc.rank_counts()) for name, acc in merged.items()}

    def _component_plans(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Protocol -> scorer -> ComponentAccumulator settings, for every component protocol."""
        plans: dict[str, dict[str, dict[str, Any]]] = {}
        if "components" in self.job.protocols:
            thresholds = self._component_thresholds()
            plans["components"] = {n: {"threshold": t} for n, t in thresholds.items()}
        tracks = [p for p in self.job.protocols if p in smiyc.PROTOCOLS]
        if tracks:
            pixel = self._smiyc_pixel()
            for protocol in tracks:
                plans[protocol] = {
                    n: smiyc.component_settings(protocol, r["threshold"]) for n, r in pixel.items()
                }
        return plans

    def _smiyc_pixel(self) -> dict[str, dict[str, Any]]:
        """Scorer -> official pixel metrics over every stored image (all shards), once."""
        if self._smiyc is None:
            wanted = {item_name(self.job.dataset, i) for i in range(len(self.job.dataset))}
            stored = ((a, m) for a, m in self.store.read_all() if m["name"] in wanted)
            self._smiyc = smiyc.pixel_results(stored, self.job.scorers)
        return self._smiyc

    def _component_pass(self, plans: dict[str, dict[str, dict[str, Any]]]) -> None:
        job, ds = self.job, self.job.dataset
        folder = job.out / "components"
        for index in show_progress(
            self.my_indices(), desc="components", unit="img", disable=not job.progress
        ):
            item = ds[index]
            path = folder / f"{safe_name(item['name'])}.npz"
            if job.resume and path.exists():
                _, meta = load_npz(path)
                if meta.get("plans") == plans:
                    continue
            label = np.asarray(item["label"])
            scores = self.score(self.outputs(normalize(item["image"], job.device), item["name"]))
            anomaly = np.asarray(ds.is_anomaly(label), dtype=bool)
            ignore = label == ds.ignore_index
            states: dict[str, dict[str, Any]] = {}
            for protocol, settings in plans.items():
                states[protocol] = {}
                for name, score_map in scores.items():
                    acc = ComponentAccumulator(**settings[name])
                    acc.add(item["name"], score_map, anomaly, ignore)
                    states[protocol][name] = acc.per_image[item["name"]]
            save_npz(path, {}, {"plans": plans, "states": states})

    # ----------------------------------------------------------------------------- results
    def _merged_pooled(self) -> dict[str, PooledAccumulator]:
        merged = {name: PooledAccumulator() for name in self.job.scorers}
        for path in sorted(self.job.out.glob("pooled-rank*.npz")):
            arrays, _ = load_npz(path)
            for name, acc in merged.items():
                state = {
                    k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{name}/")
                }
                acc.merge(
                    PooledAccumulator.from_state_dict(
                        {**state, "fpr_rule": "nearest", "ap_rule": "step"}
                    )
                )
        return merged

    def aggregate(self, plans: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
        """Merge every stored image (all shards) into the dataset's results."""
        job = self.job
        caos = {name: PerImageAccumulator() for name in job.scorers}
        confusion, curves_s, curves_y, curves_w = None, {n: [] for n in job.scorers}, [], []
        wanted = {item_name(job.dataset, i) for i in range(len(job.dataset))}
        n_images, seconds = 0, {}
        for arrays, meta in self.store.read_all():
            if meta["name"] not in wanted:
                continue
            n_images += 1
            for name in job.scorers:
                value = meta["metrics"].get(name)
                if value is None:
                    caos[name].skipped[meta["name"]] = meta.get("skipped") or "skipped"
                else:
                    caos[name].per_image[meta["name"]] = value
                curves_s[name].append(arrays[f"curve/{name}"])
            curves_y.append(arrays["curve/is_anomaly"])
            curves_w.append(arrays["curve/weight"])
            confusion = (
                arrays["confusion"] if confusion is None else confusion + arrays["confusion"]
            )
            for key, value in meta.get("seconds", {}).items():
                seconds[key] = seconds.get(key, 0.0) + value
        if n_images == 0:
            raise SegoodError(f"no evaluated image found in {self.store.images}")
        results: dict[str, Any] = {"images": n_images}
        if "caos" in job.protocols:
            if all(not acc.per_image for acc in caos.values()):
                raise SegoodError(
                    f"none of the {n_images} images of {job.out.name} has an anomalous pixel: the "
                    "CAOS protocol needs a split with anomalies (the test split)"
                )
            results["caos"] = {name: acc.compute() for name, acc in caos.items()}
        if "pooled" in job.protocols:
            results["pooled"] = {name: acc.compute() for name, acc in self._merged_pooled().items()}
        results.update(self._aggregate_components(plans))
        if set(smiyc.PROTOCOLS) & set(job.protocols):
            pixel = self._smiyc_pixel()
            for protocol in smiyc.PROTOCOLS:
                for name, values in results.get(protocol, {}).items():
                    results[protocol][name] = {**pixel[name], **values}
        ious = iou_per_class(confusion)
        classes = list(getattr(job.dataset, "CLASSES", []))[: len(ious)]
        results["segmentation"] = {
            "miou": float(np.nanmean(ious)),
            "iou": {
                c: (None if np.isnan(v) else float(v)) for c, v in zip(classes, ious, strict=False)
            },
        }
        labels, weights = np.concatenate(curves_y), np.concatenate(curves_w)
        results["curves"] = {
            name: (np.concatenate(curves_s[name]), labels, weights) for name in job.scorers
        }
        results["seconds_per_image"] = {k: v / n_images for k, v in seconds.items()}
        return results

    def _aggregate_components(self, plans: dict[str, dict[str, dict[str, Any]]]) -> dict:
        """Protocol -> scorer -> component metrics, from every image's component file."""
        accs = {
            protocol: {name: ComponentAccumulator(**kw) for name, kw in settings.items()}
            for protocol, settings in plans.items()
        }
        for path in sorted((self.job.out / "components").glob("*.npz")):
            _, meta = load_npz(path)
            if meta.get("plans") != plans:
                continue  # written under other thresholds or settings (an earlier run)
            for protocol, per_scorer in meta["states"].items():
                for name, (siou, ppv) in per_scorer.items():
                    accs[protocol][name].per_image[path.stem] = (siou, ppv)
        return {p: {n: acc.compute() for n, acc in a.items()} for p, a in accs.items()}


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


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _read_json(path: Path) -> Any:
    import json

    return json.loads(path.read_text())


def _write_json(path: Path, value: Any) -> None:
    import json

    from segood.evaluation.store import atomic_write_bytes

    atomic_write_bytes(path, lambda f: f.write(json.dumps(value, sort_keys=True).encode()))
