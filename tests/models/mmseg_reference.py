"""An independent transcription of mmsegmentation's PSPNet-d8 (configs/_base_/models/
pspnet_r50-d8.py: ResNetV1c with contract_dilation, PSPHead, FCNHead auxiliary head,
EncoderDecoder whole inference) as plain torch.nn.functional calls over state dicts with
mmsegmentation's key names. Nothing here uses segood code."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from tests.models.csail_reference import bn, random_bn, random_conv

BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
STRIDES, DILATIONS = (1, 2, 1, 1), (1, 1, 2, 4)


def random_mmseg_pspnet(depth: int, num_classes: int, seed: int) -> dict[str, Tensor]:
    """A state dict shaped like mmsegmentation's Cityscapes PSPNet R50/R101-d8 (19 classes)."""
    g = torch.Generator().manual_seed(seed)
    s: dict[str, Tensor] = {}
    for index, (cin, cout) in zip((0, 3, 6), [(3, 32), (32, 32), (32, 64)], strict=True):
        random_conv(s, f"backbone.stem.{index}.weight", cout, cin, 3, g)
        random_bn(s, f"backbone.stem.{index + 1}", cout, g, True)
    inplanes = 64
    for i, n in enumerate(BLOCKS[depth]):
        planes = 64 * 2**i
        for b in range(n):
            p = f"backbone.layer{i + 1}.{b}"
            random_conv(s, f"{p}.conv1.weight", planes, inplanes, 1, g)
            random_bn(s, f"{p}.bn1", planes, g, True)
            random_conv(s, f"{p}.conv2.weight", planes, planes, 3, g)
            random_bn(s, f"{p}.bn2", planes, g, True)
            random_conv(s, f"{p}.conv3.weight", planes * 4, planes, 1, g)
            random_bn(s, f"{p}.bn3", planes * 4, g, True)
            if b == 0:  # stride != 1 or inplanes != planes * 4: always, for bottlenecks
                random_conv(s, f"{p}.downsample.0.weight", planes * 4, inplanes, 1, g)
                random_bn(s, f"{p}.downsample.1", planes * 4, g, True)
            inplanes = planes * 4
    for i in range(4):
        random_conv(s, f"decode_head.psp_modules.{i}.1.conv.weight", 512, 2048, 1, g)
        random_bn(s, f"decode_head.psp_modules.{i}.1.bn", 512, g, True)
    random_conv(s, "decode_head.bottleneck.conv.weight", 512, 2048 + 4 * 512, 3, g)
    random_bn(s, "decode_head.bottleneck.bn", 512, g, True)
    random_conv(s, "decode_head.conv_seg.weight", num_classes, 512, 1, g)
    s["decode_head.conv_seg.bias"] = 0.1 * torch.randn(num_classes, generator=g)
    random_conv(s, "auxiliary_head.convs.0.conv.weight", 256, 1024, 3, g)
    random_bn(s, "auxiliary_head.convs.0.bn", 256, g, True)
    random_conv(s, "auxiliary_head.conv_seg.weight", num_classes, 256, 1, g)
    s["auxiliary_head.conv_seg.bias"] = 0.1 * torch.randn(num_classes, generator=g)
    return s


def conv_module(x: Tensor, s: dict, p: str, padding: int = 0) -> Tensor:
    """ConvModule(conv without bias, SyncBN, ReLU) in eval mode."""
    return F.relu(bn(F.conv2d(x, s[f"{p}.conv.weight"], None, 1, padding), s, f"{p}.bn"))


def backbone_forward(s: dict, x: Tensor, depth: int) -> list[Tensor]:
    """ResNetV1c(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), contract_dilation=True)."""
    for index in (0, 3, 6):
        stride = 2 if index == 0 else 1
        x = F.conv2d(x, s[f"backbone.stem.{index}.weight"], None, stride, 1)
        x = F.relu(bn(x, s, f"backbone.stem.{index + 1}"))
    x = F.max_pool2d(x, 3, 2, 1)
    outs = []
    for i, n in enumerate(BLOCKS[depth]):
        for b in range(n):
            p = f"backbone.layer{i + 1}.{b}"
            stride = STRIDES[i] if b == 0 else 1
            d = DILATIONS[i] // 2 if (b == 0 and DILATIONS[i] > 1) else DILATIONS[i]
            out = F.relu(bn(F.conv2d(x, s[f"{p}.conv1.weight"]), s, f"{p}.bn1"))
            out = F.conv2d(out, s[f"{p}.conv2.weight"], None, stride, d, d)
            out = F.relu(bn(out, s, f"{p}.bn2"))
            out = bn(F.conv2d(out, s[f"{p}.conv3.weight"]), s, f"{p}.bn3")
            identity = x
            if b == 0:
                identity = F.conv2d(x, s[f"{p}.downsample.0.weight"], None, stride)
                identity = bn(identity, s, f"{p}.downsample.1")
            x = F.relu(out + identity)
        outs.append(x)
    return outs


@torch.no_grad()
def mmseg_logits(s: dict, img: Tensor, depth: int) -> tuple[Tensor, Tensor]:
    """(decode head logits resized to the image, auxiliary head logits at 1/8), eval mode."""
    feats = backbone_forward(s, img, depth)
    x = feats[3]  # PSPHead in_index=3
    outs = [x]
    for i, scale in enumerate((1, 2, 3, 6)):
        y = conv_module(F.adaptive_avg_pool2d(x, scale), s, f"decode_head.psp_modules.{i}.1")
        outs.append(F.interpolate(y, size=x.shape[2:], mode="bilinear", align_corners=False))
    y = conv_module(torch.cat(outs, dim=1), s, "decode_head.bottleneck", padding=1)
    y = F.conv2d(y, s["decode_head.conv_seg.weight"], s["decode_head.conv_seg.bias"])
    logits = F.interpolate(y, size=img.shape[2:], mode="bilinear", align_corners=False)
    a = conv_module(feats[2], s, "auxiliary_head.convs.0", padding=1)  # FCNHead in_index=2
    aux = F.conv2d(a, s["auxiliary_head.conv_seg.weight"], s["auxiliary_head.conv_seg.bias"])
    return logits, aux
