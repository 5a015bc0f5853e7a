"""Per-pixel losses for training with outlier pixels (labelled `OUTLIER_INDEX` by the paste
transform), as pure functions, plus the rule that sets the energy margins from a model. The
same functions train classifiers (`segood.classification.energy_finetune`): logits (N, K) and
targets (N,) work as (B, K, H, W) and (B, H, W) do.

- Outlier exposure (Hendrycks, Mazeika and Dietterich, ICLR 2019), per pixel:
  CE over in-distribution pixels + weight * mean over outlier pixels of the cross-entropy to
  the uniform distribution, -mean_k log softmax_k(f).
- Energy-bounded learning (Liu, Wang, Owens and Li, NeurIPS 2020), per pixel:
  CE + weight * [mean_in relu(E - m_in)^2 + mean_out relu(m_out - E)^2], E = -logsumexp_k f_k
  (`segood.scorers.energy.energy`); in-distribution energies are pushed below m_in, outlier
  energies above m_out, so m_in < m_out.

In-distribution pixels are those whose label is neither `ignore_index` nor `outlier_index`;
each mean is over its own pixels of the whole batch, and a term with no pixels is 0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from segood.data.base import IGNORE_INDEX
from segood.data.paste import OUTLIER_INDEX
from segood.errors import SegoodError
from segood.scorers.energy import energy

OE_WEIGHT = 0.5  # lambda of Hendrycks et al. (ICLR 2019)
ENERGY_WEIGHT = 0.1  # Liu et al. (NeurIPS 2020)


class OutlierLoss(NamedTuple):
    loss: Tensor  # ce + weight * reg: what to backpropagate
    ce: Tensor  # cross-entropy over in-distribution pixels
    reg: Tensor  # the outlier term, unweighted


def _masks(target: Tensor, ignore_index: int, outlier_index: int) -> tuple[Tensor, Tensor]:
    outlier = target == outlier_index  # (B, H, W)
    inlier = (target != ignore_index) & ~outlier
    return inlier, outlier


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of `values` where `mask`; 0 (still attached to the graph) when the mask is empty."""
    return (values * mask).sum() / mask.sum().clamp_min(1)


def _ce_in(logits: Tensor, target: Tensor, inlier: Tensor, ignore_index: int) -> Tensor:
    """CE averaged over the in-distribution pixels (outliers handled as ignored)."""
    target = torch.where(inlier, target, torch.full_like(target, ignore_index))
    total = F.cross_entropy(logits.float(), target, ignore_index=ignore_index, reduction="sum")
    return total / inlier.sum().clamp_min(1)


def outlier_exposure_loss(
    logits: Tensor,
    target: Tensor,
    weight: float = OE_WEIGHT,
    ignore_index: int = IGNORE_INDEX,
    outlier_index: int = OUTLIER_INDEX,
) -> OutlierLoss:
    """CE_in + weight * mean_out(-mean_k log softmax_k f); logits (B, K, H, W), target (B, H, W)."""
    inlier, outlier = _masks(target, ignore_index, outlier_index)
    ce = _ce_in(logits, target, inlier, ignore_index)
    to_uniform = -logits.float().log_softmax(dim=1).mean(dim=1)  # (B, H, W)
    reg = _masked_mean(to_uniform, outlier)
    return OutlierLoss(ce + weight * reg, ce, reg)


def energy_bounded_loss(
    logits: Tensor,
    target: Tensor,
    m_in: float,
    m_out: float,
    weight: float = ENERGY_WEIGHT,
    ignore_index: int = IGNORE_INDEX,
    outlier_index: int = OUTLIER_INDEX,
) -> OutlierLoss:
    """CE_in + weight * [mean_in relu(E - m_in)^2 + mean_out relu(m_out - E)^2] per pixel."""
    check_margins(m_in, m_out)
    inlier, outlier = _masks(target, ignore_index, outlier_index)
    ce = _ce_in(logits, target, inlier, ignore_index)
    e = energy(logits.float())  # (B, H, W)
    reg = _masked_mean(F.relu(e - m_in).pow(2), inlier) + _masked_mean(
        F.relu(m_out - e).pow(2), outlier
    )
    return OutlierLoss(ce + weight * reg, ce, reg)


def check_margins(m_in: float, m_out: float) -> None:
    """SegoodError unless m_in < m_out are finite numbers."""
    if not (math.isfinite(m_in) and math.isfinite(m_out)) or m_in >= m_out:
        swapped = "; the two values look swapped" if m_in > m_out else ""
        raise SegoodError(
            f"energy margins m_in={m_in}, m_out={m_out}: need finite m_in < m_out (in-distribution "
            f"energies are pushed below m_in, outlier energies above m_out; e.g. m_in=-25, "
            f"m_out=-7){swapped}"
        )


def relative_margins(mean: float, std: float, k_in: float = 1.0, k_out: float = 1.0):
    """Margins from the in-distribution pixel energies of the model being fine-tuned:
    (m_in, m_out) = (mean - k_in * std, mean + k_out * std).

    Liu et al.'s CIFAR margins (m_in = -25, m_out = -7) are absolute values for one network;
    per-pixel segmentation energies sit on another scale (they grow with the logits, hence with
    training length and the number of classes), so the defaults are set relative to where the
    pre-trained model's in-distribution pixels are: below the mean by one standard deviation for
    in-distribution pixels (most are pulled down a little) and above it by one for outliers.
    """
    std = max(float(std), 1e-3)
    return float(mean) - k_in * std, float(mean) + k_out * std
