"""PRO: perturbation-rectified scores (PRO-MSP, PRO-ENT, PRO-MSP-T, PRO-GEN).

Chen, Yeh, Mou and Gu, "Leveraging Perturbation Robustness to Enhance Out-of-Distribution
Detection", CVPR 2025 (Algorithm 1; code: github.com/wenxichen2746/Perturbation-Rectified-OOD-
Detection). The paper's score g is a confidence (higher = in-distribution: MSP, -entropy,
temperature-scaled MSP, -GEN). PRO searches the eps-ball for the lowest confidence with K
signed-gradient steps and keeps the minimum over all visited points:
    x_0 = x,  x_{k+1} = x_k - eps * sign(grad_x g(x_k)),  g* = min_{k=0..K} g(x_k).
The insight is that the confidence of OOD inputs drops faster under perturbation, so g*
separates them better. As an anomaly score s = -g (segood's "higher = more anomalous"):
    x_{k+1} = x_k + eps * sign(grad_x s(x_k)),  score = max_{k=0..K} s(x_k),
i.e. the steps RAISE the anomaly score, and the per-pixel maximum over steps is kept (the
paper's minimum of the confidence). The score functions are segood's own (`msp`, `entropy`,
`temp_msp`, `gen`), used as given: s = msp = -MSP, entropy, temp_msp, gen = G = -g.

Segmentation: the gradient of sum_pixels s(x)_pixel w.r.t. the image (one step per image, as
the reference code takes the gradient of the batch mean), and the maximum over steps per
pixel. A pixel with no finite score gradient (saturated softmax under GEN) does not steer the
step (see `odin.objective_gradient`).

Defaults (K and eps are tuned per dataset on validation data in the paper, eps over
{1e-5 .. 5e-3} and K over {1, 2, 3, 5}): K = 3 steps for all four (the reference PRO-GEN
code's default, mid-sweep); eps = 0.003 for PRO-MSP and PRO-MSP-T and 0.0014 for PRO-ENT (the
released configs' defaults), 1e-4 for PRO-GEN (the reference code's default). eps is in the
units of the normalised input, as in the reference code. PRO-MSP-T uses T = 1000 (segood's
`temp_msp` default; at the reference's default T = 1 it would equal PRO-MSP).

Cost and memory: K + 1 forward passes and K backward passes to the input; memory of one
forward + backward of the model on the batch (as ODIN), plus two input copies and the
running maximum (B, H, W).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import Scorer
from segood.scorers.energy import check_temperature
from segood.scorers.entropy import entropy
from segood.scorers.gen import GEN, gen
from segood.scorers.msp import msp
from segood.scorers.odin import Model, as_input_batch, check_eps, objective_gradient, score_at
from segood.scorers.registry import register
from segood.scorers.temp_msp import temp_msp


def pro(
    model: Model, inputs: Tensor, score: Callable[[Tensor], Tensor], eps: float, steps: int
) -> Tensor:
    """max_{k=0..K} s(x_k), x_{k+1} = x_k + eps * sign(grad_x sum s(x_k)); s maps logits
    (B, C, H, W) -> anomaly scores (B, H, W). Returns (N,) or (B, H, W) like the logits."""
    x = as_input_batch(inputs)
    best = None
    for _ in range(steps):
        values, grad, was_2d = objective_gradient(model, x, score)
        best = values if best is None else torch.maximum(best, values)
        x = x + eps * torch.sign(grad)
    values, was_2d = score_at(model, x, score)
    best = values if best is None else torch.maximum(best, values)
    return best[:, 0, 0] if was_2d else best


class PRO(Scorer):
    """Shared settings and checks of the four PRO scorers (K steps of size eps)."""

    requires = ("model", "inputs")
    passthrough = frozenset({"model", "inputs"})
    default_eps = 0.003

    def __init__(self, steps: int = 3, eps: float | None = None) -> None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise SegoodError(f"{self.name}: steps must be an integer >= 0, got {steps!r}")
        self.steps = steps
        self.eps = check_eps(self.name, self.default_eps if eps is None else eps)

    def base_score(self, logits: Tensor) -> Tensor:
        raise NotImplementedError

    def score(self, model: Model, inputs: Tensor) -> Tensor:
        if not callable(model):
            raise SegoodError(f"{self.name}: `model` must be a callable mapping inputs to logits")
        return pro(model, inputs, self.base_score, self.eps, self.steps).detach()


@register("pro_msp")
class ProMSP(PRO):
    """PRO-MSP: the largest -MSP over K signed-gradient steps raising it (Chen et al. 2025)."""

    def base_score(self, logits: Tensor) -> Tensor:
        return msp(logits)


@register("pro_entropy")
class ProEntropy(PRO):
    """PRO-ENT: the largest softmax entropy over K signed-gradient steps raising it."""

    default_eps = 0.0014

    def base_score(self, logits: Tensor) -> Tensor:
        return entropy(logits)


@register("pro_temp_msp")
class ProTempMSP(PRO):
    """PRO-MSP-T: the largest -max softmax(f / T) over K signed-gradient steps raising it."""

    def __init__(self, steps: int = 3, eps: float | None = None, temperature: float = 1000.0):
        super().__init__(steps, eps)
        self.temperature = check_temperature(self.name, temperature)

    def base_score(self, logits: Tensor) -> Tensor:
        return temp_msp(logits, self.temperature)


@register("pro_gen")
class ProGEN(PRO):
    """PRO-GEN: the largest generalized entropy G over K signed-gradient steps raising it."""

    default_eps = 1e-4

    def __init__(
        self, steps: int = 3, eps: float | None = None, gamma: float = 0.1, top_m: int = 100
    ) -> None:
        super().__init__(steps, eps)
        checked = GEN(gamma, top_m)  # the same setting checks as "gen"
        self.gamma, self.top_m = checked.gamma, checked.top_m

    def base_score(self, logits: Tensor) -> Tensor:
        return gen(logits, self.gamma, self.top_m)
