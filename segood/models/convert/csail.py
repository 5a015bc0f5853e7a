"""The CAOS reference's checkpoints -> a segood PSPNet checkpoint.

The reference (hendrycks/anomaly-seg) trains with CSAIL's semantic-segmentation-pytorch and
saves two state dicts per epoch: `encoder_epoch_N.pth` (ResnetDilated: the deep-stem ResNet,
keys conv1..conv3, bn1..bn3, layer1..layer4) and `decoder_epoch_N.pth` (PPMDeepsup: `ppm.<i>`
= pool, 1x1 conv, BN; `conv_last` = 3x3 conv, BN, ReLU, Dropout2d, 1x1 classifier;
`cbr_deepsup` = 3x3 conv, BN on layer3; `conv_last_deepsup` = its 1x1 classifier). The same
network in segood is a PSPNet with stem="deep", ppm_channels=512 and aux_channels=F/4.
"""

from __future__ import annotations

import re
from pathlib import Path

from segood.errors import SegoodError
from segood.models.convert.common import fit_to_model, pspnet_d8, read_foreign_state, rename
from segood.models.encoders import RESNET_CHANNELS
from segood.models.resnet import CSAIL_STEM, DEPTHS

ARCHS = {f"resnet{d}dilated": f"resnet{d}" for d in (18, 50, 101)}
DECODERS = ("ppm_deepsup",)

ENCODER_RULES = [
    (r"((?:conv|bn)[123]\..+)", r"encoder.\1"),
    (r"(layer[1-4]\..+)", r"encoder.\1"),
]
DECODER_RULES = [
    (r"ppm\.(\d+)\.([12])\.(.+)", r"decode_head.ppm.stages.\1.\2.\3"),
    (r"conv_last\.([01])\.(.+)", r"decode_head.bottleneck.\1.\2"),
    (r"conv_last\.4\.(weight|bias)", r"decode_head.classifier.\1"),
    (r"cbr_deepsup\.([01])\.(.+)", r"aux_head.conv.\1.\2"),
    (r"conv_last_deepsup\.(weight|bias)", r"aux_head.classifier.\1"),
]


def csail_model(encoder: str, num_classes: int) -> dict:
    """The model description of the reference's PSPNet on `encoder` (a plain dict)."""
    fc_dim = RESNET_CHANNELS[encoder][1]  # 2048 for ResNet-50/101, 512 for ResNet-18
    # aux_weight 0.4: the reference's deep_sup_scale
    return pspnet_d8(encoder, num_classes, list(CSAIL_STEM), fc_dim // 4, aux_weight=0.4)


def resnet_depth(state: dict) -> str | None:
    """'resnet50' etc. from a ResNet state dict's block type and layer3 length, if known."""
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"layer3\.(\d+)\.", k))}
    kind = "bottleneck" if "layer1.0.conv3.weight" in state else "basic"
    counts = (kind, len(blocks))
    return next((f"resnet{d}" for d, (b, c) in DEPTHS.items() if (b, c[2]) == counts), None)


def convert_csail(
    encoder_path: str | Path,
    decoder_path: str | Path,
    arch: str,
    num_classes: int | None = None,
    decoder_arch: str = "ppm_deepsup",
) -> tuple[dict, dict, dict]:
    """-> (state dict, model description, source record) of a segood PSPNet."""
    from segood.models.builder import build_model

    if arch not in ARCHS:
        raise SegoodError(f"--arch {arch!r} is not supported; use one of {sorted(ARCHS)}")
    if decoder_arch not in DECODERS:
        raise SegoodError(
            f"--decoder-arch {decoder_arch!r} is not supported; the CAOS reference uses "
            f"{DECODERS[0]!r}"
        )
    encoder = ARCHS[arch]
    enc = read_foreign_state(encoder_path, "--encoder", f"CSAIL's {arch} encoder state dict")
    dec = read_foreign_state(decoder_path, "--decoder", "CSAIL's ppm_deepsup decoder state dict")
    found = resnet_depth(enc)
    if found and found != encoder:
        raise SegoodError(
            f"--encoder {encoder_path} holds a {found} but --arch is {arch}; use --arch "
            f"{found}dilated"
        )
    classifier = dec.get("conv_last.4.weight")
    if classifier is None:
        raise SegoodError(
            f"--decoder {decoder_path} has no 'conv_last.4.weight' (keys start "
            f"{', '.join(list(dec)[:3])}); expected CSAIL's ppm_deepsup decoder state dict"
        )
    classes = int(classifier.shape[0])
    if num_classes is not None and num_classes != classes:
        raise SegoodError(
            f"--num-classes {num_classes} but --decoder {decoder_path} has {classes} classes "
            f"(conv_last.4.weight {list(classifier.shape)}); pass --num-classes {classes}"
        )
    enc_state, enc_unmapped = rename(enc, ENCODER_RULES)
    dec_state, dec_unmapped = rename(dec, DECODER_RULES)
    model_cfg = csail_model(encoder, classes)
    state, filled = fit_to_model(
        {**enc_state, **dec_state},
        build_model(model_cfg),
        {f"--encoder {encoder_path}": enc_unmapped, f"--decoder {decoder_path}": dec_unmapped},
        f"{encoder_path} + {decoder_path} as CSAIL {arch} + {decoder_arch}",
    )
    source = dict(
        format="csail",
        encoder=str(encoder_path),
        decoder=str(decoder_path),
        arch=arch,
        decoder_arch=decoder_arch,
        filled_counters=len(filled),
    )
    return state, model_cfg, source
