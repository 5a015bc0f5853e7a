"""Background-class probability.

The "Background" baseline of Hendrycks et al., "Scaling Out-of-Distribution Detection for
Real-World Settings", ICML 2022 (CAOS, table 4): the softmax probability of the background
class b, score = softmax(f)_b = exp(f_b - logsumexp_k f_k), higher = more anomalous.
"""

import torch
from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import Scorer
from segood.scorers.registry import register


def _check_class(logits: Tensor, class_index: int) -> None:
    num_classes = logits.shape[1]
    if not 0 <= class_index < num_classes:
        raise SegoodError(
            f"background class_index={class_index} does not exist: the logits have "
            f"{num_classes} classes (valid: 0..{num_classes - 1})"
        )


def background_prob(logits: Tensor, class_index: int = 0) -> Tensor:  # (B,C,H,W) -> (B,H,W)
    """softmax(f)_b with b = `class_index`, computed in log space."""
    _check_class(logits, class_index)
    return torch.exp(logits[:, class_index] - torch.logsumexp(logits, dim=1))


def reference_background(outputs: Tensor, class_index: int = 0) -> Tensor:  # -> (B, H, W)
    """-x_b: the reference code's "background" score on its decoder output x, as given."""
    _check_class(outputs, class_index)
    return -outputs[:, class_index]


@register("background")
class Background(Scorer):
    """Probability of the background class `class_index` (CAOS paper's Background baseline)."""

    def __init__(self, class_index: int = 0, reference: bool = False) -> None:
        if isinstance(class_index, bool) or not isinstance(class_index, int) or class_index < 0:
            raise SegoodError(
                f"background: class_index must be an integer >= 0, got {class_index!r}"
            )
        if not isinstance(reference, bool):
            raise SegoodError(f"background: reference must be True or False, got {reference!r}")
        self.class_index = class_index
        self.reference = reference

    def score(self, logits: Tensor) -> Tensor:
        if self.reference:
            return reference_background(logits, self.class_index)
        return background_prob(logits, self.class_index)
