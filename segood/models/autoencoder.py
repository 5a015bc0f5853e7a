"""Convolutional autoencoder baseline of the CAOS paper: score = pixel reconstruction error.

A 4-level U-Net-shaped encoder-decoder with batch norm and a spatial latent code at 1/16, and
NO skip connection across the bottleneck (with skips it learns to copy its input, anomalies
included). It reconstructs the already-normalised input; sizes that are not a multiple of 16
are padded (replicate) and the output cropped back.
"""

from collections.abc import Sequence
from itertools import pairwise

import torch.nn.functional as F
from torch import Tensor, nn

from segood.errors import SegoodError
from segood.models.heads import conv_bn_relu
from segood.scorers.autoencoder import reconstruction_error  # noqa: F401  (the AE score)


def down_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Halve the resolution: 3x3 stride-2 conv + BN + ReLU, 3x3 conv + BN + ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
        *conv_bn_relu(out_ch, out_ch, 3),
    )


def up_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Double the resolution: 2x2 stride-2 transposed conv + BN + ReLU, 3x3 conv + BN + ReLU."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
        *conv_bn_relu(out_ch, out_ch, 3),
    )


class AutoEncoder(nn.Module):
    """`model(x)` -> reconstruction (B, C, H, W); `encode`/`decode` expose the latent code.

    Default channels 3 -> 32 -> 64 -> 128 -> 256, latent 32 channels at 1/16.
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: Sequence[int] = (32, 64, 128, 256),
        latent_channels: int = 32,
        loss: str = "mse",
    ):
        super().__init__()
        channels = tuple(channels)
        if len(channels) != 4:
            raise SegoodError(f"model.channels={channels!r} must list 4 widths, one per level")
        if loss not in ("mse", "l1"):
            raise SegoodError(f"model.loss={loss!r} must be 'mse' or 'l1'")
        self.loss = loss
        self.in_channels = in_channels
        self.stride = 2 ** len(channels)  # 16
        widths = (in_channels, *channels)
        self.encoder = nn.Sequential(*(down_block(a, b) for a, b in pairwise(widths)))
        # linear 1x1 projection to the latent code, and back
        self.to_latent = nn.Conv2d(channels[-1], latent_channels, 1)
        self.from_latent = conv_bn_relu(latent_channels, channels[-1], 1)
        widths = (*channels[::-1], channels[0])  # 256, 128, 64, 32, 32
        self.decoder = nn.Sequential(*(up_block(a, b) for a, b in pairwise(widths)))
        self.head = nn.Conv2d(channels[0], in_channels, 3, padding=1)

    def pad(self, x: Tensor) -> Tensor:
        """Pad right/bottom (replicate) to a multiple of 16."""
        h, w = x.shape[-2:]
        ph, pw = -h % self.stride, -w % self.stride
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x

    def encode(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> latent (B, L, ceil(H/16), ceil(W/16))."""
        return self.to_latent(self.encoder(self.pad(x)))

    def decode(self, z: Tensor, size: Sequence[int] | None = None) -> Tensor:
        """latent (B, L, h, w) -> (B, C, 16h, 16w), cropped to `size` if given."""
        out = self.head(self.decoder(self.from_latent(z)))
        if size is not None:
            out = out[..., : size[0], : size[1]]
        return out

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, C, H, W)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"AutoEncoder expects (B, {self.in_channels}, H, W) images, got {tuple(x.shape)}"
            )
        return self.decode(self.encode(x), x.shape[-2:])
