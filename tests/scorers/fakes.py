"""Fake model outputs for the scorer contract: every output a scorer can `require`.

All outputs are made from one logit map, so that they agree on what looks in-distribution
(a confident pixel, e.g. logits [0, 20, 0, ...]) and what does not (a uniform one):
- `dropout_logits`: T passes = the logits + unit Gaussian noise (a confident softmax hardly
  moves, a uniform one does);
- `confidence`: the max softmax probability (a confidence branch's c in (0, 1));
- `image` / `reconstruction`: a random image and that image + (1 - max softmax);
- `features`: the softmax-weighted mean of C class prototypes (D = 8) + N(0, SIGMA^2) noise,
  so a confident pixel sits near its class's prototype and a uniform one between them (the
  noise keeps the feature covariance full-rank, as real features are; a small SIGMA keeps
  single pixels on the right side of the fitted spread); `classifier` = (prototypes, zero
  bias), the (W (C, D), b (C,)) pair a 1x1 classifier gives;
- `model` / `inputs`: the identity model on the logits (gradient scorers run it).
Everything is float32 torch in the evaluation's layouts; the helpers below change the layout
(rows, 1x1 maps), the array type or the dtype of every output at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

PASSES = 3
FEATURE_CHANNELS = 8
SIGMA = 0.1


def identity_model(x: Tensor) -> Tensor:
    """A model whose logits are its inputs (differentiable, any layout)."""
    return x * 1.0


def prototypes(num_classes: int) -> Tensor:
    """Fixed class prototypes (C, D) in feature space."""
    g = torch.Generator().manual_seed(7)
    return torch.randn(num_classes, FEATURE_CHANNELS, generator=g)


def fake_outputs(
    logits: Tensor, seed: int = 3, keys: Iterable[str] | None = None
) -> dict[str, Any]:
    """The model outputs `keys` (default: all) for logits (B, C, H, W) (float32; NaN/Inf
    propagate). Each output draws its own seeded noise: it does not depend on `keys`."""
    b, c, h, w = logits.shape

    def randn(offset: int, *shape: int) -> Tensor:
        return torch.randn(*shape, generator=torch.Generator().manual_seed(seed + offset))

    def p_max() -> Tensor:  # (B, 1, H, W)
        return torch.softmax(logits, dim=1).amax(dim=1, keepdim=True)

    def features() -> Tensor:
        mean = torch.einsum("bchw,cd->bdhw", torch.softmax(logits, dim=1), prototypes(c))
        return mean + SIGMA * randn(2, b, FEATURE_CHANNELS, h, w)

    makers = {
        "logits": lambda: logits,
        "dropout_logits": lambda: logits + randn(1, PASSES, b, c, h, w),
        "confidence": p_max,
        "features": features,
        "classifier": lambda: (prototypes(c), torch.zeros(c)),
        "image": lambda: randn(3, b, 3, h, w),
        "reconstruction": lambda: randn(3, b, 3, h, w) + (1.0 - p_max()),
        "model": lambda: identity_model,
        "inputs": lambda: logits,
    }
    return {key: makers[key]() for key in (makers if keys is None else keys)}


def as_rows(outputs: dict[str, Any]) -> dict[str, Any]:
    """Maps (B, D, H, W) -> rows (B*H*W, D); stacked (T, B, C, H, W) -> (T, B*H*W, C)."""

    def rows(key: str, value: Any) -> Any:
        if callable(value) or key == "classifier":
            return value
        if key == "dropout_logits":
            return value.movedim(2, -1).reshape(value.shape[0], -1, value.shape[2])
        return value.movedim(1, -1).reshape(-1, value.shape[1])

    return {key: rows(key, value) for key, value in outputs.items()}


def convert(outputs: dict[str, Any], fn) -> dict[str, Any]:
    """`fn` applied to every tensor output (the classifier's two included), not the model."""

    def one(value: Any) -> Any:
        if callable(value):
            return value
        if isinstance(value, tuple):
            return tuple(fn(v) for v in value)
        return fn(value)

    return {key: one(value) for key, value in outputs.items()}


def to_numpy(outputs: dict[str, Any]) -> dict[str, Any]:
    return convert(outputs, lambda t: t.numpy())


def to_dtype(outputs: dict[str, Any], dtype: torch.dtype) -> dict[str, Any]:
    return convert(outputs, lambda t: t.to(dtype))


def with_bad_value(outputs: dict[str, Any], key: str, bad: float) -> dict[str, Any]:
    """`outputs` with one element of output `key` set to `bad` (for `model`: in its logits)."""
    out = dict(outputs)
    if key == "model":
        model = outputs["model"]

        def spoiled(x: Tensor) -> Tensor:
            logits = model(x).clone()
            logits.view(-1)[-1] = bad
            return logits

        out["model"] = spoiled
    elif key == "classifier":
        weight, bias = outputs["classifier"]
        weight = weight.clone()
        weight.view(-1)[-1] = bad
        out["classifier"] = (weight, bias)
    else:
        value = outputs[key].clone(memory_format=torch.contiguous_format)
        value.view(-1)[value.numel() // 2] = bad
        out[key] = value
    return out
