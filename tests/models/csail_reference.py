"""An independent transcription of the CAOS reference's network (CSAIL semantic-segmentation-
pytorch: `mit_semseg/models/resnet.py` deep-stem ResNet, `models.py` ResnetDilated with
`_nostride_dilate`, PPMDeepsup) as plain torch.nn.functional calls over state dicts with the
reference's own key names. Nothing here uses segood code: it is what segood's PSPNet is tested
against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# depth -> (bottleneck?, blocks per layer)
LAYOUT = {18: (False, (2, 2, 2, 2)), 50: (True, (3, 4, 6, 3)), 101: (True, (3, 4, 23, 3))}
EPS = 1e-5  # SynchronizedBatchNorm2d's default


def random_bn(state: dict, prefix: str, channels: int, g: torch.Generator, counters: bool) -> None:
    state[f"{prefix}.weight"] = 0.6 + 0.4 * torch.rand(channels, generator=g)
    state[f"{prefix}.bias"] = 0.1 * torch.randn(channels, generator=g)
    state[f"{prefix}.running_mean"] = 0.1 * torch.randn(channels, generator=g)
    state[f"{prefix}.running_var"] = 0.5 + torch.rand(channels, generator=g)
    if counters:
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(1000)


def random_conv(state: dict, key: str, out_ch: int, in_ch: int, k: int, g: torch.Generator) -> None:
    std = (1.0 / (in_ch * k * k)) ** 0.5
    state[key] = std * torch.randn(out_ch, in_ch, k, k, generator=g)


def random_encoder(depth: int, seed: int, counters: bool = True) -> dict[str, Tensor]:
    """ResnetDilated's state dict: resnet.ResNet without avgpool/fc, deep stem 3-64-64-128."""
    g = torch.Generator().manual_seed(seed)
    bottleneck, counts = LAYOUT[depth]
    expansion = 4 if bottleneck else 1
    s: dict[str, Tensor] = {}
    for i, (cin, cout) in enumerate([(3, 64), (64, 64), (64, 128)], start=1):
        random_conv(s, f"conv{i}.weight", cout, cin, 3, g)
        random_bn(s, f"bn{i}", cout, g, counters)
    inplanes = 128
    for li, (planes, n) in enumerate(zip((64, 128, 256, 512), counts, strict=True), start=1):
        for b in range(n):
            p = f"layer{li}.{b}"
            if bottleneck:
                random_conv(s, f"{p}.conv1.weight", planes, inplanes, 1, g)
                random_bn(s, f"{p}.bn1", planes, g, counters)
                random_conv(s, f"{p}.conv2.weight", planes, planes, 3, g)
                random_bn(s, f"{p}.bn2", planes, g, counters)
                random_conv(s, f"{p}.conv3.weight", planes * 4, planes, 1, g)
                random_bn(s, f"{p}.bn3", planes * 4, g, counters)
            else:
                random_conv(s, f"{p}.conv1.weight", planes, inplanes, 3, g)
                random_bn(s, f"{p}.bn1", planes, g, counters)
                random_conv(s, f"{p}.conv2.weight", planes, planes, 3, g)
                random_bn(s, f"{p}.bn2", planes, g, counters)
            stride = 1 if li == 1 else 2
            if b == 0 and (stride != 1 or inplanes != planes * expansion):
                random_conv(s, f"{p}.downsample.0.weight", planes * expansion, inplanes, 1, g)
                random_bn(s, f"{p}.downsample.1", planes * expansion, g, counters)
            inplanes = planes * expansion
    return s


def random_decoder(fc_dim: int, num_class: int, seed: int) -> dict[str, Tensor]:
    """PPMDeepsup's state dict (pool scales 1, 2, 3, 6; 512 channels per branch)."""
    g = torch.Generator().manual_seed(seed)
    s: dict[str, Tensor] = {}
    for i in range(4):
        random_conv(s, f"ppm.{i}.1.weight", 512, fc_dim, 1, g)
        random_bn(s, f"ppm.{i}.2", 512, g, True)
    random_conv(s, "cbr_deepsup.0.weight", fc_dim // 4, fc_dim // 2, 3, g)
    random_bn(s, "cbr_deepsup.1", fc_dim // 4, g, True)
    random_conv(s, "conv_last.0.weight", 512, fc_dim + 4 * 512, 3, g)
    random_bn(s, "conv_last.1", 512, g, True)
    random_conv(s, "conv_last.4.weight", num_class, 512, 1, g)
    s["conv_last.4.bias"] = 0.1 * torch.randn(num_class, generator=g)
    random_conv(s, "conv_last_deepsup.weight", num_class, fc_dim // 4, 1, g)
    s["conv_last_deepsup.bias"] = 0.1 * torch.randn(num_class, generator=g)
    return s


def bn(x: Tensor, s: dict, p: str) -> Tensor:
    return F.batch_norm(
        x, s[f"{p}.running_mean"], s[f"{p}.running_var"], s[f"{p}.weight"], s[f"{p}.bias"],
        False, 0.0, EPS,
    )  # fmt: skip


def nostride_dilate(kernel: int, stride: int, dilation: int, padding: int, dilate: int):
    """ResnetDilated._nostride_dilate on one conv's (stride, dilation, padding)."""
    if stride == 2:
        stride = 1
        if kernel == 3:
            dilation = padding = dilate // 2
    elif kernel == 3:
        dilation = padding = dilate
    return stride, dilation, padding


def conv(x: Tensor, s: dict, key: str, stride: int, layer_dilate: int | None) -> Tensor:
    w = s[key]
    k = w.shape[-1]
    dilation, padding = 1, k // 2  # as built by resnet.py: 3x3 padding 1, 1x1 padding 0
    if layer_dilate:
        stride, dilation, padding = nostride_dilate(k, stride, dilation, padding, layer_dilate)
    return F.conv2d(x, w, None, stride, padding, dilation)


def encoder_forward(s: dict, x: Tensor, depth: int) -> list[Tensor]:
    """ResnetDilated(dilate_scale=8).forward(x, return_feature_maps=True)."""
    bottleneck, counts = LAYOUT[depth]
    x = F.relu(bn(F.conv2d(x, s["conv1.weight"], None, 2, 1), s, "bn1"))
    x = F.relu(bn(F.conv2d(x, s["conv2.weight"], None, 1, 1), s, "bn2"))
    x = F.relu(bn(F.conv2d(x, s["conv3.weight"], None, 1, 1), s, "bn3"))
    x = F.max_pool2d(x, 3, 2, 1)
    outs = []
    for li, n in enumerate(counts, start=1):
        dilate = {3: 2, 4: 4}.get(li)
        for b in range(n):
            p = f"layer{li}.{b}"
            stride = 2 if (b == 0 and li > 1) else 1
            if bottleneck:
                out = F.relu(bn(conv(x, s, f"{p}.conv1.weight", 1, dilate), s, f"{p}.bn1"))
                out = F.relu(bn(conv(out, s, f"{p}.conv2.weight", stride, dilate), s, f"{p}.bn2"))
                out = bn(conv(out, s, f"{p}.conv3.weight", 1, dilate), s, f"{p}.bn3")
            else:
                out = F.relu(bn(conv(x, s, f"{p}.conv1.weight", stride, dilate), s, f"{p}.bn1"))
                out = bn(conv(out, s, f"{p}.conv2.weight", 1, dilate), s, f"{p}.bn2")
            residual = x
            if f"{p}.downsample.0.weight" in s:
                residual = conv(x, s, f"{p}.downsample.0.weight", stride, dilate)
                residual = bn(residual, s, f"{p}.downsample.1")
            x = F.relu(out + residual)
        outs.append(x)
    return outs


def decoder_logits(s: dict, conv_out: list[Tensor], seg_size: tuple[int, int]) -> Tensor:
    """PPMDeepsup.forward(conv_out, segSize) in eval mode, before its softmax."""
    conv5 = conv_out[-1]
    h, w = conv5.shape[-2:]
    ppm_out = [conv5]
    for i, scale in enumerate((1, 2, 3, 6)):
        y = F.adaptive_avg_pool2d(conv5, scale)
        y = F.relu(bn(F.conv2d(y, s[f"ppm.{i}.1.weight"]), s, f"ppm.{i}.2"))
        ppm_out.append(F.interpolate(y, (h, w), mode="bilinear", align_corners=False))
    x = torch.cat(ppm_out, 1)
    x = F.relu(bn(F.conv2d(x, s["conv_last.0.weight"], None, 1, 1), s, "conv_last.1"))
    x = F.conv2d(x, s["conv_last.4.weight"], s["conv_last.4.bias"])  # Dropout2d: eval
    return F.interpolate(x, size=seg_size, mode="bilinear", align_corners=False)


def deepsup_logits(s: dict, conv_out: list[Tensor]) -> Tensor:
    """The deep-supervision branch on layer3 (eval mode, before its log-softmax)."""
    x = F.conv2d(conv_out[-2], s["cbr_deepsup.0.weight"], None, 1, 1)
    x = F.relu(bn(x, s, "cbr_deepsup.1"))
    return F.conv2d(x, s["conv_last_deepsup.weight"], s["conv_last_deepsup.bias"])


@torch.no_grad()
def reference_logits(enc: dict, dec: dict, x: Tensor, depth: int) -> tuple[Tensor, Tensor]:
    """(logits at the input size, deep-supervision logits at 1/8) of the reference network."""
    conv_out = encoder_forward(enc, x, depth)
    return decoder_logits(dec, conv_out, tuple(x.shape[-2:])), deepsup_logits(dec, conv_out)
