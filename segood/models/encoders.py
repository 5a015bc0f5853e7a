"""Dilated ResNet encoders with either stem, layer3 and layer4 dilated (output stride 8).

- stem="deep": `segood.models.resnet.DeepStemResNet`, the encoder of the CAOS reference (CSAIL's
  semantic-segmentation-pytorch, three 3x3 stem convs 3->64->64->128) and, with
  stem_channels=(32, 32, 64), mmsegmentation's ResNetV1c.
- stem="torchvision": a torchvision ResNet (7x7 stem conv) built through
  segmentation-models-pytorch, every conv of a dilated layer at the full rate. `smp.PSPNet`
  stops at layer2 by default (encoder_depth=3); here the full ResNet is used.
Weights are never downloaded here (weights=None); see `segood.models.pretrained`.
"""

from collections.abc import Sequence

import segmentation_models_pytorch as smp
from torch import Tensor, nn

from segood.errors import SegoodError
from segood.models.resnet import CSAIL_STEM, DeepStemResNet

# channels of (layer3, layer4) per supported encoder
RESNET_CHANNELS: dict[str, tuple[int, int]] = {
    "resnet18": (256, 512),
    "resnet34": (256, 512),
    "resnet50": (1024, 2048),
    "resnet101": (1024, 2048),
    "resnet152": (1024, 2048),
}
OUTPUT_STRIDES = (8, 16, 32)
STEMS = ("deep", "torchvision")


def build_resnet_encoder(
    name: str,
    output_stride: int = 8,
    stem: str = "torchvision",
    stem_channels: Sequence[int] | None = None,
) -> nn.Module:
    """A ResNet encoder without fc, dilated to `output_stride`, with the given stem."""
    if name not in RESNET_CHANNELS:
        raise SegoodError(
            f"model.encoder={name!r} is not supported; use one of {sorted(RESNET_CHANNELS)}"
        )
    if output_stride not in OUTPUT_STRIDES:
        raise SegoodError(
            f"model.output_stride={output_stride!r} is not supported; use one of "
            f"{OUTPUT_STRIDES} (the paper uses 8)"
        )
    if stem not in STEMS:
        raise SegoodError(
            f"model.stem={stem!r} is not supported; use 'deep' (the CAOS reference's "
            f"ResNet, three 3x3 convs) or 'torchvision' (one 7x7 conv)"
        )
    if stem == "deep":
        depth = int(name.removeprefix("resnet"))
        return DeepStemResNet(depth, stem_channels or CSAIL_STEM, output_stride)
    if stem_channels is not None:
        raise SegoodError(
            "model.stem_channels applies to stem='deep' only; remove it or set stem='deep'"
        )
    return smp.encoders.get_encoder(
        name, in_channels=3, depth=5, weights=None, output_stride=output_stride
    )


def encoder_layers(encoder: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """Run the encoder and return (layer3, layer4) feature maps."""
    feats = encoder(x)  # smp: [x, stem, layer1..4]; DeepStemResNet: [layer1..4]
    return feats[-2], feats[-1]
