"""`build_model(dict(type=..., **kwargs))`: plain dicts so mmengine configs can describe models
without segood.models depending on an mmengine registry (the training code wraps this)."""

import inspect
import typing
from collections.abc import Mapping
from typing import Any

from torch import nn

from segood.errors import SegoodError
from segood.models.autoencoder import AutoEncoder
from segood.models.pspnet import PSPNet

MODELS: dict[str, type[nn.Module]] = {"PSPNet": PSPNet, "AutoEncoder": AutoEncoder}


def build_model(cfg: Mapping[str, Any] | None = None, **kwargs: Any) -> nn.Module:
    """Build a model from `cfg` (a dict with `type`) and/or keyword arguments (which win).

    e.g. build_model(dict(type="PSPNet", encoder="resnet101", num_classes=13, aux_weight=0.4))
    """
    params = {**dict(cfg or {}), **kwargs}
    name = params.pop("type", None)
    if name not in MODELS:
        raise SegoodError(f"model.type={name!r} is unknown; use one of {sorted(MODELS)}")
    cls = MODELS[name]
    accepted = set(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise SegoodError(
            f"model config for {name} has unknown keys {unknown}; accepted keys are "
            f"{sorted(accepted)}"
        )
    check_value_types(name, cls, params)
    try:
        return cls(**params)
    except TypeError as e:  # a required argument is missing
        raise SegoodError(f"model config for {name}: {e}") from e


KINDS = {int: "an integer", float: "a number", bool: "True or False"}


def check_value_types(name: str, cls: type, params: Mapping[str, Any]) -> None:
    """Arguments annotated `int`, `float` or `bool` must be one (e.g. a `--cfg-options` typo
    `decoder_channels=abc` is named here, not deep inside a layer)."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # unresolvable annotations: nothing to check against
        return
    for key, value in params.items():
        expected = hints.get(key)
        if expected in KINDS and not _has_type(value, expected):
            raise SegoodError(f"model config for {name}: {key}={value!r} must be {KINDS[expected]}")


def _has_type(value: Any, expected: type) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    allowed = (int, float) if expected is float else (int,)
    return isinstance(value, allowed) and not isinstance(value, bool)
