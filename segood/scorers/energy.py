"""Free energy.

Liu, Wang, Owens and Li, "Energy-based Out-of-distribution Detection", NeurIPS 2020.
Score = E(x) = -T * logsumexp_k(f_k / T), T = 1 by default; higher = more anomalous.
"""

import math

import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import Scorer
from segood.scorers.registry import register


def energy(logits: Tensor, temperature: float = 1.0) -> Tensor:  # (B,C,H,W) -> (B,H,W)
    """-T * logsumexp_k(f_k / T)."""
    return -temperature * torch.logsumexp(logits / temperature, dim=1)


def check_temperature(scorer: str, temperature: float) -> float:
    """The temperature as a float, or a SegoodError if it is not a positive finite number."""
    if isinstance(temperature, bool) or not isinstance(temperature, int | float):
        raise SegoodError(f"{scorer}: temperature must be a number, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise SegoodError(f"{scorer}: temperature must be positive and finite, got {temperature}")
    return float(temperature)


@register("energy")
class Energy(Scorer):
    """Free energy -T * logsumexp(f / T) (Liu et al., NeurIPS 2020)."""

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = check_temperature("energy", temperature)

    def score(self, logits: Tensor) -> Tensor:
        return energy(logits, self.temperature)
