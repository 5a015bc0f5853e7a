"""Dilated ResNet encoders (torchvision layout) built through segmentation-models-pytorch.

`smp.PSPNet` stops at layer2 by default (encoder_depth=3); the paper's PSPNet uses the full
ResNet with layer3 and layer4 dilated, so layer4 comes out at 1/8 (output stride 8).
Weights are never downloaded here (weights=None); see `segood.models.pretrained`.
"""

import segmentation_models_pytorch as smp
from torch import Tensor, nn

from segood.errors import SegoodError

# channels of (layer3, layer4) per supported encoder
RESNET_CHANNELS: dict[str, tuple[int, int]] = {
    "resnet18": (256, 512),
    "resnet34": (256, 512),
    "resnet50": (1024, 2048),
    "resnet101": (1024, 2048),
    "resnet152": (1024, 2048),
}
OUTPUT_STRIDES = (8, 16, 32)


def build_resnet_encoder(name: str, output_stride: int = 8) -> nn.Module:
    """An smp ResNet encoder (torchvision ResNet without fc) dilated to `output_stride`."""
    if name not in RESNET_CHANNELS:
        raise SegoodError(
            f"model.encoder={name!r} is not supported; use one of {sorted(RESNET_CHANNELS)}"
        )
    if output_stride not in OUTPUT_STRIDES:
        raise SegoodError(
            f"model.output_stride={output_stride!r} is not supported; use one of "
            f"{OUTPUT_STRIDES} (the paper uses 8)"
        )
    return smp.encoders.get_encoder(
        name, in_channels=3, depth=5, weights=None, output_stride=output_stride
    )


def encoder_layers(encoder: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """Run the encoder and return (layer3, layer4) feature maps."""
    feats = encoder(x)  # [x, stem 1/2, layer1 1/4, layer2 1/8, layer3, layer4]
    return feats[-2], feats[-1]
