"""AE: the reconstruction error of an autoencoder trained on in-distribution images.

Baseline of Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World Settings"
(ICML 2022), table 4: score = per-pixel squared error between the normalised image x and the
autoencoder's reconstruction x_hat, averaged over the colour channels,
s = (1/3) sum_c (x_c - x_hat_c)^2; higher = more anomalous.
"""

from torch import Tensor

from segood.errors import SegoodError
from segood.scorers.base import Scorer
from segood.scorers.registry import register


def reconstruction_error(x: Tensor, x_hat: Tensor) -> Tensor:  # (B, C, H, W) x2 -> (B, H, W)
    """Per-pixel squared error averaged over channels."""
    if x.shape != x_hat.shape:
        raise SegoodError(f"image {tuple(x.shape)} and reconstruction {tuple(x_hat.shape)} differ")
    return (x - x_hat).pow(2).mean(dim=1)


@register("ae", aliases=("autoencoder",))
class AutoEncoderError(Scorer):
    """Autoencoder reconstruction error per pixel (the CAOS paper's AE baseline)."""

    requires = ("image", "reconstruction")

    def score(self, image: Tensor, reconstruction: Tensor) -> Tensor:
        return reconstruction_error(image, reconstruction)
