"""The scorer contract: shapes, dtypes and input checks shared by every scorer.

A scorer reads model outputs named in `requires` (by default only `logits`). Each output has
layout (B, C, H, W), or (N, C) for a classifier, which is scored as (N, C, 1, 1) and returned
as (N,). Outputs named in `stacked` carry a leading axis of T passes (MC dropout):
(T, B, C, H, W) or (T, N, C). The math lives in `score`, which always sees 4-D (or stacked 5-D)
float tensors: fp16/bf16 inputs are computed in float32, float64 stays float64. NaN or Inf in
any input raises `SegoodError`. numpy in -> numpy out; torch in -> torch out (same device).

The model outputs a scorer can ask for (what the evaluation produces, at image resolution):
`logits` (B, C, H, W); `features` (B, D, h, w) decoder features; `confidence` (B, 1, H, W) of
a confidence branch; `dropout_logits` (T, B, C, H, W) from T passes with dropout on; `image`
and `reconstruction` (B, 3, H, W), the normalised input and an autoencoder's output.

Gradient scorers (ODIN, PRO) run the model themselves: they require `model`, a callable that
maps a normalised input batch to logits ((N, C) or (B, C, H, W)), and `inputs`, that batch.
Outputs named in `passthrough` reach `score` exactly as given (no shape or dtype checks); a
scorer whose required outputs are all passed through returns its scores in their final layout,
the layout of the model's logits without the channel axis ((N,) or (B, H, W)).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from segood.errors import SegoodError


def _count_non_finite(x: Tensor, block: int = 1 << 20) -> int:
    """NaN/Inf count, `block` elements at a time: torch.isfinite's temporaries are about twice
    the input's size, which would dominate the memory of scoring a 720x1280 image."""
    flat = x.reshape(-1)  # a view for contiguous inputs
    return sum(int((~torch.isfinite(part)).sum()) for part in flat.split(block))


def _as_4d_float(name: str, value: Any, stacked: bool = False) -> tuple[Tensor, bool]:
    """(tensor (B, C, H, W) in float32/float64, was_2d). Validates rank and finiteness.

    With `stacked`, a leading passes axis is kept: (T, B, C, H, W) or (T, N, C) -> 5-D.
    """
    x = torch.as_tensor(value)
    lead = 1 if stacked else 0
    if x.ndim == 2 + lead:
        x, was_2d = x[..., None, None], True  # (N, C) -> (N, C, 1, 1)
    elif x.ndim == 4 + lead:
        was_2d = False
    else:
        want = "(T, B, C, H, W) or (T, N, C)" if stacked else "(B, C, H, W) or (N, C)"
        raise SegoodError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if x.shape[1 + lead] < 1:
        raise SegoodError(f"{name} has no channels (shape {tuple(x.shape)})")
    if x.dtype != torch.float64:  # ints, bool, fp16, bf16 -> float32
        x = x.to(torch.float32)
    bad = _count_non_finite(x)
    if bad:
        raise SegoodError(
            f"{name} contain {bad} NaN/Inf values out of {x.numel()}; scores would be "
            "meaningless. Check the model's numerics (e.g. fp16 overflow) before scoring."
        )
    return x, was_2d


class Scorer:
    """Base class: maps model outputs to anomaly scores, higher = more anomalous."""

    name: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ("logits",)
    stacked: ClassVar[frozenset[str]] = frozenset()
    passthrough: ClassVar[frozenset[str]] = frozenset()

    def __call__(self, logits: Any = None, /, **outputs: Any) -> Any:
        """Score one batch. `logits` may be passed positionally; other outputs by name."""
        inputs, was_2d, to_numpy = self._prepare(logits, outputs)
        self._check_ready()
        scores = self.score(**inputs)  # (B, H, W)
        if was_2d:
            scores = scores[:, 0, 0]  # (N,)
        return scores.cpu().numpy() if to_numpy else scores

    def score(self, **inputs: Tensor) -> Tensor:
        """The formula: 4-D float inputs -> (B, H, W) scores (passed-through inputs as given)."""
        raise NotImplementedError

    def _check_ready(self) -> None:
        """Raise if the scorer cannot score yet (e.g. not fitted)."""

    def _prepare(self, logits: Any, outputs: dict[str, Any]) -> tuple[dict, bool, bool]:
        if logits is not None:
            outputs = {"logits": logits, **outputs}
        missing = [k for k in self.requires if k not in outputs]
        if missing:
            raise SegoodError(
                f"scorer {self.name!r} needs model outputs {list(self.requires)}; missing {missing}"
            )
        data = [outputs[k] for k in self.requires if not callable(outputs[k])]
        to_numpy = bool(data) and isinstance(data[0], np.ndarray)
        inputs, layouts = {}, set()
        for key in self.requires:
            if key in self.passthrough:
                inputs[key] = outputs[key]
                continue
            inputs[key], was_2d = _as_4d_float(key, outputs[key], key in self.stacked)
            layouts.add(was_2d)
        if len(layouts) > 1:
            raise SegoodError(f"scorer {self.name!r}: inputs mix (N, C) and (B, C, H, W)")
        return inputs, layouts.pop() if layouts else False, to_numpy

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({settings})"


class FittedScorer(Scorer):
    """A scorer with statistics fitted on in-distribution data, accumulated batch by batch.

    `update(logits, mask=None)` adds a batch (mask (B, H, W) selects the pixels to use, e.g.
    to leave out padding or ignore pixels); the scorer can score once it has seen data. The
    fitted state is a dict of tensors: `state_dict()` / `load_state_dict()`, and `save(path)` /
    `load(path)` write and read it (atomic write; read with `weights_only=True`).

    With `resample_mask`, a mask (B, H', W') on another pixel grid than the first required
    output (e.g. the image's, for stride-8 decoder features) is resampled to that output's
    grid (nearest, pixel centres) instead of being rejected.
    """

    resample_mask: ClassVar[bool] = False

    def update(self, logits: Any = None, /, *, mask: Any = None, **outputs: Any) -> None:
        inputs, _, _ = self._prepare(logits, outputs)
        first = inputs[self.requires[0]]
        b, _, h, w = first.shape
        if mask is None:
            keep = torch.ones(b, h, w, dtype=torch.bool, device=first.device)
        else:
            keep = torch.as_tensor(mask, device=first.device).to(torch.bool)
            other_grid = keep.ndim == 3 and keep.shape[0] == b and keep.shape[1:] != (h, w)
            if self.resample_mask and other_grid:
                keep = F.interpolate(keep[:, None].float(), size=(h, w), mode="nearest-exact")
                keep = keep[:, 0] > 0.5
            if keep.numel() != b * h * w:
                raise SegoodError(
                    f"mask has shape {tuple(keep.shape)}; it must cover the {b} x {h} x {w} "
                    "scored pixels (or the N samples of (N, C) logits)"
                )
            keep = keep.reshape(b, h, w)
        self.accumulate(keep=keep, **inputs)

    def accumulate(self, keep: Tensor, **inputs: Tensor) -> None:
        """Add the statistics of the pixels where `keep` (B, H, W) is True."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Tensor]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        raise NotImplementedError

    @property
    def fitted(self) -> bool:
        raise NotImplementedError

    def _check_ready(self) -> None:
        if not self.fitted:
            raise SegoodError(
                f"scorer {self.name!r} is not fitted: call .update(logits) on "
                "in-distribution data first, or .load(path) a saved fit"
            )

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted state atomically (a crash never leaves a half-written file)."""
        from segood.io import atomic_write_path

        state = {"scorer": self.name, **{k: v.cpu() for k, v in self.state_dict().items()}}
        atomic_write_path(path, lambda tmp: torch.save(state, tmp))

    def load(self, path: str | os.PathLike) -> FittedScorer:
        """Read a state written by `save` into this scorer; returns self."""
        from segood.models.state_dicts import LOAD_ERRORS, unreadable_weights_error

        if not os.path.isfile(path):
            raise SegoodError(f"no fitted scorer state at {path}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except LOAD_ERRORS as err:
            raise unreadable_weights_error(
                path, "fitted scorer state", err, "delete it to fit the scorer again"
            ) from None
        if not isinstance(state, dict):
            raise SegoodError(f"{path} is not a fitted scorer state (no state dict inside)")
        saved = state.pop("scorer", None)
        if saved != self.name:
            raise SegoodError(f"{path} holds a fit of scorer {saved!r}, not {self.name!r}")
        self.load_state_dict(state)
        return self
