"""`evaluate`: build the CAOS evaluation of one config from its parts and run it.

The config is a training config of `configs/` (an mmengine Python config): `model` gives the
network (`SegModel(model=PSPNet ...)`), `evaluation` the dataset (`dataset`, `data_root`,
`split`, `fit_split`, optionally `scales`). This module turns it and the command-line options
into an `EvalJob`, runs it, renders panels and writes the reports.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segood.config import load_config
from segood.errors import SegoodError
from segood.evaluation.inference import AVERAGE_MODES, InferenceSettings
from segood.evaluation.model_source import ModelSource
from segood.evaluation.prediction_files import ScoreWriter
from segood.evaluation.protocols import protocol_names
from segood.evaluation.report import format_table, render_panels, write_reports
from segood.evaluation.runner import EvalJob, Evaluation, item_name
from segood.models.description import network_config
from segood.scorers.registry import defaults_for

REFERENCE_SCALES = (300, 375, 450, 525, 600)


@dataclass
class EvalOptions:
    """The command line of tools/eval_caos.py, as data."""

    config: str
    checkpoint: str
    ae_checkpoint: str | None = None
    branch_checkpoint: str | None = None
    scorers: list[str] | None = None  # None = the CAOS scorers that can run, + extra
    extra_scorers: list[str] = field(default_factory=list)
    protocol: str = "caos"
    scales: tuple[int, ...] | None = None  # None = the config's, else the reference's
    full_resolution: bool | None = None
    average: str = "logits"
    mc_passes: int = 8
    out: str = "outputs/eval"
    resume: bool = False
    data_root: str | None = None
    max_images: int | None = None
    fit_images: int | None = None
    panels: int = 4
    component_threshold: float | None = None
    device: str | None = None
    cfg_options: dict[str, Any] | None = None
    scorer_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> kwargs
    progress: bool = True
    exclude_background: bool = False  # the reference's --exclude_back
    save_scores: bool = False
    save_dtype: str = "float16"
    save_format: str = "npz"


def build_network(model_cfg: dict | None, checkpoint: str, device: str) -> torch.nn.Module:
    """A network with the checkpoint's weights, every key matching, in eval mode.

    `model_cfg` is the config's model; None takes the checkpoint's own description (converted
    checkpoints and those of tools/train.py carry one), which a given config must agree with.
    """
    from segood.models import build_model
    from segood.models.checkpoint import load_state, without_pretrained
    from segood.models.description import checkpoint_model_config, disagreements
    from segood.models.state_dicts import read_weights_file

    if not Path(checkpoint).is_file():
        raise SegoodError(f"checkpoint {checkpoint} not found")
    raw = read_weights_file(checkpoint, "checkpoint")
    described = checkpoint_model_config(raw)
    if model_cfg is None and described is None:
        raise SegoodError(
            f"the config has no model and checkpoint {checkpoint} does not describe its network "
            f"(a bare state dict); use the config the checkpoint was trained with"
        )
    if model_cfg is not None and described is not None:
        differ = disagreements(model_cfg, described)
        if differ:
            hint = " (an autoencoder goes to --ae-checkpoint)" if "AutoEncoder" in differ[0] else ""
            raise SegoodError(
                f"checkpoint {checkpoint} holds another network than the config's model: "
                f"{'; '.join(differ)}{hint}; use the config the checkpoint was trained or "
                f"converted for, or a config without `model` to take the checkpoint's own"
            )
    model = build_model(without_pretrained(model_cfg or described))
    load_state(model, raw, checkpoint)
    return model.to(device).eval()


def config_in_checkpoint(path: str) -> dict | None:
    """The network config a checkpoint describes itself with (read without running code)."""
    from segood.models.description import checkpoint_model_config
    from segood.models.state_dicts import read_weights_file

    return checkpoint_model_config(read_weights_file(path, "checkpoint"))


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def choose_scorers(options: EvalOptions, has_branch: bool) -> tuple[list[str], list[str]]:
    """(scorers to run, notes on CAOS scorers left out and why)."""
    if options.scorers:
        return list(dict.fromkeys(options.scorers + options.extra_scorers)), []
    names, notes = [], []
    for name in defaults_for("caos"):
        if name == "ae" and not options.ae_checkpoint:
            notes.append("ae left out: no --ae-checkpoint")
        elif name == "branch" and not has_branch:
            notes.append(
                "branch left out: the model has no confidence branch and no --branch-checkpoint"
            )
        else:
            names.append(name)
    return list(dict.fromkeys(names + options.extra_scorers)), notes


def evaluate(options: EvalOptions, rank: int = 0, world: int = 1) -> dict[str, Any] | None:
    """Run the evaluation; on rank 0 write the reports and return the results."""
    import segood.scorers as scorers
    from segood.data import build_dataset

    cfg = load_config(options.config, options.cfg_options)
    if "evaluation" not in cfg:
        raise SegoodError(
            f"config {options.config} has no `evaluation` dict (dataset, data_root, split); "
            "use a config from configs/ or add one"
        )
    spec = dict(cfg.evaluation)
    device = options.device or default_device()
    dataset_name = spec["dataset"]
    name = report_name(spec)
    root = options.data_root or spec["data_root"]
    dataset = build_dataset(dataset_name, root, spec.get("split", "test"))
    fit_split = spec.get("fit_split", "validation")
    model_cfg = network_config(cfg.model) if cfg.get("model") else None  # None: the checkpoint's
    model = build_network(model_cfg, options.checkpoint, device)
    branch_model = None
    if options.branch_checkpoint:
        branch_cfg = config_in_checkpoint(options.branch_checkpoint) or (
            {**model_cfg, "confidence_branch": True} if model_cfg else None
        )
        branch_model = build_network(branch_cfg, options.branch_checkpoint, device)
    autoencoder = None
    if options.ae_checkpoint:
        ae_cfg = config_in_checkpoint(options.ae_checkpoint) or {"type": "AutoEncoder"}
        autoencoder = build_network(ae_cfg, options.ae_checkpoint, device)
    has_branch = getattr(model, "confidence_head", None) is not None or branch_model is not None
    names, notes = choose_scorers(options, has_branch)
    unused = sorted(set(options.scorer_options) - set(names))
    if unused:
        raise SegoodError(f"--set names scorers that are not evaluated: {unused}; add them with "
                          "--scorers or --extra-scorers")  # fmt: skip
    built = {name: scorers.get(name, **options.scorer_options.get(name, {})) for name in names}
    scales = (
        options.scales
        if options.scales is not None
        else tuple(spec.get("scales", REFERENCE_SCALES))
    )
    full = options.full_resolution if options.full_resolution is not None else not scales
    if options.average not in AVERAGE_MODES:
        raise SegoodError(f"--average must be one of {AVERAGE_MODES}")
    settings = InferenceSettings(
        short_sides=tuple(scales),
        full_resolution=full,
        average=options.average,
        mc_passes=options.mc_passes,
    )
    out = Path(options.out)
    fit_dataset = None
    if any(isinstance(s, scorers.FittedScorer) for s in built.values()):
        try:
            fit_dataset = build_dataset(dataset_name, root, fit_split)
        except SegoodError as err:
            raise SegoodError(f"fitted scorers need the {fit_split} split: {err}") from None
    fingerprint = {
        "checkpoint": os.path.abspath(options.checkpoint),
        "checkpoint_bytes": os.path.getsize(options.checkpoint),
        "checkpoint_mtime": os.path.getmtime(options.checkpoint),
        "dataset": dataset_name,
        "fit_split": fit_split,
    }
    source = ModelSource(
        model=model,
        scorers=built,
        settings=settings,
        fit_dataset=fit_dataset,
        autoencoder=autoencoder,
        branch_model=branch_model,
        device=device,
        fit_images=options.fit_images,
        fingerprint=fingerprint,
        exclude_classes=excluded_classes(options.exclude_background, dataset),
        progress=options.progress and rank == 0,
    )
    evaluation = Evaluation(job_for(options, dataset, source, out / name, rank, world))
    for note in notes:
        print(f"note: {note}")
    results = evaluation.run()
    if results is None:
        return None
    settings_record = {
        "config": options.config,
        "checkpoint": options.checkpoint,
        "ae_checkpoint": options.ae_checkpoint,
        "branch_checkpoint": options.branch_checkpoint,
        "dataset": dataset_name,
        "scorer_settings": {name: repr(scorer) for name, scorer in built.items()},
        "scales": list(settings.short_sides),
        "full_resolution": settings.full_resolution,
        "average": settings.average,
        "mc_dropout_passes": settings.mc_passes,
        "device": device,
    }
    return finish(evaluation, results, settings_record, options.panels)


def excluded_classes(exclude_background: bool, dataset: Any) -> tuple[int, ...]:
    """The class channels dropped before scoring: the background with --exclude-background."""
    return (int(dataset.background_id),) if exclude_background else ()


def job_for(options: Any, dataset: Any, source: Any, out: Path, rank: int, world: int) -> EvalJob:
    """The `EvalJob` of one dataset from the options shared by model and prediction runs."""
    writer = None
    if options.save_scores:
        writer = ScoreWriter(out / "scores", options.save_dtype, options.save_format)
    return EvalJob(
        dataset=dataset,
        source=source,
        out=out,
        protocols=(options.protocol,),
        resume=options.resume,
        max_images=options.max_images,
        component_threshold=options.component_threshold,
        rank=rank,
        world=world,
        progress=options.progress and rank == 0,
        save_scores=writer,
    )


def finish(
    evaluation: Evaluation, results: dict[str, Any], settings: dict[str, Any], panels: int
) -> dict[str, Any]:
    """Record the settings, draw the panels, write the reports (results.json last)."""
    job = evaluation.job
    out, dataset_name = job.out.parent, job.out.name
    results["settings"] = {
        **settings,
        "split": job.dataset.split,
        "scorers": list(evaluation.source.names),
        "protocols": list(job.protocols),
        "exclude_classes": evaluation.source.describe().get("exclude_classes", []),
        "fpr_rule": "nearest",
        "ap_rule": "step",
        "processes": job.world,
        **({"saved_scores": job.save_scores.describe()} if job.save_scores else {}),
    }
    if panels:
        panel_path = out / f"panels_{dataset_name}.png"
        _panels(evaluation, panels, panel_path)
        results["panels"] = str(panel_path)
    all_results = _merge_previous(out, {dataset_name: results})
    write_reports(all_results, out)
    return all_results


def report_name(spec: dict[str, Any]) -> str:
    """The name results are reported under: `evaluation.name` if the config gives one (data in
    a dataset's layout that is not that dataset, e.g. the demo's synthetic scenes), else the
    dataset. It names the results.json entry, the report folder and the plot files."""
    name = str(spec.get("name", spec["dataset"]))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise SegoodError(f"evaluation.name={name!r}: use letters, digits, '_', '-' and '.'")
    return name


def _merge_previous(out: Path, results: dict[str, Any]) -> dict[str, Any]:
    """Keep other datasets' entries of an earlier results.json in the same folder."""
    import json

    path = out / "results.json"
    if not path.exists():
        return results
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        return results
    merged = {k: v for k, v in previous.items() if k not in results and isinstance(v, dict)}
    merged.update(results)
    return merged


def _panels(evaluation: Evaluation, count: int, path: Path) -> None:
    """Heat-map panels for `count` images with anomalies, evenly spread over the split."""
    job = evaluation.job
    ds = job.dataset
    names = []
    for _, meta in evaluation.store.read_all():
        caos = meta["protocols"].get("caos")
        if caos is None or caos["skipped"] is None:
            names.append(meta["name"])
    if not names:
        return
    index_of = {item_name(ds, i): i for i in range(len(ds))}
    chosen = [names[int(i)] for i in np.linspace(0, len(names) - 1, min(count, len(names)))]
    rows = []
    for name in dict.fromkeys(chosen):
        item = ds[index_of[name]]
        scores = evaluation.source.scores(item).maps
        step = max(1, item["image"].shape[1] // 480)
        rows.append(
            {
                "image": item["image"][::step, ::step],
                "label": np.asarray(item["label"])[::step, ::step],
                "anomaly": np.asarray(ds.is_anomaly(item["label"]), dtype=bool)[::step, ::step],
                "scores": {k: v[::step, ::step] for k, v in scores.items()},
            }
        )
    render_panels(rows, list(getattr(ds, "PALETTE", [(0, 0, 0)])), path)


def print_summary(results: dict[str, Any], out: str) -> None:
    for protocol in protocol_names():
        if any(protocol in r for r in results.values()):
            print(format_table(results, protocol))
            print()
    for dataset, r in results.items():
        if "segmentation" in r:
            print(f"{dataset}: mIoU {100 * r['segmentation']['miou']:.1f}%, {r['images']} images")
    print(f"reports in {out}/: results.json, .csv, .md, roc_*.png, pr_*.png, panels_*.png")
    for dataset, r in results.items():
        saved = r.get("settings", {}).get("saved_scores")
        if saved:
            print(f"{dataset}: score maps saved in {saved['folder']}/<scorer>/ (evaluate them "
                  "with --predictions NAME=FOLDER)")  # fmt: skip
