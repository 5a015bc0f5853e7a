"""The command line's config front: `segood.config.load_config` (the one reader: an mmengine
Python config with `_base_` inheritance, plus `--cfg-options`), and for training the checks of
`segood.engine.runner.check_config`, before anything is built or written."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmengine.config import Config


def load_config(
    path: str | Path, options: Mapping[str, Any] | None = None, training: bool = False
) -> Config:
    """`path` with `options` (dotted keys) merged in. `data_root=DIR` points every dataset of the
    config (and its `evaluation` record) at DIR and `outlier_sprites=DIR` the outlier paste
    folder; `training` also checks the keys and loop numbers a training run needs. A missing or
    broken file, or a bad value, is one SegoodError that names it."""
    from segood.config import load_config as read_config
    from segood.engine.runner import check_config

    cfg = read_config(path, options)
    if training:
        check_config(cfg, path)
    return cfg
