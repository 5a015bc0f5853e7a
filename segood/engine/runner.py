"""Config loading and Runner construction shared by tools/train.py, the tests and the benchmark.

Configs are read by `segood.config.load_config` (re-exported by `segood.engine`).
`build_runner(cfg, ...)` checks the keys a training config needs (`check_config`), fills in
the work dir, the launcher and resume flag, adapts the
distributed backend (gloo without CUDA) and drops TensorBoard when it is not installed.

Fine-tuning: `load_from=CKPT` is where a fine-tuning run starts (weights only, loaded with
weights_only=True); `--resume` always continues from the work dir's last checkpoint. mmengine
itself would resume *from* `load_from` when both are set (restarting the fine-tuning from the
pre-trained model's iteration and optimizer), so `build_runner` drops `load_from` when the work
dir has a checkpoint to resume, and drops `resume` when it has none yet.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS
from mmengine.runner import Runner

from segood.arguments import LAUNCHERS, check_output_dir
from segood.config import DATALOADERS
from segood.engine.checkpoint import remove_stale_temporaries
from segood.errors import SegoodError, user_message


def check_config(cfg: Config, path: str | Path) -> None:
    """The keys a training config must have, and the numbers of its loop, named with the fix."""
    for key in ("model", "train_dataloader", "train_cfg", "optim_wrapper"):
        if key not in cfg:
            raise SegoodError(f"config {path} has no `{key}`; inherit a file of configs/_base_/")
    loop = cfg.train_cfg
    for key, kind in (("max_iters", int), ("max_epochs", (int, float)), ("val_interval", int)):
        value = loop.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
            what = "a positive integer" if kind is int else "a positive number"
            raise SegoodError(f"config {path}: train_cfg.{key}={value!r} must be {what}")


def build_runner(
    cfg: Config,
    work_dir: str | Path | None = None,
    resume: bool = False,
    launcher: str = "none",
    config_path: str | Path | None = None,
) -> Runner:
    """A Runner for `cfg`; the resolved config is dumped into the work dir by the Runner."""
    if launcher not in LAUNCHERS:
        raise SegoodError(f"--launcher {launcher!r} must be one of {LAUNCHERS}")
    check_config(cfg, config_path or cfg.filename)
    cfg = cfg.copy()
    if work_dir is not None:
        cfg.work_dir = str(work_dir)
    elif not cfg.get("work_dir"):
        stem = Path(config_path or cfg.filename or "segood").stem
        cfg.work_dir = str(Path("work_dirs") / stem)
    cfg.launcher = launcher
    if not cfg.get("experiment_name"):
        cfg.experiment_name = _unique_experiment_name(
            Path(config_path or cfg.filename or "run").stem
        )
    check_output_dir(cfg.work_dir, "--work-dir")
    if resume:
        _set_resume(cfg)
    if launcher != "none" and not torch.cuda.is_available():
        _cpu_distributed(cfg, launcher)
        if cfg.get("sync_bn"):
            print_log(
                "sync_bn needs CUDA; training on CPU processes without it",
                logger="current",
                level=logging.WARNING,
            )
            cfg.sync_bn = None
    _drop_missing_vis_backends(cfg)
    if isinstance(cfg.get("visualizer"), Mapping):  # named, so a failed build can close it
        cfg.visualizer.setdefault("name", cfg.experiment_name)
    check_datasets(cfg)
    fresh = _first_missing(Path(cfg.work_dir))
    try:
        runner = Runner.from_cfg(cfg)
    except BaseException as e:
        _close_visualizer(cfg.get("visualizer", {}).get("name"))  # its writer writes in work_dir
        if fresh is not None:  # a run that never started leaves no work dir behind
            shutil.rmtree(fresh, ignore_errors=True)
        if isinstance(e, KeyError | TypeError) and not isinstance(e, SegoodError):
            raise SegoodError(f"config {cfg.filename or config_path}: {user_message(e)}") from e
        raise
    runner.logger.addFilter(MMENGINE_NOISE)
    return runner


def _close_visualizer(name: str | None) -> None:
    """Close the visualizer a failed Runner built (its TensorBoard writer is a thread)."""
    from mmengine.visualization import Visualizer

    if name and Visualizer.check_instance_created(name):
        Visualizer.get_instance(name).close()


def _set_resume(cfg: Config) -> None:
    """--resume: continue from the work dir's last checkpoint, or start (fine-tuning) afresh
    when there is none yet; stale temporary files of a killed save are removed first."""
    remove_stale_temporaries(Path(cfg.work_dir))
    cfg.resume = True
    has_last = (Path(cfg.work_dir) / "last_checkpoint").is_file()
    if has_last and cfg.get("load_from"):
        cfg.load_from = None  # resume the fine-tuning run, not the pre-trained checkpoint
    elif not has_last:
        cfg.resume = False
        start = f"fine-tuning starts from {cfg.load_from}" if cfg.get("load_from") else (
            "training starts from iteration 0"
        )  # fmt: skip
        print_log(
            f"--resume: no checkpoint in {cfg.work_dir} yet (no last_checkpoint file); {start}",
            logger="current",
            level=logging.INFO,
        )


def check_datasets(cfg: Config) -> None:
    """Build every SegoodDataset of the config once, before the Runner writes anything: a wrong
    data_root, split or transform fails here with the dataset's own message."""
    from segood.engine.data import SegoodDataset

    for key in DATALOADERS:
        loader = cfg.get(key)
        dataset = loader.get("dataset") if isinstance(loader, Mapping) else None
        if not (isinstance(dataset, Mapping) and dataset.get("type") == "SegoodDataset"):
            continue
        try:
            SegoodDataset(**{k: v for k, v in dataset.items() if k != "type"})
        except TypeError as e:
            raise SegoodError(f"config {cfg.filename}: {key}.dataset: {e}") from e


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` (or `path` itself) that does not exist yet, if any."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


class DropMessages(logging.Filter):
    """Drops log records whose message starts with one of `prefixes`."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


# mmengine 0.10.7's own CheckpointHook and LoggerHook build a FileClient (kept for backward
# compatibility, then unused) whose disk backend is HardDiskBackend: both log a deprecation
# WARNING on every run, about mmengine's code, not the user's config.
MMENGINE_NOISE = DropMessages(
    '"FileClient" will be deprecated in future', '"HardDiskBackend" is the alias of "LocalBackend"'
)


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """MMDistributedDataParallel for CPU processes (DDP takes no device_ids there)."""

    def __init__(self, module: torch.nn.Module, device_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(module=module, device_ids=None, **kwargs)


def _cpu_distributed(cfg: Config, launcher: str) -> None:
    """Distributed training without CUDA (tests, CPU clusters): gloo, no device ids.

    mmengine's init_dist always calls torch.cuda.set_device, so the process group of a torchrun
    launch is created here; the Runner then finds it initialised."""
    cfg.setdefault("env_cfg", {}).setdefault("dist_cfg", {})["backend"] = "gloo"
    if not cfg.get("model_wrapper_cfg"):
        cfg.model_wrapper_cfg = dict(type="CPUDistributedDataParallel")
    if launcher == "pytorch" and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="gloo")


_RUNNERS_BUILT: dict[str, int] = {}


def _unique_experiment_name(stem: str) -> str:
    """`stem` for the first Runner of a config in this process, `stem-2`, ... after (mmengine
    appends the timestamp; its logger, visualizer and message hub are global instances keyed
    by the name, so two Runners built within one second must not share it)."""
    n = _RUNNERS_BUILT[stem] = _RUNNERS_BUILT.get(stem, 0) + 1
    return stem if n == 1 else f"{stem}-{n}"


def _drop_missing_vis_backends(cfg: Config) -> None:
    vis = cfg.get("visualizer")
    if not vis or not vis.get("vis_backends"):
        return
    if importlib.util.find_spec("tensorboard") is None:
        vis["vis_backends"] = [
            b for b in vis["vis_backends"] if b.get("type") != "TensorboardVisBackend"
        ]
