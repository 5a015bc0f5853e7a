"""Temperature-scaled MSP.

The temperature of ODIN without its input perturbation: Liang, Li and Srikant, "Enhancing The
Reliability of Out-of-distribution Image Detection in Neural Networks", ICLR 2018 (T = 1000);
temperature scaling itself: Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern Neural
Networks", ICML 2017. Score = -max_k softmax(f / T)_k, higher = more anomalous.
"""

from torch import Tensor

from segood.scorers.base import Scorer
from segood.scorers.energy import check_temperature
from segood.scorers.msp import msp
from segood.scorers.registry import register


def temp_msp(logits: Tensor, temperature: float = 1000.0) -> Tensor:  # (B,C,H,W) -> (B,H,W)
    """-max_k softmax(f / T)_k (see `msp` for the float32-exact form)."""
    return msp(logits, temperature)


@register("temp_msp")
class TempMSP(Scorer):
    """-max_k softmax(f / T)_k, T = 1000 (ODIN's temperature, no perturbation)."""

    def __init__(self, temperature: float = 1000.0) -> None:
        self.temperature = check_temperature("temp_msp", temperature)

    def score(self, logits: Tensor) -> Tensor:
        return temp_msp(logits, self.temperature)
