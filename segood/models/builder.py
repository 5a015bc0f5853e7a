"""`build_model(dict(type=..., **kwargs))`: plain dicts so mmengine configs can describe models
without segood.models depending on an mmengine registry (the training code wraps this)."""

import inspect
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
    try:
        return cls(**params)
    except TypeError as e:  # a required argument is missing
        raise SegoodError(f"model config for {name}: {e}") from e
