"""Loading trained model weights: an mmengine checkpoint ({'state_dict', 'meta', ...}) or a
bare state dict, with a 'module.'/'model.' prefix stripped, and clear errors for every way the
file can fail to fit the config."""

from pathlib import Path
from typing import NamedTuple

from torch import nn

from segood.errors import SegoodError
from segood.models.state_dicts import (
    as_state_dict,
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

    With strict=False, missing and unexpected keys are returned instead of raising (e.g. to
    evaluate a checkpoint saved without the auxiliary head); shape mismatches always raise.
    """
    what = "checkpoint"
    raw = read_weights_file(path, what)
    meta = raw.get("meta") if isinstance(raw, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    state = as_state_dict(raw, path, what, f"the weights of a {type(model).__name__}")
    expected = model.state_dict()
    state = strip_model_prefix(state, set(expected))

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
        detail = "; ".join(f"{k}: file {list(a)} vs model {list(b)}" for k, a, b in bad[:3])
        raise SegoodError(
            f"checkpoint {path} does not fit the model ({len(bad)} shape mismatches, e.g. "
            f"{detail}); use the config the checkpoint was trained with (encoder, channels)"
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
            f"the checkpoint was trained with (encoder, confidence_branch, aux_weight) or load "
            f"with strict=False"
        )
    model.load_state_dict(state, strict=False)
    return LoadResult(missing=missing, unexpected=unexpected, meta=meta)


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
