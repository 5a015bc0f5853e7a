"""mmengine model wrappers: `SegModel` trains a PSPNet (optionally with the confidence branch),
`AEModel` trains the autoencoder baseline. Both take a `seg_collate` batch:
`forward(inputs (B, 3, H, W), data_samples=dict(labels, valid, sizes, names), mode)`.

The wrapped network lives in `self.model`, so a checkpoint's state dict is the network's under a
`model.` prefix and `segood.models.load_model_weights` loads it strictly into a bare PSPNet /
AutoEncoder. The main head's loss is an `objectives.Objective`; its training-only state (the
confidence branch's lambda, the energy margins) is a non-persistent buffer that
`TrainStateHook` stores in the checkpoint's `train_state` entry and restores on resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from torch import Tensor

from segood.data import IGNORE_INDEX
from segood.data.paste import OUTLIER_INDEX
from segood.engine.objectives import (
    ConfidenceBranch,
    CrossEntropy,
    EnergyBounded,
    Objective,
    OutlierExposure,
    ce_loss,
)
from segood.errors import SegoodError
from segood.models import (
    build_model,
    reconstruction_error,
    reconstruction_loss,
)
from segood.models.outlier_losses import (
    ENERGY_WEIGHT,
    OE_WEIGHT,
    check_margins,
)

LOSS_AT = ("full", "feature")
OUTLIER_KEYS = {
    "oe": {"type": None, "weight": OE_WEIGHT},
    "energy": {"type": None, "weight": ENERGY_WEIGHT, "m_in": None, "m_out": None,
               "k_in": 1.0, "k_out": 1.0},
}  # fmt: skip


def nearest_labels(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, H, W) class ids -> (B, *size), nearest neighbour (the reference's 1/8 labels)."""
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    return F.interpolate(labels[:, None].float(), size=size, mode="nearest")[:, 0].long()


def _preprocessor(cfg: Mapping | None, channels_last: bool) -> dict:
    cfg = dict(cfg or {"type": "SegDataPreprocessor"})
    if cfg.get("type") == "SegDataPreprocessor":
        cfg.setdefault("channels_last", channels_last)
    return cfg


@MODELS.register_module()
class SegModel(BaseModel):
    """PSPNet training: CE(ignore_index) on the main head + `aux_weight` x CE on the layer3 head.

    model: `segood.models.build_model` config (type="PSPNet", ...).
    loss_at: "full" (logits upsampled to the input, the default) or "feature" (the reference:
        logits at 1/output_stride against nearest-downsampled labels).
    confidence: with `model.confidence_branch=True`, dict(lam=0.1, budget=0.3): the main CE is
        replaced by the DeVries & Taylor loss (hint on a random half of the samples) and lambda
        adapts after every step from the penalty averaged over all processes.
    outlier: training with outlier pixels (label `outlier_index`, made by the paste transform;
        see `segood.models.outlier_losses`). The main head's CE runs on in-distribution pixels
        and gets an outlier term; the auxiliary head's CE ignores outlier pixels.
        - dict(type="oe", weight=0.5): outlier exposure (Hendrycks et al., ICLR 2019).
        - dict(type="energy", weight=0.1, m_in=None, m_out=None, k_in=1.0, k_out=1.0):
          energy-bounded fine-tuning (Liu et al., NeurIPS 2020). Margins left None are set at
          the first training step from the energies of that batch's in-distribution pixels
          (all processes): mean - k_in * std and mean + k_out * std (`relative_margins`);
          when fine-tuning (`load_from`) these are the pre-trained model's energies. They are
          kept in the checkpoint's train_state, so --resume continues with the same margins.
        Without `outlier`, a batch holding `outlier_index` labels is an error.
    """

    def __init__(
        self,
        model: Mapping[str, Any],
        ignore_index: int = IGNORE_INDEX,
        loss_at: str = "full",
        confidence: Mapping[str, float] | None = None,
        outlier: Mapping[str, Any] | None = None,
        outlier_index: int = OUTLIER_INDEX,
        channels_last: bool = False,
        data_preprocessor: Mapping | None = None,
        init_cfg: Mapping | None = None,
    ) -> None:
        super().__init__(_preprocessor(data_preprocessor, channels_last), init_cfg)
        if loss_at not in LOSS_AT:
            raise SegoodError(f"model.loss_at={loss_at!r} must be one of {LOSS_AT}")
        self.model = build_model(model)
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.ignore_index = ignore_index
        self.loss_at = loss_at
        self.with_confidence = getattr(self.model, "confidence_head", None) is not None
        conf = {"lam": 0.1, "budget": 0.3, **dict(confidence or {})}
        unknown = set(conf) - {"lam", "budget"}
        if unknown:
            raise SegoodError(
                f"model.confidence has unknown keys {sorted(unknown)}; use lam, budget"
            )
        self.outlier_index = int(outlier_index)
        self.outlier = self._outlier_config(outlier)
        self.objective = self._objective(conf)

    def _objective(self, conf: Mapping[str, float]) -> Objective:
        """The main head's loss: confidence branch, outlier training or plain CE."""
        indices = (self.ignore_index, self.outlier_index)
        if self.with_confidence:
            return ConfidenceBranch(*indices, conf["lam"], conf["budget"])
        if self.outlier is None:
            return CrossEntropy(*indices, self.model.num_classes)
        settings = {k: v for k, v in self.outlier.items() if k != "type"}
        if self.outlier["type"] == "oe":
            return OutlierExposure(*indices, **settings)
        return EnergyBounded(*indices, **settings)

    @property
    def conf_lambda(self) -> Tensor:
        """The confidence penalty's current weight (float64 scalar)."""
        return self.objective.lam

    @property
    def energy_margins(self) -> Tensor:
        """(m_in, m_out) of energy-bounded training, NaN until set (float64)."""
        return self.objective.margins

    def _outlier_config(self, outlier: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if outlier is None:
            return None
        outlier = dict(outlier)
        kind = outlier.get("type")
        if kind not in OUTLIER_KEYS:
            raise SegoodError(f"model.outlier.type={kind!r} must be one of {sorted(OUTLIER_KEYS)}")
        unknown = set(outlier) - set(OUTLIER_KEYS[kind])
        if unknown:
            raise SegoodError(
                f"model.outlier (type={kind!r}) has unknown keys {sorted(unknown)}; use "
                f"{', '.join(sorted(OUTLIER_KEYS[kind]))}"
            )
        if self.with_confidence:
            raise SegoodError("model.outlier cannot be combined with the confidence branch")
        num_classes = self.model.num_classes
        if 0 <= self.outlier_index < num_classes or self.outlier_index == self.ignore_index:
            raise SegoodError(
                f"model.outlier_index={self.outlier_index} must be neither a class id "
                f"(0..{num_classes - 1}) nor the ignore index {self.ignore_index}"
            )
        cfg = {**OUTLIER_KEYS[kind], **outlier}
        if not float(cfg["weight"]) >= 0:
            raise SegoodError(f"model.outlier.weight={cfg['weight']} must be >= 0")
        if kind == "energy":
            if (cfg["m_in"] is None) != (cfg["m_out"] is None):
                raise SegoodError(
                    "model.outlier: give both m_in and m_out, or neither (then both are set "
                    "relative to the in-distribution energies at the first step)"
                )
            if cfg["m_in"] is not None:
                check_margins(float(cfg["m_in"]), float(cfg["m_out"]))
        return cfg

    # --- training state outside the network weights (see TrainStateHook) ---
    def train_state_dict(self) -> dict[str, Any]:
        return self.objective.train_state()

    def load_train_state_dict(self, state: Mapping[str, Any]) -> None:
        self.objective.load_train_state(state)

    def forward(
        self, inputs: Tensor, data_samples: Mapping[str, Any] | None = None, mode: str = "tensor"
    ) -> dict[str, Tensor] | list[dict[str, Any]] | Tensor:
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.model(inputs)
        raise ValueError(f"mode={mode!r} must be 'loss', 'predict' or 'tensor'")

    def loss(self, inputs: Tensor, data_samples: Mapping[str, Any]) -> dict[str, Tensor]:
        labels = data_samples["labels"]  # (B, H, W)
        layer3, layer4 = self.model.forward_encoder(inputs)
        size = tuple(inputs.shape[-2:]) if self.loss_at == "full" else tuple(layer4.shape[-2:])
        target = nearest_labels(labels, size)  # (B, h, w)
        out = self.model.forward_heads(layer3, layer4, size)
        losses = self.objective(out, target)
        if out.aux_logits is not None:
            aux_target = target.masked_fill(target == self.outlier_index, self.ignore_index)
            aux = ce_loss(out.aux_logits, aux_target, self.ignore_index)
            losses["loss_aux"] = self.model.aux_weight * aux
        return losses

    @torch.no_grad()
    def predict(
        self, inputs: Tensor, data_samples: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Per image: `pred` (h, w) argmax, `label` (h, w) if given, `confidence` with the
        branch; cropped to the image's size before padding."""
        out = self.model(inputs, return_features=True)
        preds = out.logits.argmax(dim=1)  # (B, H, W)
        return _per_image(
            data_samples,
            len(inputs),
            pred=preds,
            confidence=out.confidence,
        )


@MODELS.register_module()
class AEModel(BaseModel):
    """Autoencoder training: pixel reconstruction loss (the AutoEncoder's `loss`, MSE or L1) on
    in-distribution images, over real pixels only (batch padding is excluded)."""

    def __init__(
        self,
        model: Mapping[str, Any],
        channels_last: bool = False,
        data_preprocessor: Mapping | None = None,
        init_cfg: Mapping | None = None,
    ) -> None:
        super().__init__(_preprocessor(data_preprocessor, channels_last), init_cfg)
        self.model = build_model(model)
        if channels_last:
            self.model.to(memory_format=torch.channels_last)

    def forward(
        self, inputs: Tensor, data_samples: Mapping[str, Any] | None = None, mode: str = "tensor"
    ) -> dict[str, Tensor] | list[dict[str, Any]] | Tensor:
        if mode == "loss":
            return {"loss_rec": self.loss(inputs, data_samples)}
        if mode == "predict":
            score = reconstruction_error(inputs, self.model(inputs))  # (B, H, W)
            return _per_image(data_samples, len(inputs), score=score)
        if mode == "tensor":
            return self.model(inputs)
        raise ValueError(f"mode={mode!r} must be 'loss', 'predict' or 'tensor'")

    def loss(self, inputs: Tensor, data_samples: Mapping[str, Any] | None) -> Tensor:
        x_hat = self.model(inputs)
        valid = None if data_samples is None else data_samples.get("valid")
        if valid is None or bool(valid.all()):
            return reconstruction_loss(x_hat, inputs, kind=self.model.loss)
        diff = x_hat - inputs
        err = diff.pow(2) if self.model.loss == "mse" else diff.abs()  # (B, C, H, W)
        mask = valid[:, None].to(err.dtype)
        return (err * mask).sum() / (mask.sum() * err.shape[1]).clamp_min(1)


def _per_image(
    data_samples: Mapping[str, Any] | None, batch: int, **maps: Tensor | None
) -> list[dict[str, Any]]:
    """Split batched (B, H, W) maps into per-image dicts, cropped to each image's size."""
    data_samples = data_samples or {}
    sizes = data_samples.get("sizes")
    labels = data_samples.get("labels")
    names = data_samples.get("names")
    results = []
    for i in range(batch):
        h, w = sizes[i] if sizes is not None else next(m for m in maps.values()).shape[-2:]
        item: dict[str, Any] = {k: m[i, :h, :w] for k, m in maps.items() if m is not None}
        if labels is not None:
            item["label"] = labels[i, :h, :w]
        if names is not None:
            item["name"] = names[i]
        results.append(item)
    return results
