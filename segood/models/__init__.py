"""Models of the CAOS benchmark: PSPNet (+ confidence branch) and the autoencoder baseline."""

from segood.models.autoencoder import AutoEncoder, reconstruction_error
from segood.models.builder import MODELS, build_model
from segood.models.checkpoint import LoadResult, load_model_weights, load_network
from segood.models.losses import (
    AdaptiveLambda,
    ConfidenceLoss,
    confidence_branch_loss,
    reconstruction_loss,
)
from segood.models.outputs import SegOutput
from segood.models.pspnet import PSPNet

__all__ = [
    "MODELS",
    "AdaptiveLambda",
    "AutoEncoder",
    "ConfidenceLoss",
    "LoadResult",
    "PSPNet",
    "SegOutput",
    "build_model",
    "confidence_branch_loss",
    "load_model_weights",
    "load_network",
    "reconstruction_error",
    "reconstruction_loss",
]
