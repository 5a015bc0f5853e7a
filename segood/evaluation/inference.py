"""Model outputs for the scorers: one forward pass per scale, everything at image resolution.

`infer` runs the encoder and decoder once per scale and returns the outputs the scorers ask
for (`Scorer.requires`), resized to the image and averaged over scales:
- `logits` (1, C, H, W): scale-averaged logits, before any softmax (`average="logits"`). The
  reference averaged softmax probabilities instead, so its "MaxLogit" was a probability; that
  behaviour is `average="probs"`, which hands the averaged probabilities to every scorer.
- `confidence` (1, 1, H, W): the confidence branch's sigmoid output, averaged over scales.
- `dropout_logits` (T, 1, C, H, W): T MC-dropout passes. Only what dropout touches is rerun:
  the decoder features are computed once per scale, then dropout + classifier + upsampling run
  T times (for PSPNet, dropout sits right before the 1x1 classifier).
- `features` (1, D, h, w): decoder features (stride 8) of the full-resolution pass when
  `full_resolution` is on, else of the last (largest) scale; not averaged over scales (the
  grids differ). Feature scorers score that grid; the evaluation resizes their maps.
- `classifier` (W (C, D), b (C,)): the weights of the 1x1 classifier that maps the decoder
  features to the logits (ViM's origin -pinv(W) b).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from segood.errors import SegoodError
from segood.evaluation.options import option

AVERAGE_MODES = ("logits", "probs")


@dataclass(frozen=True)
class InferenceSettings:
    """How the model is run on one image.

    short_sides: the multi-scale short sides (the reference: 300, 375, 450, 525, 600, long side
        at most `max_long`, sizes rounded up to a multiple of 8); empty = no extra scales.
    full_resolution: also run at the image's own size (the default when no scale is given).
    average: "logits" (correct) or "probs" (the reference's behaviour).
    mc_passes: T, the number of MC-dropout passes.
    """

    short_sides: tuple[int, ...] = ()
    full_resolution: bool = True
    max_long: int = 1000
    average: str = "logits"
    mc_passes: int = 8

    def sizes(self, height: int, width: int) -> list[tuple[int, int]]:
        from segood.data.transforms import eval_sizes

        sizes = (
            eval_sizes(height, width, self.short_sides, self.max_long) if self.short_sides else []
        )
        if self.full_resolution or not sizes:
            sizes.append((height, width))
        return sizes


def image_seed(name: str) -> int:
    """A per-image RNG seed, so dropout passes do not depend on order, shard or resume."""
    return zlib.crc32(name.encode())


@torch.no_grad()
def infer(
    model: nn.Module,
    image: Tensor,
    settings: InferenceSettings,
    needs: set[str],
    seed: int = 0,
) -> dict[str, Tensor]:
    """Outputs named in `needs` for one normalised image (1, 3, H, W); see the module doc."""
    height, width = image.shape[-2:]
    full = (height, width)
    sizes = settings.sizes(height, width)
    out: dict[str, Tensor] = {}
    logits_sum, conf_sum, mc_sum = None, None, None
    for index, size in enumerate(sizes):
        x = (
            image
            if tuple(size) == full
            else F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        )
        feats = model.forward_features(x)  # (1, D, h, w)
        logits = model.forward_head(feats, full)  # (1, C, H, W)
        if settings.average == "probs":
            logits = logits.softmax(dim=1)
        logits_sum = logits if logits_sum is None else logits_sum + logits
        if "confidence" in needs and getattr(model, "confidence_head", None) is not None:
            conf = torch.sigmoid(model.upsample(model.confidence_head(feats), full))
            conf_sum = conf if conf_sum is None else conf_sum + conf
        if "dropout_logits" in needs:
            passes = _dropout_passes(model, feats, full, settings, seed + index)
            mc_sum = passes if mc_sum is None else mc_sum + passes
        if "features" in needs and ("features" not in out or tuple(size) == full):
            out["features"] = feats  # the full-resolution pass wins, else the last scale
    n = len(sizes)
    if "classifier" in needs:
        out["classifier"] = classifier_weights(model)
    out["logits"] = logits_sum / n
    if conf_sum is not None:
        out["confidence"] = conf_sum / n
    if mc_sum is not None:
        out["dropout_logits"] = mc_sum / n
    return out


def classifier_weights(model: nn.Module) -> tuple[Tensor, Tensor]:
    """(W (C, D), b (C,)) of the model's 1x1 classifier on the decoder features."""
    conv = getattr(getattr(model, "decode_head", None), "classifier", None)
    if not isinstance(conv, nn.Conv2d) or conv.kernel_size != (1, 1) or conv.groups != 1:
        raise SegoodError(
            "the model has no 1x1 classifier (decode_head.classifier) to give ViM its origin "
            f"-pinv(W) b; use {option('scorer_options', {'vim': {'origin': 'mean'}})}"
        )
    weight = conv.weight.detach()[:, :, 0, 0]
    bias = conv.bias.detach() if conv.bias is not None else weight.new_zeros(len(weight))
    return weight, bias


def _dropout_passes(
    model: nn.Module, feats: Tensor, size: tuple[int, int], settings: InferenceSettings, seed: int
) -> Tensor:
    """(T, 1, C, H, W): dropout + classifier + upsampling, T times, on cached features."""
    head = model.decode_head
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    dropout_was_training = head.dropout.training
    head.dropout.train()
    try:
        passes = []
        for _ in range(settings.mc_passes):
            logits = model.forward_head(feats, size)
            passes.append(logits.softmax(dim=1) if settings.average == "probs" else logits)
    finally:
        head.dropout.train(dropout_was_training)
        torch.random.set_rng_state(generator_state)
    return torch.stack(passes)


@torch.no_grad()
def reconstruct(autoencoder: nn.Module, image: Tensor) -> dict[str, Tensor]:
    """`image` and its autoencoder `reconstruction` (1, 3, H, W), for the AE scorer."""
    return {"image": image, "reconstruction": autoencoder(image)}
