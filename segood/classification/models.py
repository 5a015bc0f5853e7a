"""Classifiers for the classification protocols: a small CNN, and checkpoints of torchvision or
timm architectures read from a local file (never downloaded).

Every model used here gives `forward_features(x)` (N, D) (the penultimate features) and
`forward_head(features)` (N, C), so one forward pass yields both logits and features.
`dropout_passes` runs T passes with only the dropout layers in training mode (batch norm stays
in eval mode) and returns the `dropout_logits` (T, N, C) that the `mc_dropout` scorer reads.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from segood.errors import SegoodError


class SmallCNN(nn.Module):
    """conv(32)-conv(64)-pool-conv(128)-global pool -> dropout -> linear; optional rotation head.

    Small enough to train on 8x8 digits or 32x32 images on a CPU in minutes. The rotation head
    (4-way: 0/90/180/270 degrees) shares the features (Hendrycks et al. 2019's auxiliary task).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        width: int = 32,
        dropout: float = 0.3,
        rotation_head: bool = False,
    ) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.num_features = 4 * w
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.num_features, num_classes)
        self.rotation = nn.Linear(self.num_features, 4) if rotation_head else None

    def forward_features(self, x: Tensor) -> Tensor:  # (N, c, H, W) -> (N, D)
        return self.body(x)

    def forward_head(self, features: Tensor) -> Tensor:  # (N, D) -> (N, C)
        return self.fc(self.dropout(features))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


class Wrapped(nn.Module):
    """A torchvision/timm classifier split at its last linear layer into features and head."""

    def __init__(self, model: nn.Module, head_name: str) -> None:
        super().__init__()
        self.model = model
        self.head_name = head_name
        self._features: Tensor | None = None
        head = self.model.get_submodule(head_name)
        head.register_forward_pre_hook(self._grab)

    def _grab(self, module: nn.Module, args: tuple) -> None:
        self._features = args[0].flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    def forward_with_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.model(x)
        return logits, self._features


def logits_and_features(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """One forward pass: (logits (N, C), penultimate features (N, D))."""
    if isinstance(model, Wrapped):
        return model.forward_with_features(x)
    features = model.forward_features(x)
    return model.forward_head(features), features


@torch.no_grad()
def dropout_passes(model: nn.Module, x: Tensor, passes: int) -> Tensor:
    """(T, N, C) logits of T passes with the dropout layers on and everything else in eval."""
    if passes < 2:
        raise SegoodError(f"MC dropout needs at least 2 passes, got {passes}")
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout | nn.Dropout2d)]
    if not drops:
        raise SegoodError(
            f"{type(model).__name__} has no dropout layer, so MC dropout has nothing to sample; "
            "drop mc_dropout (--mc-passes 0) or use a model with dropout"
        )
    was = model.training
    model.eval()
    for m in drops:
        m.train()
    try:
        return torch.stack([model(x) for _ in range(passes)])
    finally:
        model.train(was)


def _last_linear(model: nn.Module) -> str:
    name = None
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear):
            name = n
    if name is None:
        raise SegoodError(f"{type(model).__name__} has no linear classifier layer to read")
    return name


def load_classifier(
    arch: str, weights: str | Path, *, use_timm: bool = False, num_classes: int | None = None
) -> nn.Module:
    """A torchvision (or timm) architecture with a local state dict, in eval mode.

    The class count is read from the state dict's last linear layer unless given. Nothing is
    downloaded: the architecture is built without pretrained weights, then the file is loaded
    with `weights_only=True`.
    """
    from segood.models.state_dicts import as_state_dict, read_weights_file

    state = as_state_dict(
        read_weights_file(weights, "classifier weights"),
        weights,
        "classifier weights",
        "a state dict saved with torch.save(model.state_dict(), path)",
    )
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if num_classes is None:
        two_d = [(k, v) for k, v in state.items() if k.endswith("weight") and v.ndim == 2]
        if not two_d:
            raise SegoodError(f"{weights}: cannot infer the class count; pass --num-classes")
        num_classes = int(two_d[-1][1].shape[0])
    try:
        if use_timm:
            import timm

            model = timm.create_model(arch, pretrained=False, num_classes=num_classes)
        else:
            import torchvision

            model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    except (ValueError, RuntimeError, KeyError) as err:
        lib = "timm" if use_timm else "torchvision"
        raise SegoodError(f"{lib} has no model {arch!r} ({err}); check --arch") from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        reason = str(err).strip().splitlines()[-1][:300]
        raise SegoodError(f"{weights} does not fit {arch}: {reason}; check --arch") from None
    if missing or unexpected:
        raise SegoodError(
            f"{weights} does not fit {arch}: {len(missing)} missing keys (e.g. "
            f"{missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}); check --arch "
            "and --timm"
        )
    return Wrapped(model, _last_linear(model)).eval()
