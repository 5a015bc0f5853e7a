"""Deep-stem dilated ResNet: the encoder of CSAIL's semantic-segmentation-pytorch (which the CAOS
reference trains with) and of mmsegmentation's ResNetV1c.

Layout, as those codebases build it (read from their sources; written here in our own words):
- Deep stem: three 3x3 convs (stride 2, 1, 1) with BN + ReLU after each, widths
  `stem_channels` = (64, 64, 128) for CSAIL, (32, 32, 64) for mmsegmentation's V1c; then a 3x3
  max-pool with stride 2. layer1 takes `stem_channels[-1]` channels.
- Blocks: BasicBlock (ResNet-18/34) or Bottleneck (ResNet-50/101/152) with the stride on the
  3x3 conv ("pytorch" style); a 1x1 conv + BN shortcut where the shape changes.
- Dilation (output stride 8: layer3 rate 2, layer4 rate 4; output stride 16: layer4 rate 2):
  a dilated layer keeps stride 1; in its first block the 3x3 conv that would have been strided
  gets half the rate and every other 3x3 conv gets the full rate (CSAIL's `_nostride_dilate`,
  mmsegmentation's `contract_dilation`). Padding equals the dilation, so sizes are kept.
  (smp's torchvision encoder, used for `stem="torchvision"`, dilates every conv of a layer at
  the full rate instead; the two are different networks.)
- BatchNorm eps 1e-5, momentum 0.1 (CSAIL's synchronized BN and mmsegmentation's SyncBN).

State-dict names follow CSAIL: conv1/bn1, conv2/bn2, conv3/bn3 for the stem, then layer1..4,
each block conv1/bn1, conv2/bn2[, conv3/bn3], downsample.0/.1 (torchvision's block names).
"""

from collections.abc import Sequence

from torch import Tensor, nn

from segood.errors import SegoodError

# blocks per layer and block type per depth
DEPTHS: dict[int, tuple[str, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
CSAIL_STEM = (64, 64, 128)
# (layer3 rate, layer4 rate) per output stride
RATES = {8: (2, 4), 16: (1, 2), 32: (1, 1)}


def conv3x3(in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        in_ch, out_ch, 3, stride=stride, padding=dilation, dilation=dilation, bias=False
    )


class BasicBlock(nn.Module):
    """3x3 (stride, `entry_dilation`) + BN + ReLU, 3x3 (`dilation`) + BN, + shortcut, ReLU."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        entry_dilation: int = 1,
        downsample: nn.Module | None = None,
    ):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, entry_dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 + BN + ReLU, 3x3 (stride, `entry_dilation`) + BN + ReLU, 1x1 (x4) + BN, + shortcut."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        entry_dilation: int = 1,
        downsample: nn.Module | None = None,
    ):
        super().__init__()
        del dilation  # a bottleneck has one 3x3 conv: the entry conv
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride, entry_dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def make_layer(block: type, inplanes: int, planes: int, blocks: int, stride: int, rate: int):
    """One ResNet layer; with rate > 1 it keeps stride 1 and dilates (see the module doc)."""
    out_ch = planes * block.expansion
    downsample = None
    if stride != 1 or inplanes != out_ch:
        conv_stride = stride if rate == 1 else 1
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, out_ch, 1, stride=conv_stride, bias=False),
            nn.BatchNorm2d(out_ch),
        )
    entry = max(rate // 2, 1) if stride != 1 else rate  # the would-be strided conv
    first = block(inplanes, planes, stride if rate == 1 else 1, rate, entry, downsample)
    rest = (block(out_ch, planes, 1, rate, rate) for _ in range(blocks - 1))
    return nn.Sequential(first, *rest)


class DeepStemResNet(nn.Module):
    """`encoder(x)` -> [layer1, layer2, layer3, layer4] maps; layer3/4 at 1/`output_stride`."""

    def __init__(
        self,
        depth: int = 101,
        stem_channels: Sequence[int] = CSAIL_STEM,
        output_stride: int = 8,
    ):
        super().__init__()
        if depth not in DEPTHS:
            raise SegoodError(f"ResNet depth {depth} is not supported; use one of {list(DEPTHS)}")
        stem = tuple(int(c) for c in stem_channels)
        if len(stem) != 3 or min(stem) < 1:
            raise SegoodError(
                f"model.stem_channels={tuple(stem_channels)!r} must be 3 positive widths, e.g. "
                f"{CSAIL_STEM} (CSAIL) or (32, 32, 64) (mmsegmentation's ResNetV1c)"
            )
        if output_stride not in RATES:
            raise SegoodError(
                f"model.output_stride={output_stride!r} is not supported; use one of "
                f"{tuple(RATES)} (the paper uses 8)"
            )
        kind, counts = DEPTHS[depth]
        block = BLOCKS[kind]
        self.conv1, self.bn1 = conv3x3(3, stem[0], stride=2), nn.BatchNorm2d(stem[0])
        self.conv2, self.bn2 = conv3x3(stem[0], stem[1]), nn.BatchNorm2d(stem[1])
        self.conv3, self.bn3 = conv3x3(stem[1], stem[2]), nn.BatchNorm2d(stem[2])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        rate3, rate4 = RATES[output_stride]
        widths = (64, 128, 256, 512)
        strides = (1, 2, 2, 2)
        rates = (1, 1, rate3, rate4)
        inplanes = stem[2]
        for index, (planes, n, stride, rate) in enumerate(
            zip(widths, counts, strides, rates, strict=True), start=1
        ):
            setattr(self, f"layer{index}", make_layer(block, inplanes, planes, n, stride, rate))
            inplanes = planes * block.expansion

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))  # (B, s0, H/2, W/2)
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.relu(self.bn3(self.conv3(x)))  # (B, s2, H/2, W/2)
        x = self.maxpool(x)  # (B, s2, H/4, W/4)
        feats = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            feats.append(x)
        return feats
