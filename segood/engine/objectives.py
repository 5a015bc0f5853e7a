"""SegModel's training objectives for the main head, one small object each.

An objective maps the network's outputs and the labels at loss resolution to the loss terms
mmengine logs and sums (`loss_*` keys are summed, others only logged):
- `CrossEntropy`: CE over non-ignored pixels; a batch with outlier pixels is an error.
- `OutlierExposure`: CE over in-distribution pixels + weight * CE to uniform over outliers.
- `EnergyBounded`: CE + weight * squared hinges on the pixel energies; the margins are set
  from the first batch when not given and kept in the checkpoint's train state.
- `ConfidenceBranch`: DeVries & Taylor's loss; its lambda adapts after every step.
The formulas are pure functions of `segood.models.losses` and `segood.models.outlier_losses`,
which the classification code shares. Training state that must survive a resume is a
non-persistent float64 buffer (so the checkpoint's state dict stays the network's), handed to
`TrainStateHook` by `train_state()` / `load_train_state()`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from torch import Tensor, nn

from segood.errors import SegoodError
from segood.models import AdaptiveLambda, SegOutput, confidence_branch_loss
from segood.models.outlier_losses import (
    energy_bounded_loss,
    outlier_exposure_loss,
    relative_margins,
)
from segood.scorers.energy import energy


def ce_loss(logits: Tensor, target: Tensor, ignore_index: int) -> Tensor:
    """Cross-entropy averaged over non-ignored pixels; 0 (not NaN) if every pixel is ignored."""
    total = F.cross_entropy(logits.float(), target, ignore_index=ignore_index, reduction="sum")
    return total / (target != ignore_index).sum().clamp_min(1)


class Objective(nn.Module):
    """outputs, target (B, h, w) -> loss terms; no training state unless a subclass has one."""

    def __init__(self, ignore_index: int, outlier_index: int) -> None:
        super().__init__()
        self.ignore_index = ignore_index
        self.outlier_index = outlier_index

    def forward(self, out: SegOutput, target: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def train_state(self) -> dict[str, Any]:
        return {}

    def load_train_state(self, state: Mapping[str, Any]) -> None:
        del state

    def outlier_fraction(self, target: Tensor) -> Tensor:
        return (target == self.outlier_index).float().mean().detach()


class CrossEntropy(Objective):
    def __init__(self, ignore_index: int, outlier_index: int, num_classes: int) -> None:
        super().__init__(ignore_index, outlier_index)
        self.outlier_is_a_class = 0 <= outlier_index < num_classes

    def forward(self, out: SegOutput, target: Tensor) -> dict[str, Tensor]:
        if not self.outlier_is_a_class and bool((target == self.outlier_index).any()):
            raise SegoodError(
                f"the training labels hold outlier pixels ({self.outlier_index}, from "
                "transform.paste) but model.outlier is not set; add model.outlier="
                "dict(type='oe') or dict(type='energy'), or drop transform.paste"
            )
        return {"loss_ce": ce_loss(out.logits, target, self.ignore_index)}


class OutlierExposure(Objective):
    def __init__(self, ignore_index: int, outlier_index: int, weight: float) -> None:
        super().__init__(ignore_index, outlier_index)
        self.weight = float(weight)

    def forward(self, out: SegOutput, target: Tensor) -> dict[str, Tensor]:
        w = self.weight
        res = outlier_exposure_loss(out.logits, target, w, self.ignore_index, self.outlier_index)
        return {
            "loss_ce": res.ce,
            "loss_oe": w * res.reg,
            "outlier_frac": self.outlier_fraction(target),
        }


class EnergyBounded(Objective):
    def __init__(
        self,
        ignore_index: int,
        outlier_index: int,
        weight: float,
        m_in: float | None,
        m_out: float | None,
        k_in: float,
        k_out: float,
    ) -> None:
        super().__init__(ignore_index, outlier_index)
        self.weight, self.k_in, self.k_out = float(weight), float(k_in), float(k_out)
        # (m_in, m_out); NaN until set from the first batch (margins left None)
        margins = [float("nan") if m is None else float(m) for m in (m_in, m_out)]
        self.register_buffer(
            "margins", torch.tensor(margins, dtype=torch.float64), persistent=False
        )

    def forward(self, out: SegOutput, target: Tensor) -> dict[str, Tensor]:
        logits, w = out.logits, self.weight
        m_in, m_out = self.margins.tolist()  # one device sync per step
        if math.isnan(m_in) or math.isnan(m_out):
            self.set_margins(logits, target)
            m_in, m_out = self.margins.tolist()
        if math.isnan(m_in):  # no in-distribution pixel in the batch yet: nothing to learn
            return {"loss_ce": (logits * 0).sum()}
        res = energy_bounded_loss(
            logits, target, m_in, m_out, w, self.ignore_index, self.outlier_index
        )
        device = logits.device
        return {
            "loss_ce": res.ce,
            "loss_energy": w * res.reg,
            "outlier_frac": self.outlier_fraction(target),
            "m_in": torch.tensor(m_in, device=device),
            "m_out": torch.tensor(m_out, device=device),
        }

    @torch.no_grad()
    def set_margins(self, logits: Tensor, target: Tensor) -> None:
        """Margins from this batch's in-distribution pixel energies (all processes)."""
        inlier = (target != self.ignore_index) & (target != self.outlier_index)
        e = energy(logits.float())[inlier].double()
        stats = torch.stack([e.new_tensor(float(e.numel())), e.sum(), e.pow(2).sum()])
        if get_world_size() > 1:
            all_reduce(stats, op="sum")
        n, s, s2 = (float(v) for v in stats)
        if n == 0:
            return
        mean = s / n
        std = math.sqrt(max(s2 / n - mean * mean, 0.0))
        m_in, m_out = relative_margins(mean, std, self.k_in, self.k_out)
        self.margins.copy_(torch.tensor([m_in, m_out], dtype=torch.float64))
        print_log(
            f"energy margins from {int(n)} in-distribution pixels (mean energy {mean:.3f}, std "
            f"{std:.3f}): m_in={m_in:.3f}, m_out={m_out:.3f}",
            logger="current",
        )

    def train_state(self) -> dict[str, Any]:
        return {"energy_margins": [float(v) for v in self.margins]}

    def load_train_state(self, state: Mapping[str, Any]) -> None:
        if "energy_margins" in state:
            self.margins.copy_(torch.tensor(state["energy_margins"], dtype=torch.float64))


class ConfidenceBranch(Objective):
    def __init__(self, ignore_index: int, outlier_index: int, lam: float, budget: float) -> None:
        super().__init__(ignore_index, outlier_index)
        self.budget = float(budget)
        # float64 so the /0.99, /1.01 updates match AdaptiveLambda exactly
        self.register_buffer("lam", torch.tensor(float(lam), dtype=torch.float64), persistent=False)

    def forward(self, out: SegOutput, target: Tensor) -> dict[str, Tensor]:
        lam = float(self.lam)
        conf = confidence_branch_loss(
            out.logits, out.confidence, target, lam, ignore_index=self.ignore_index
        )
        self.update_lambda(conf.penalty.detach())
        return {
            "loss_conf": conf.loss,
            "conf_nll": conf.nll.detach(),
            "conf_penalty": conf.penalty.detach(),
            "conf_lambda": torch.tensor(lam, device=out.logits.device),
        }

    @torch.no_grad()
    def update_lambda(self, penalty: Tensor) -> None:
        """lambda /= 0.99 if the (all-process mean) penalty >= budget else /= 1.01."""
        penalty = penalty.float().clone()
        if get_world_size() > 1:
            all_reduce(penalty, op="mean")
        rule = AdaptiveLambda(float(self.lam), self.budget)
        self.lam.fill_(rule.update(penalty))

    def train_state(self) -> dict[str, Any]:
        return {"conf_lambda": float(self.lam)}

    def load_train_state(self, state: Mapping[str, Any]) -> None:
        if "conf_lambda" in state:
            self.lam.fill_(float(state["conf_lambda"]))
