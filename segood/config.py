"""Reading an mmengine Python config, the one loader of training, evaluation and the tools.

`load_config(path, options)` reads the config (`_base_` inheritance) and applies `--cfg-options`
(dotted keys); a `data_root=...` option reaches every dataset and the `evaluation` record, and
`outlier_sprites=DIR` the cut-out folder of a config that pastes outliers
(`train_dataloader.dataset.transform.paste.folder`). What a config must hold for one use is
checked by that use (training: `segood.engine.runner.check_config`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segood.errors import SegoodError

if TYPE_CHECKING:
    from mmengine.config import Config

DATALOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


def load_config(path: str | Path, options: Mapping[str, Any] | None = None) -> Config:
    """Config.fromfile(path) + options (dotted keys), with one clear error if it fails."""
    from mmengine.config import Config

    path = Path(path)
    if not path.is_file():
        raise SegoodError(f"config file {path} does not exist; pass a file from configs/")
    if path.suffix != ".py":
        raise SegoodError(f"config file {path} must be a Python config (.py)")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as e:  # syntax errors, missing _base_ files, bad imports
        raise SegoodError(f"config file {path} could not be loaded: {type(e).__name__}: {e}") from e
    options = dict(options or {})
    if options:
        cfg.merge_from_dict(options)
    if "data_root" in options:
        set_data_root(cfg, options["data_root"])
    if "outlier_sprites" in options:
        set_outlier_sprites(cfg, options["outlier_sprites"], path)
    return cfg


def set_data_root(cfg: Config, data_root: str) -> None:
    """Point every dataset of the config (and the evaluation record) at `data_root`."""
    for key in DATALOADERS:
        loader = cfg.get(key)
        if loader and isinstance(loader.get("dataset"), Mapping):
            loader["dataset"]["data_root"] = data_root
    if isinstance(cfg.get("evaluation"), Mapping):
        cfg["evaluation"]["data_root"] = data_root


def set_outlier_sprites(cfg: Config, folder: str, path: str | Path) -> None:
    """Point the training set's paste transform at the cut-out folder `folder`."""
    transform = cfg.get("train_dataloader", {}).get("dataset", {}).get("transform") or {}
    if not isinstance(transform.get("paste"), Mapping):
        raise SegoodError(
            f"outlier_sprites={folder}: config {path} pastes no outliers (its "
            "train_dataloader.dataset.transform has no `paste`); use a configs/outlier/ config"
        )
    transform["paste"]["folder"] = str(folder)
