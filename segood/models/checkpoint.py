"""Loading trained model weights: an mmengine checkpoint ({'state_dict', 'meta', ...}), a
converted checkpoint (tools/convert_checkpoint.py) or a bare state dict, with a 'module.' /
'model.' prefix stripped, and clear errors for every way the file can fail to fit the model.

`load_network(path)` builds the network a checkpoint describes (see
`segood.models.description`) and loads it: no config needed.
"""

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from segood.errors import SegoodError
from segood.models.description import checkpoint_model_config
from segood.models.state_dicts import (
    as_state_dict,
    describe_mismatches,
    read_weights_file,
    shape_mismatches,
    short_list,
)


class LoadResult(NamedTuple):
    missing: list[str]
    unexpected: list[str]
    meta: dict


def load_model_weights(model: nn.Module, path: str | Path, strict: bool = True) -> LoadResult:
    """Load the checkpoint at `path` into `model` in place (weights_only=True, on the CPU).

    Strict by default: a key of the model missing from the file, or a key of the file that the
    model lacks, is an error naming them. With strict=False they are returned instead (for code
    that knows what it is doing); shape mismatches always raise.
    """
    return load_state(model, read_weights_file(path, "checkpoint"), path, strict)


def load_state(model: nn.Module, raw: object, path: str | Path, strict: bool = True) -> LoadResult:
    """`load_model_weights` for a checkpoint already read from `path` (`raw`)."""
    meta = raw.get("meta") if isinstance(raw, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    name = type(model).__name__
    state = as_state_dict(raw, path, "checkpoint", f"the weights of a {name}")
    expected = model.state_dict()
    state = strip_model_prefix(state, set(expected))
    if not set(state) & set(expected):
        guess = guess_network(state)
        raise SegoodError(
            f"checkpoint {path} holds none of the weights of a {name} (its keys start "
            f"{short_list(list(state), 3)}{f'; it looks like {guess}' if guess else ''}); "
            f"give a checkpoint of this model (e.g. an autoencoder goes to --ae-checkpoint)"
        )

    bad = shape_mismatches(state, expected)
    classifier = [b for b in bad if b[0].endswith("classifier.weight")]
    if classifier:
        key, got, want = classifier[0]
        raise SegoodError(
            f"checkpoint {path} has {got[0]} classes ({key} {list(got)}) but the config builds "
            f"{want[0]}; use the config the checkpoint was trained with or set "
            f"model.num_classes={got[0]}"
        )
    if bad:
        detail = describe_mismatches(bad)
        raise SegoodError(
            f"checkpoint {path} does not fit the model ({len(bad)} shape mismatches, e.g. "
            f"{detail}); use the config the checkpoint was trained with (encoder, stem, "
            f"channels)"
        )
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys ({short_list(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({short_list(unexpected)})")
        raise SegoodError(
            f"checkpoint {path} does not match the model: {'; '.join(parts)}; use the config "
            f"the checkpoint was trained with (encoder, stem, confidence_branch, aux_weight)"
        )
    model.load_state_dict(state, strict=False)
    return LoadResult(missing=missing, unexpected=unexpected, meta=meta)


def guess_network(state: dict) -> str | None:
    """What network `state` belongs to, by a key only that network has (prefixes ignored)."""
    keys = {k.removeprefix("module.").removeprefix("model.") for k in state}
    if "to_latent.weight" in keys:
        return "an AutoEncoder checkpoint"
    if "decode_head.classifier.weight" in keys:
        return "a PSPNet checkpoint"
    if "conv_last.4.weight" in keys or "layer4.0.conv1.weight" in keys:
        return "a CSAIL encoder or decoder file (convert it: tools/convert_checkpoint.py csail)"
    return None


def strip_model_prefix(state: dict, expected_keys: set[str]) -> dict:
    """Strip 'module.' (DDP) / 'model.' (a Runner wrapper) while that matches more keys."""
    while True:
        hits = len(expected_keys & state.keys())
        for prefix in ("module.", "model."):
            if all(k.startswith(prefix) for k in state):
                stripped = {k[len(prefix) :]: v for k, v in state.items()}
                if len(expected_keys & stripped.keys()) > hits:
                    state = stripped
                    break
        else:
            return state


def without_pretrained(cfg: dict) -> dict:
    """A model config that does not read ImageNet weights (a checkpoint overwrites them)."""
    return {**cfg, "pretrained": None} if "pretrained" in cfg else dict(cfg)


def load_network(path: str | Path, device: str | torch.device | None = None) -> nn.Module:
    """The network of a segood checkpoint, built from the checkpoint alone, in eval mode.

    Works for converted checkpoints (tools/convert_checkpoint.py) and for those of
    tools/train.py. `net(images (B, 3, H, W))` gives logits (B, C, H, W) at input resolution.
    """
    from segood.models.builder import build_model

    raw = read_weights_file(path, "checkpoint")
    cfg = checkpoint_model_config(raw)
    if cfg is None:
        raise SegoodError(
            f"checkpoint {path} does not say which network it holds (a bare state dict, no "
            f"model description); build the model from its config and use "
            f"load_model_weights, or pass the config to tools/eval_caos.py"
        )
    model = build_model(without_pretrained(cfg))
    load_state(model, raw, path)
    return model.to(device or "cpu").eval()
