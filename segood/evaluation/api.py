"""`evaluate`: a model's evaluation on one dataset or several, built from its config.

The config is a training config of `configs/` (an mmengine Python config): `model` gives the
network (`SegModel(model=PSPNet ...)`), `evaluation` the dataset it is evaluated on by default
(`dataset`, `data_root`, `split`, `fit_split`, optionally `scales`, `name`, and `fit` =
dict(dataset, data_root, split): the in-distribution data fitted scorers are fitted on).
`EvalOptions.dataset` / `data_root` / `split` evaluate other datasets instead. This module loads
the networks and builds one `ModelSource` per dataset; `jobs.run_datasets` runs them and writes
one report.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from segood.config import load_config
from segood.data.factory import dataset_class
from segood.errors import SegoodError
from segood.evaluation.benchmarks import DatasetSpec, has_class_labels, registered_name
from segood.evaluation.inference import AVERAGE_MODES, InferenceSettings
from segood.evaluation.jobs import build_jobs, excluded_classes, run_datasets
from segood.evaluation.model_source import ModelSource
from segood.evaluation.options import EvalOptions, as_list, option
from segood.evaluation.report import print_summary
from segood.models.description import network_config
from segood.scorers.registry import defaults_for

__all__ = ["EvalOptions", "evaluate", "load_config", "print_summary"]

REFERENCE_SCALES = (300, 375, 450, 525, 600)


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
            auto = "AutoEncoder" in differ[0]
            hint = f" (an autoencoder goes to {option('ae_checkpoint')})" if auto else ""
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
            notes.append(f"ae left out: no {option('ae_checkpoint')}")
        elif name == "branch" and not has_branch:
            notes.append(
                "branch left out: the model has no confidence branch and no "
                f"{option('branch_checkpoint')}"
            )
        else:
            names.append(name)
    return list(dict.fromkeys(names + options.extra_scorers)), notes


def evaluate(options: EvalOptions, rank: int = 0, world: int = 1) -> dict[str, Any] | None:
    """Run the evaluation of a model on every dataset of `options` (default: the config's
    `evaluation`); on rank 0 write one report over them and return the results."""
    cfg = load_config(options.config, options.cfg_options)  # data_root=DIR reaches `evaluation`
    spec = evaluation_block(cfg, options.config)
    targets = model_targets(options, spec)  # names, roots, splits: checked first
    device = options.device or default_device()
    nets = load_networks(cfg, options, device)
    names, notes = choose_scorers(options, nets.has_branch)
    check_scorer_options(options.scorer_options, names)
    settings = inference_settings(options, spec)

    def source_for(target: DatasetSpec, dataset: Any) -> ModelSource:
        built = build_scorers(names, options.scorer_options)
        fit = fit_dataset(spec, target, options, built)
        return ModelSource(
            model=nets.model,
            scorers=built,
            settings=settings,
            fit_dataset=fit,
            autoencoder=nets.autoencoder,
            branch_model=nets.branch_model,
            device=device,
            fit_images=options.fit_images,
            fingerprint=fit_fingerprint(options.checkpoint, fit),
            exclude_classes=excluded_classes(options.exclude_background, dataset),
            progress=options.progress and rank == 0,
        )

    jobs = build_jobs(options, targets, source_for, rank, world, nets.num_classes)
    for note in notes:
        print(f"note: {note}")
    record = {
        "config": options.config,
        "checkpoint": options.checkpoint,
        "ae_checkpoint": options.ae_checkpoint,
        "branch_checkpoint": options.branch_checkpoint,
        "scales": list(settings.short_sides),
        "full_resolution": settings.full_resolution,
        "average": settings.average,
        "mc_dropout_passes": settings.mc_passes,
        "device": device,
    }

    def describe(source: ModelSource) -> dict[str, Any]:
        return {**record, "scorer_settings": {n: repr(s) for n, s in source.scorers.items()}}

    return run_datasets(options, jobs, describe, rank)


@dataclass
class Networks:
    """The networks of a model run: the segmentation model and its optional helpers."""

    model: torch.nn.Module
    branch_model: torch.nn.Module | None = None
    autoencoder: torch.nn.Module | None = None

    @property
    def has_branch(self) -> bool:
        own = getattr(self.model, "confidence_head", None) is not None
        return own or self.branch_model is not None

    @property
    def num_classes(self) -> int | None:
        return getattr(self.model, "num_classes", None)


def load_networks(cfg: Any, options: EvalOptions, device: str) -> Networks:
    """The model of `--checkpoint` (the config's `model`, or the checkpoint's own description)
    and the confidence-branch model and autoencoder when their checkpoints are given."""
    model_cfg = network_config(cfg.model) if cfg.get("model") else None  # None: the checkpoint's
    nets = Networks(build_network(model_cfg, options.checkpoint, device))
    if options.branch_checkpoint:
        branch_cfg = config_in_checkpoint(options.branch_checkpoint) or (
            {**model_cfg, "confidence_branch": True} if model_cfg else None
        )
        nets.branch_model = build_network(branch_cfg, options.branch_checkpoint, device)
    if options.ae_checkpoint:
        ae_cfg = config_in_checkpoint(options.ae_checkpoint) or {"type": "AutoEncoder"}
        nets.autoencoder = build_network(ae_cfg, options.ae_checkpoint, device)
    return nets


def evaluation_block(cfg: Any, path: str) -> dict[str, Any]:
    if "evaluation" not in cfg:
        raise SegoodError(
            f"config {path} has no `evaluation` dict (dataset, data_root, split); "
            "use a config from configs/ or add one"
        )
    return dict(cfg.evaluation)


def model_targets(options: EvalOptions, spec: dict[str, Any]) -> list[DatasetSpec]:
    """The datasets `options` name, else the config's own (with `data_root` / `split` given
    in `options` overriding the config's)."""
    if options.dataset:
        return options.dataset_specs()
    roots, splits = as_list(options.data_root), as_list(options.split)
    if len(roots) > 1 or len(splits) > 1:
        raise SegoodError(
            f"several {option('data_root')} or {option('split')} values need the "
            f"{option('dataset')} they belong to, one each"
        )
    return [
        DatasetSpec(
            registered_name(spec["dataset"]),
            roots[0] if roots else str(spec["data_root"]),
            splits[0] if splits else str(spec.get("split", "test")),
            report=report_name(spec),
        )
    ]


def check_scorer_options(scorer_options: dict[str, Any], names: list[str]) -> None:
    unused = sorted(set(scorer_options) - set(names))
    if unused:
        raise SegoodError(
            f"{option('scorer_options')} names scorers that are not evaluated: {unused}; add "
            f"them with {option('scorers')} or {option('extra_scorers')}"
        )


def build_scorers(names: list[str], scorer_options: dict[str, dict[str, Any]]) -> dict[str, Any]:
    import segood.scorers as scorers

    return {name: scorers.get(name, **scorer_options.get(name, {})) for name in names}


def inference_settings(options: EvalOptions, spec: dict[str, Any]) -> InferenceSettings:
    """Scales (`options`, else the config's, else the reference's), averaging, MC passes."""
    scales = options.scales
    if scales is None:
        scales = tuple(spec.get("scales", REFERENCE_SCALES))
    full = options.full_resolution if options.full_resolution is not None else not scales
    if options.average not in AVERAGE_MODES:
        raise SegoodError(f"{option('average')} must be one of {AVERAGE_MODES}")
    return InferenceSettings(
        short_sides=tuple(scales),
        full_resolution=full,
        average=options.average,
        mc_passes=options.mc_passes,
    )


def fit_dataset(
    spec: dict[str, Any], target: DatasetSpec, options: EvalOptions, built: dict[str, Any]
) -> Any:
    """The in-distribution split fitted scorers (SML, KL matching, ...) are fitted on, or None
    if none is evaluated: the config's `evaluation.fit` (dataset, data_root, split), else the
    evaluated dataset's `evaluation.fit_split`. The road-anomaly benchmarks hold no
    in-distribution split of their own: their models' training data is named in `fit`."""
    import segood.scorers as scorers
    from segood.data import build_dataset

    if not any(isinstance(s, scorers.FittedScorer) for s in built.values()):
        return None
    fit = dict(spec.get("fit") or {})
    if fit:
        own_root = as_list(options.data_root)[:1] if not options.dataset else []
        root = fit.get("data_root") or (own_root or [spec["data_root"]])[0]
        name, split = fit["dataset"], fit.get("split", "validation")
    elif has_class_labels(dataset_class(target.name)):
        root, name, split = target.root, target.name, spec.get("fit_split", "validation")
    else:
        raise SegoodError(
            f"fitted scorers {sorted(built)} need in-distribution images, which {target.name} "
            "does not have: name the model's training data in the config, e.g. "
            "evaluation.fit=dict(dataset='cityscapes', data_root='data/cityscapes', split='train')"
        )
    try:
        return build_dataset(name, root, split)
    except SegoodError as err:
        raise SegoodError(f"fitted scorers need the {split} split of {name}: {err}") from None


def fit_fingerprint(checkpoint: str, fit: Any) -> dict[str, Any]:
    """What a cached fit depends on besides the scorer settings: the model and the fit data."""
    return {
        "checkpoint": os.path.abspath(checkpoint),
        "checkpoint_bytes": os.path.getsize(checkpoint),
        "checkpoint_mtime": os.path.getmtime(checkpoint),
        **({"dataset": type(fit).__name__, "fit_root": str(fit.root), "fit_split": fit.split}
           if fit is not None else {}),
    }  # fmt: skip


def report_name(spec: dict[str, Any]) -> str:
    """The name results are reported under: `evaluation.name` if the config gives one (data in
    a dataset's layout that is not that dataset, e.g. the demo's synthetic scenes), else the
    dataset. It names the results.json entry, the report folder and the plot files."""
    name = str(spec.get("name", spec["dataset"]))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise SegoodError(f"evaluation.name={name!r}: use letters, digits, '_', '-' and '.'")
    return name
