"""Training losses of the models as pure functions, plus the confidence branch's adaptive
lambda (a tiny stateful object with a state_dict so training resumes exactly)."""

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class ConfidenceLoss(NamedTuple):
    loss: Tensor  # nll + lam * penalty, what to backpropagate
    nll: Tensor  # NLL of the hinted prediction p'
    penalty: Tensor  # mean(-log c), compared against the budget by `AdaptiveLambda`


def confidence_branch_loss(
    logits: Tensor,
    confidence: Tensor,
    target: Tensor,
    lam: float,
    hint: Tensor | None = None,
    ignore_index: int = -1,
    eps: float = 1e-12,
    generator: torch.Generator | None = None,
) -> ConfidenceLoss:
    """Per-pixel confidence loss of DeVries & Taylor (2018).

    logits (B, K, H, W), confidence c (B, H, W) in (0, 1), target (B, H, W) class ids with
    `ignore_index` for ignored pixels. For samples with a hint (`hint` (B,) bool; drawn with
    probability 0.5 per sample if None) the prediction is pulled toward the label,
    p' = c * p + (1 - c) * y with y one-hot; samples without one keep p' = p. Then
    loss = NLL(log p') + lam * mean(-log c), both averaged over non-ignored pixels.
    c is clamped to [eps, 1 - eps] and p' to >= eps before the logs.
    """
    B, K = logits.shape[:2]
    if confidence.shape != target.shape or logits.shape[-2:] != target.shape[-2:]:
        raise ValueError(
            f"logits {tuple(logits.shape)}, confidence {tuple(confidence.shape)} and target "
            f"{tuple(target.shape)} must be (B, K, H, W), (B, H, W), (B, H, W)"
        )
    valid = target != ignore_index  # (B, H, W)
    if ((target[valid] < 0) | (target[valid] >= K)).any():
        raise ValueError(f"target holds ids outside [0, {K}) other than {ignore_index}")
    if hint is None:
        hint = torch.rand(B, generator=generator, device=logits.device) < 0.5
    hint = hint.to(device=logits.device, dtype=torch.bool).view(B, 1, 1)

    p = logits.float().softmax(dim=1)  # (B, K, H, W)
    c = confidence.float().clamp(eps, 1 - eps)  # (B, H, W)
    c_hinted = torch.where(hint, c, torch.ones_like(c))  # (B, H, W)
    y = F.one_hot(target.clamp(0, K - 1).long(), K).permute(0, 3, 1, 2).to(p.dtype)
    p_hinted = c_hinted.unsqueeze(1) * p + (1 - c_hinted.unsqueeze(1)) * y  # (B, K, H, W)
    p_true = (p_hinted * y).sum(dim=1).clamp_min(eps)  # (B, H, W)

    n = valid.sum().clamp_min(1)
    nll = -(p_true.log() * valid).sum() / n
    penalty = -(c.log() * valid).sum() / n
    return ConfidenceLoss(loss=nll + lam * penalty, nll=nll, penalty=penalty)


class AdaptiveLambda:
    """The confidence penalty's weight, adapted toward a budget (DeVries & Taylor 2018):
    after each step, penalty >= budget -> lam /= 0.99 (grow), else lam /= 1.01 (shrink)."""

    def __init__(self, lam: float = 0.1, budget: float = 0.3):
        self.lam = float(lam)
        self.budget = float(budget)

    def update(self, penalty: float | Tensor) -> float:
        """Adapt lam from this step's mean(-log c) and return the new value."""
        penalty = float(penalty)
        self.lam = self.lam / 0.99 if penalty >= self.budget else self.lam / 1.01
        return self.lam

    def state_dict(self) -> dict[str, float]:
        return {"lam": self.lam, "budget": self.budget}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.lam = float(state["lam"])
        self.budget = float(state["budget"])


def reconstruction_loss(x_hat: Tensor, x: Tensor, kind: str = "mse") -> Tensor:
    """Autoencoder loss: mean pixel MSE (or L1) between reconstruction and input."""
    if kind == "mse":
        return F.mse_loss(x_hat, x)
    if kind == "l1":
        return F.l1_loss(x_hat, x)
    raise ValueError(f"reconstruction loss kind={kind!r} must be 'mse' or 'l1'")
