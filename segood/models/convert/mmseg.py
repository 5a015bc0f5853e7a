"""mmsegmentation's PSPNet checkpoints (e.g. the Cityscapes pspnet_r50-d8 / pspnet_r101-d8 of
its model zoo) -> a segood PSPNet checkpoint.

mmsegmentation's PSPNet (configs/_base_/models/pspnet_r50-d8.py) is an EncoderDecoder with
- backbone ResNetV1c: deep stem `backbone.stem` = Sequential(conv 3->32 s2, BN, ReLU, conv
  32->32, BN, ReLU, conv 32->64, BN, ReLU) (stem_channels=64), then layer1..4 with torchvision
  block names (conv1/bn1...); strides (1, 2, 1, 1), dilations (1, 1, 2, 4),
  contract_dilation=True (the first block of a dilated layer at half the rate);
- decode_head PSPHead: `psp_modules.<i>` = (pool, ConvModule 1x1 F->512 [conv, bn]),
  `bottleneck` = ConvModule 3x3 (F+4*512)->512, then Dropout2d(0.1) and `conv_seg` 1x1;
- auxiliary_head FCNHead on layer3: `convs.0` = ConvModule 3x3 1024->256, Dropout2d(0.1),
  `conv_seg` 1x1 (num_convs=1, concat_input=False; loss weight 0.4);
- SyncBN (eps 1e-5), bilinear resizing with align_corners=False.

Against the CAOS reference (CSAIL) the only differences are the stem widths (32, 32, 64 instead
of 64, 64, 128, so layer1 takes 64 channels) and the auxiliary head's width (256 instead of
512): segood's PSPNet with stem="deep", stem_channels=(32, 32, 64), aux_channels=256.
Only ResNet-50/101 are converted: mmsegmentation's BasicBlock (ResNet-18/34) leaves its second
3x3 conv undilated, which CSAIL's (and segood's) dilate.
"""

from __future__ import annotations

import re
from pathlib import Path

from segood.errors import SegoodError
from segood.models.convert.common import fit_to_model, pspnet_d8, read_foreign_state, rename
from segood.models.convert.csail import resnet_depth

RULES = [
    (r"backbone\.stem\.0\.weight", r"encoder.conv1.weight"),
    (r"backbone\.stem\.1\.(.+)", r"encoder.bn1.\1"),
    (r"backbone\.stem\.3\.weight", r"encoder.conv2.weight"),
    (r"backbone\.stem\.4\.(.+)", r"encoder.bn2.\1"),
    (r"backbone\.stem\.6\.weight", r"encoder.conv3.weight"),
    (r"backbone\.stem\.7\.(.+)", r"encoder.bn3.\1"),
    (r"backbone\.(layer[1-4]\..+)", r"encoder.\1"),
    (r"decode_head\.psp_modules\.(\d+)\.1\.conv\.weight", r"decode_head.ppm.stages.\1.1.weight"),
    (r"decode_head\.psp_modules\.(\d+)\.1\.bn\.(.+)", r"decode_head.ppm.stages.\1.2.\2"),
    (r"decode_head\.bottleneck\.conv\.weight", r"decode_head.bottleneck.0.weight"),
    (r"decode_head\.bottleneck\.bn\.(.+)", r"decode_head.bottleneck.1.\1"),
    (r"decode_head\.conv_seg\.(weight|bias)", r"decode_head.classifier.\1"),
    (r"auxiliary_head\.convs\.0\.conv\.weight", r"aux_head.conv.0.weight"),
    (r"auxiliary_head\.convs\.0\.bn\.(.+)", r"aux_head.conv.1.\1"),
    (r"auxiliary_head\.conv_seg\.(weight|bias)", r"aux_head.classifier.\1"),
]
ENCODERS = ("resnet50", "resnet101")


def mmseg_model(encoder: str, num_classes: int, stem: list[int], aux_channels: int) -> dict:
    """The model description of mmsegmentation's PSPNet-d8 on `encoder` (a plain dict)."""
    weight = 0.4 if aux_channels else 0.0
    return pspnet_d8(encoder, num_classes, stem, aux_channels or 256, aux_weight=weight)


def _shape(state: dict, key: str, path: str | Path, dim: int = 0) -> int:
    if key not in state:
        raise SegoodError(
            f"--checkpoint {path} has no {key!r} (keys start {', '.join(list(state)[:3])}); "
            f"expected an mmsegmentation PSPNet checkpoint (ResNetV1c backbone, PSPHead)"
        )
    return int(state[key].shape[dim])


def convert_mmseg(path: str | Path, num_classes: int | None = None) -> tuple[dict, dict, dict]:
    """-> (state dict, model description, source record) of a segood PSPNet."""
    from segood.models.builder import build_model

    state = read_foreign_state(path, "--checkpoint", "an mmsegmentation PSPNet checkpoint")
    classes = _shape(state, "decode_head.conv_seg.weight", path)
    if num_classes is not None and num_classes != classes:
        raise SegoodError(
            f"--num-classes {num_classes} but --checkpoint {path} has {classes} classes "
            f"(decode_head.conv_seg.weight); pass --num-classes {classes}"
        )
    stem = [_shape(state, f"backbone.stem.{i}.weight", path) for i in (0, 3, 6)]
    backbone = {
        k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")
    }
    encoder = resnet_depth(backbone)
    if encoder not in ENCODERS:
        layer3 = {m.group(1) for k in backbone if (m := re.match(r"layer3\.(\d+)\.", k))}
        raise SegoodError(
            f"--checkpoint {path} has a {encoder or 'ResNet'} backbone ({len(layer3)} layer3 "
            f"blocks); only mmsegmentation's ResNet-50/101 PSPNets are converted"
        )
    aux = "auxiliary_head.convs.0.conv.weight"
    aux_channels = _shape(state, aux, path) if aux in state else 0
    model_cfg = mmseg_model(encoder, classes, stem, aux_channels)
    renamed, unmapped = rename(state, RULES)
    converted, filled = fit_to_model(
        renamed,
        build_model(model_cfg),
        {f"--checkpoint {path}": unmapped},
        f"{path} as mmsegmentation's PSPNet {encoder}-d8",
    )
    source = dict(format="mmseg", checkpoint=str(path), filled_counters=len(filled))
    return converted, model_cfg, source
