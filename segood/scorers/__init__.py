"""Pixel-wise anomaly scorers: logits (B, C, H, W) -> scores (B, H, W), higher = more anomalous.

Logits (N, C) of a classifier are scored as (N, C, 1, 1) images and give (N,): one code path.
Adding a scorer is one new module in this package that decorates its class with
`@register("name")`; every module here is imported below, so it shows up in `available()`.
"""

import importlib
import pkgutil

from segood.scorers.base import FittedScorer, Scorer
from segood.scorers.registry import available, defaults_for, get, left_out_by_default, register

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in {"base", "registry"}:
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "FittedScorer",
    "Scorer",
    "available",
    "defaults_for",
    "get",
    "left_out_by_default",
    "register",
]
