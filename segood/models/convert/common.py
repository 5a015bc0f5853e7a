"""What every converter shares: read a foreign state dict, rename its keys by rules, check the
result against the network it must fill (one error naming every problem), save atomically."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.io import atomic_write_bytes
from segood.models.state_dicts import (
    as_state_dict,
    read_weights_file,
    shape_mismatches,
    short_list,
)

Rule = tuple[str, str]  # (regex on the whole source key, replacement)


def read_foreign_state(path: str | Path, what: str, expected: str) -> dict[str, Tensor]:
    """A state dict from `path` (weights_only), unwrapped from 'state_dict' and 'module.'."""
    state = as_state_dict(read_weights_file(path, what), path, what, expected)
    while state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def rename(state: dict[str, Tensor], rules: Sequence[Rule]) -> tuple[dict[str, Tensor], list]:
    """Apply the first matching rule to each key -> (renamed state, keys that no rule maps)."""
    compiled = [(re.compile(pattern), repl) for pattern, repl in rules]
    out, unmapped = {}, []
    for key, value in state.items():
        for pattern, repl in compiled:
            if pattern.fullmatch(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            unmapped.append(key)
    return out, unmapped


def fit_to_model(
    state: dict[str, Tensor], model: torch.nn.Module, unmapped: dict[str, list[str]], source: str
) -> tuple[dict[str, Tensor], list[str]]:
    """Check `state` against `model`: every key mapped, every shape equal, nothing missing.

    BN `num_batches_tracked` counters that the source lacks (older PyTorch did not save them;
    they do not affect inference) are filled with 0 and returned by name. Any other problem is
    one `SegoodError` naming the keys. `unmapped`: file name -> its keys that no rule maps.
    """
    expected = model.state_dict()
    problems = [
        f"{len(keys)} keys of {name} map to nothing ({short_list(keys)})"
        for name, keys in unmapped.items()
        if keys
    ]
    extra = [k for k in state if k not in expected]
    if extra:
        problems.append(f"{len(extra)} keys the network lacks ({short_list(extra)})")
    bad = shape_mismatches(state, expected)
    if bad:
        detail = "; ".join(f"{k}: file {list(a)} vs network {list(b)}" for k, a, b in bad[:3])
        problems.append(f"{len(bad)} shape mismatches ({detail})")
    counters = [k for k in expected if k not in state and k.endswith("num_batches_tracked")]
    missing = [k for k in expected if k not in state and k not in counters]
    if missing:
        problems.append(f"{len(missing)} weights missing ({short_list(missing)})")
    if problems:
        raise SegoodError(f"cannot convert {source}: {'; '.join(problems)}")
    filled = {k: torch.zeros_like(expected[k]) for k in counters}
    return {k: v.contiguous() for k, v in {**state, **filled}.items()}, counters


def pspnet_d8(
    encoder: str, num_classes: int, stem_channels: list[int], aux_channels: int, aux_weight: float
) -> dict:
    """The description of a dilated (output stride 8) deep-stem PSPNet with a 512-wide PPM
    decoder, as CSAIL's and mmsegmentation's checkpoints hold it (a plain dict)."""
    return dict(
        type="PSPNet",
        encoder=encoder,
        stem="deep",
        stem_channels=stem_channels,
        num_classes=num_classes,
        output_stride=8,
        bins=[1, 2, 3, 6],
        decoder_channels=512,
        ppm_channels=512,
        dropout=0.1,
        aux_weight=aux_weight,
        aux_channels=aux_channels,
        confidence_branch=False,
    )


def save_converted(
    path: str | Path, state: dict[str, Tensor], model_cfg: dict[str, Any], source: dict
) -> Path:
    """Write {'state_dict', 'meta': {'model', 'converted_from'}} atomically (weights_only-safe)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise SegoodError(f"--out {path} is a folder; give a file name such as {path}/model.pth")
    payload = {"state_dict": state, "meta": {"model": model_cfg, "converted_from": source}}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as err:  # a parent that is a file, no permission, disk full
        raise SegoodError(
            f"cannot write --out {path}: {err.strerror or err}; choose another path"
        ) from None
    return path
