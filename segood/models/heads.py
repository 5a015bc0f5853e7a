"""PSPNet decode head (pyramid pooling) and the auxiliary FCN head on layer3."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segood.errors import SegoodError


def conv_bn_relu(in_ch: int, out_ch: int, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class PyramidPooling(nn.Module):
    """Pyramid pooling module: for each bin, adaptive avg pool -> 1x1 conv (no bias) to
    `branch_channels` -> BN -> ReLU, upsampled bilinearly (align_corners=False) to the input
    size, then concatenated after the input. `branch_channels` None = in/len(bins); the CAOS
    reference (CSAIL) and mmsegmentation use 512 at every depth (the same for ResNet-50/101)."""

    def __init__(
        self,
        in_channels: int,
        bins: Sequence[int] = (1, 2, 3, 6),
        branch_channels: int | None = None,
    ):
        super().__init__()
        self.bins = tuple(bins)
        branch_ch = branch_channels or in_channels // len(self.bins)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), *conv_bn_relu(in_channels, branch_ch, 1))
            for b in self.bins
        )
        self.out_channels = in_channels + branch_ch * len(self.bins)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, h, w) -> (B, out_channels, h, w)
        bn = self.stages[0][2]
        if bn.training and x.shape[0] == 1 and 1 in self.bins:
            raise SegoodError(
                "PSPNet got a batch of 1 image in training mode: the 1x1 pyramid-pooling bin "
                "then has one value per channel and BatchNorm cannot normalise it; use a batch "
                "of at least 2 images per process (the paper uses 2 per GPU) or call model.eval()"
            )
        size = x.shape[-2:]
        pooled = [
            F.interpolate(stage(x), size=size, mode="bilinear", align_corners=False)
            for stage in self.stages
        ]
        return torch.cat([x, *pooled], dim=1)


class PSPHead(nn.Module):
    """PPM -> 3x3 conv to `channels` + BN + ReLU (= `features`), then Dropout2d + 1x1 classifier
    (= `classify`). The split is the MC-dropout point: run `features` once, `classify` T times."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        channels: int = 512,
        bins: Sequence[int] = (1, 2, 3, 6),
        dropout: float = 0.1,
        ppm_channels: int | None = None,
    ):
        super().__init__()
        self.ppm = PyramidPooling(in_channels, bins, ppm_channels)
        self.bottleneck = conv_bn_relu(self.ppm.out_channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        self.channels = channels

    def features(self, x: Tensor) -> Tensor:  # (B, C4, h, w) -> (B, channels, h, w)
        return self.bottleneck(self.ppm(x))

    def classify(self, feats: Tensor) -> Tensor:  # (B, channels, h, w) -> (B, K, h, w)
        return self.classifier(self.dropout(feats))

    def forward(self, x: Tensor) -> Tensor:  # (B, C4, h, w) -> (B, K, h, w)
        return self.classify(self.features(x))


class FCNHead(nn.Module):
    """Auxiliary (deep supervision) head on layer3: 3x3 conv + BN + ReLU + Dropout2d + 1x1."""

    def __init__(
        self, in_channels: int, num_classes: int, channels: int = 256, dropout: float = 0.1
    ):
        super().__init__()
        self.conv = conv_bn_relu(in_channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:  # (B, C3, h, w) -> (B, K, h, w)
        return self.classifier(self.dropout(self.conv(x)))
