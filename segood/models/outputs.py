"""The one output record of a segmentation model, so every scorer can be fed from one pass."""

from dataclasses import dataclass

from torch import Tensor


@dataclass
class SegOutput:
    """What `PSPNet.forward(x, return_features=True)` returns.

    logits: (B, K, H, W) at input resolution, before any softmax.
    features: (B, C, h, w) decoder features at 1/output_stride (the map before dropout and the
        classifier; C = 512 for PSPNet), the input of `decode_head.classify` for MC dropout.
    aux_logits: (B, K, H, W) of the auxiliary layer3 head, only in training mode, else None.
    confidence: (B, H, W) in (0, 1) from the confidence branch, None without one.
    """

    logits: Tensor
    features: Tensor
    aux_logits: Tensor | None = None
    confidence: Tensor | None = None
