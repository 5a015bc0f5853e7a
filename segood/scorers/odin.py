"""ODIN: temperature scaling and input perturbation.

Liang, Li and Srikant, "Enhancing The Reliability of Out-of-distribution Image Detection in
Neural Networks", ICLR 2018. With S(x) = max_k softmax(f(x) / T)_k:
    x' = x - eps * sign(-grad_x log S(x))      (a step that raises the max softmax)
    score = -S(x') = -max_k softmax(f(x') / T)_k, higher = more anomalous.
T = 1000 and eps = 5e-5 are fixed defaults (as in the hold-out-class benchmark); both settable.

Segmentation: one image gets one perturbation, the signed gradient of sum_pixels log S(x)_pixel
(what a per-image ODIN does: every pixel's confidence pulls on the shared image), then every
pixel is scored on f(x'). For a classifier batch the sum runs over samples, whose gradients
do not mix (eval mode), so each sample gets its own ODIN perturbation.
eps is in the units of the normalised input the model receives; the ODIN reference code
divides the step by the per-channel std, i.e. measures eps in [0, 1] pixel units instead.

Compared with pytorch-ood 0.4.0's ODIN: the perturbation direction is the same (its loss, the
cross-entropy of f(x) / T against the predicted class averaged over samples and pixels, is
-log S(x) up to a positive factor, so the signed gradient is the same) and so is the score.
Its defaults differ: eps = 0.0014, OpenOOD's sweep value, against 5e-5 here, both with
T = 1000. Its eps is in the units of the input it receives when `norm_std` is not given (as
segood's); with `norm_std` it divides the step by each channel's std, so pytorch-ood's eps e
with norm_std = s equals segood's eps e / s_c per channel (for ImageNet's std about e / 0.226).

Gradient scorers require `model` (a callable, normalised inputs -> logits (N, C) or
(B, C, H, W)) and `inputs` (that batch); they run the model themselves: ODIN costs two forward
passes and one backward pass to the input. Memory: the model's activations for one forward +
backward on the batch (what training needs for it, without parameter gradients), plus two
copies of the input and two of the logits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import Scorer
from segood.scorers.energy import check_temperature
from segood.scorers.registry import register
from segood.scorers.temp_msp import temp_msp

Model = Callable[[Tensor], Tensor]


def logit_map(logits: Any) -> tuple[Tensor, bool]:
    """A model's logits as (B, C, H, W) (classifier (N, C) -> (N, C, 1, 1)) and was_2d.

    Keeps the autograd graph (no dtype change for float32/float64); NaN/Inf -> SegoodError.
    """
    if not isinstance(logits, Tensor):
        raise SegoodError(f"the model must return a logits tensor, got {type(logits).__name__}")
    if logits.ndim == 2:
        logits, was_2d = logits[..., None, None], True
    elif logits.ndim == 4:
        was_2d = False
    else:
        raise SegoodError(
            f"the model must return logits (N, C) or (B, C, H, W), got {tuple(logits.shape)}"
        )
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    if not torch.isfinite(logits.detach()).all():
        raise SegoodError("the model gave NaN/Inf logits; check its numerics before scoring")
    return logits, was_2d


def as_input_batch(inputs: Any) -> Tensor:
    """The input batch as a detached float tensor, checked for rank and finiteness."""
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(inputs)
    if not isinstance(inputs, Tensor) or inputs.ndim < 2:
        raise SegoodError("inputs must be a batch tensor (N, ...) of normalised model inputs")
    x = inputs.detach()
    if not torch.isfinite(x).all():
        raise SegoodError("inputs contain NaN/Inf values; check the preprocessing")
    return x if x.is_floating_point() else x.float()


def objective_gradient(
    model: Model, x: Tensor, objective: Callable[[Tensor], Tensor]
) -> tuple[Tensor, Tensor, bool]:
    """(objective (B, H, W) at x, d sum(objective) / dx, was_2d), one forward + one backward.

    The gradient is taken in two steps, objective -> logits -> x, so that a non-finite
    gradient at a saturated pixel (e.g. d/dp of (1 - p)^gamma at p = 1) is zeroed there instead
    of turning the whole input gradient into NaN: such a pixel does not steer the step.
    """
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits, was_2d = logit_map(model(x))
        values = objective(logits)  # (B, H, W)
        (grad_logits,) = torch.autograd.grad(values.sum(), logits)
        grad_logits = torch.nan_to_num(grad_logits, nan=0.0, posinf=0.0, neginf=0.0)
        (grad,) = torch.autograd.grad(logits, x, grad_outputs=grad_logits)
    return values.detach(), grad, was_2d


@torch.no_grad()
def score_at(model: Model, x: Tensor, score: Callable[[Tensor], Tensor]) -> tuple[Tensor, bool]:
    """score(logits of x) (B, H, W) without gradients, and was_2d."""
    logits, was_2d = logit_map(model(x))
    return score(logits), was_2d


def odin(model: Model, inputs: Tensor, temperature: float = 1000.0, eps: float = 5e-5) -> Tensor:
    """-max_k softmax(f(x') / T)_k with x' = x + eps * sign(grad_x sum log max softmax(f(x)/T)).

    Returns (N,) for a classifier, (B, H, W) for a segmentation model.
    """

    def log_max_softmax(logits: Tensor) -> Tensor:  # (B, C, H, W) -> (B, H, W)
        scaled = logits / temperature
        return scaled.amax(dim=1) - torch.logsumexp(scaled, dim=1)

    x = as_input_batch(inputs)
    _, grad, _ = objective_gradient(model, x, log_max_softmax)
    perturbed = x - eps * torch.sign(-grad)
    scores, was_2d = score_at(model, perturbed, lambda f: temp_msp(f, temperature))
    return scores[:, 0, 0] if was_2d else scores


def check_eps(scorer: str, eps: float) -> float:
    if isinstance(eps, bool) or not isinstance(eps, int | float):
        raise SegoodError(f"{scorer}: eps must be a number, got {eps!r}")
    if not (math.isfinite(eps) and eps >= 0):
        raise SegoodError(f"{scorer}: eps must be >= 0 and finite, got {eps}")
    return float(eps)


@register("odin")
class ODIN(Scorer):
    """-max softmax(f(x') / T) after one signed-gradient step raising it (Liang et al. 2018)."""

    requires = ("model", "inputs")
    passthrough = frozenset({"model", "inputs"})

    def __init__(self, temperature: float = 1000.0, eps: float = 5e-5) -> None:
        self.temperature = check_temperature("odin", temperature)
        self.eps = check_eps("odin", eps)

    def score(self, model: Model, inputs: Tensor) -> Tensor:
        if not callable(model):
            raise SegoodError("odin: `model` must be a callable mapping inputs to logits")
        return odin(model, inputs, self.temperature, self.eps).detach()
