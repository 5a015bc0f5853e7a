"""PSPNet as the CAOS paper trains it (Zhao et al. 2017; Hendrycks et al. 2022).

Dilated ResNet (layer3 and layer4 dilated, layer4 at 1/8: 2048 channels for ResNet-50/101,
512 for ResNet-18/34) -> pyramid pooling (bins 1, 2, 3, 6) -> 3x3 conv to 512 + BN + ReLU ->
Dropout2d(0.1) -> 1x1 classifier; an auxiliary FCN head on layer3 (training only, loss weight
`aux_weight`, 0.4 in the paper); optionally a per-pixel confidence branch on the 512 features.

The CAOS reference's network (CSAIL's ResnetDilated + PPMDeepsup) layer for layer is
`stem="deep", ppm_channels=512, aux_channels=F/4` (512 for ResNet-50/101, 128 for ResNet-18):
see `segood.models.resnet` and `segood.models.convert.csail`. mmsegmentation's Cityscapes
PSPNet is `stem="deep", stem_channels=(32, 32, 64), ppm_channels=512, aux_channels=256`.
Unlike the reference's decoder (softmax at inference), the logits are never softmaxed here.

`forward_features` / `forward_head` split the network where dropout starts (timm's names): the
decoder features before dropout and the classifier, then dropout + 1x1 classifier + upsampling.
MC dropout reuses everything before it: with `feats = model.forward_features(x)` computed once,
`model.forward_head(feats, size)` is one stochastic pass.
"""

from collections.abc import Sequence
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn

from segood.errors import SegoodError
from segood.models.confidence import ConfidenceHead, confidence_from_logit
from segood.models.encoders import RESNET_CHANNELS, build_resnet_encoder, encoder_layers
from segood.models.heads import FCNHead, PSPHead
from segood.models.outputs import SegOutput
from segood.models.pretrained import load_pretrained_encoder


class PSPNet(nn.Module):
    """`model(x)` -> logits (B, K, H, W); `model(x, return_features=True)` -> `SegOutput`."""

    def __init__(
        self,
        num_classes: int,
        encoder: str = "resnet101",
        stem: str = "torchvision",
        stem_channels: Sequence[int] | None = None,
        pretrained: str | Path | None = None,
        output_stride: int = 8,
        bins: Sequence[int] = (1, 2, 3, 6),
        decoder_channels: int = 512,
        ppm_channels: int | None = None,
        dropout: float = 0.1,
        aux_weight: float = 0.4,
        aux_channels: int = 256,
        confidence_branch: bool = False,
    ):
        super().__init__()
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise SegoodError(
                f"model.num_classes={num_classes!r} must be a positive integer (13 for "
                f"StreetHazards, 17 for BDD-Anomaly)"
            )
        if not 0.0 <= dropout < 1.0:
            raise SegoodError(f"model.dropout={dropout!r} must be in [0, 1) (the paper uses 0.1)")
        self.num_classes = num_classes
        self.encoder_name = encoder
        self.stem = stem
        self.output_stride = output_stride
        self.aux_weight = float(aux_weight)
        self.encoder = build_resnet_encoder(encoder, output_stride, stem, stem_channels)
        load_pretrained_encoder(self.encoder, pretrained, encoder, stem)
        c3, c4 = RESNET_CHANNELS[encoder]
        self.decode_head = PSPHead(c4, num_classes, decoder_channels, bins, dropout, ppm_channels)
        # no aux head at aux_weight 0: it would be dead weight (and unused DDP parameters)
        self.aux_head = (
            FCNHead(c3, num_classes, aux_channels, dropout) if self.aux_weight > 0 else None
        )
        self.confidence_head = ConfidenceHead(decoder_channels) if confidence_branch else None

    @staticmethod
    def upsample(maps: Tensor, size: Sequence[int]) -> Tensor:
        """(B, C, h, w) -> (B, C, *size), bilinear, align_corners=False."""
        return F.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=False)

    def forward_encoder(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W) -> layer3 (B, C3, H/8, W/8), layer4 (B, C4, H/8, W/8) at stride 8."""
        return encoder_layers(self.encoder, x)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> decoder features (B, D, H/8, W/8), before dropout and the classifier."""
        _, layer4 = self.forward_encoder(x)
        return self.decode_head.features(layer4)

    def forward_head(self, feats: Tensor, size: Sequence[int]) -> Tensor:
        """Decoder features -> logits (B, K, *size): dropout, 1x1 classifier, upsampling."""
        return self.upsample(self.decode_head.classify(feats), size)

    def forward_heads(self, layer3: Tensor, layer4: Tensor, size: Sequence[int]) -> SegOutput:
        """All heads on the encoder maps; outputs at `size` except the features."""
        feats = self.decode_head.features(layer4)  # (B, 512, h, w)
        logits = self.forward_head(feats, size)  # (B, K, H, W)
        aux = None
        if self.training and self.aux_head is not None:
            aux = self.upsample(self.aux_head(layer3), size)  # (B, K, H, W)
        conf = None
        if self.confidence_head is not None:
            conf_logit = self.upsample(self.confidence_head(feats), size)  # (B, 1, H, W)
            conf = confidence_from_logit(conf_logit)  # (B, H, W)
        return SegOutput(logits=logits, features=feats, aux_logits=aux, confidence=conf)

    def forward(self, x: Tensor, return_features: bool = False) -> Tensor | SegOutput:
        """Logits (B, K, H, W) at input resolution, or every output as a `SegOutput`."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"PSPNet expects (B, 3, H, W) images, got shape {tuple(x.shape)}")
        out = self.forward_heads(*self.forward_encoder(x), size=x.shape[-2:])
        return out if return_features else out.logits
