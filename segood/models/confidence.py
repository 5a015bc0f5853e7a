"""Per-pixel confidence branch (DeVries & Taylor 2018, "Learning Confidence for
Out-of-Distribution Detection"): a sigmoid head c in (0, 1) on the decoder features; the anomaly
score is -c. Its training loss is `segood.models.losses.confidence_branch_loss`."""

import torch
from torch import Tensor, nn


class ConfidenceHead(nn.Module):
    """1x1 conv from the decoder features to one channel; returns the pre-sigmoid logit so the
    caller can upsample before the sigmoid (the sigmoid of a bilinear map stays in (0, 1))."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 1, 1)

    def forward(self, feats: Tensor) -> Tensor:  # (B, C, h, w) -> (B, 1, h, w) logit
        return self.conv(feats)


def confidence_from_logit(logit: Tensor) -> Tensor:  # (B, 1, H, W) -> (B, H, W)
    return torch.sigmoid(logit).squeeze(1)
