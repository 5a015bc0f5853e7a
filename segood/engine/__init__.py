"""Training with mmengine: model wrappers, data glue, metric, hooks, loop and Runner helpers.

Importing this package registers everything in mmengine's root registries (plain
`register_module()`, no scoped registries); configs import it through `custom_imports`.
"""

from segood.config import load_config
from segood.engine.checkpoint import (
    AtomicLocalBackend,
    decode_message_hub,
    encode_message_hub,
    load_from_local_weights_only,
)
from segood.engine.data import (
    ResumableInfiniteSampler,
    SegDataPreprocessor,
    SegoodDataset,
    seg_collate,
)
from segood.engine.hooks import AtomicCheckpointHook, ProgressBarHook, TrainStateHook
from segood.engine.loops import SegIterLoop
from segood.engine.metrics import MeanIoU
from segood.engine.models import AEModel, SegModel
from segood.engine.runner import build_runner, user_message
from segood.models.outlier_losses import energy_bounded_loss, outlier_exposure_loss

__all__ = [
    "AEModel",
    "AtomicCheckpointHook",
    "AtomicLocalBackend",
    "MeanIoU",
    "ProgressBarHook",
    "ResumableInfiniteSampler",
    "SegDataPreprocessor",
    "SegIterLoop",
    "SegModel",
    "SegoodDataset",
    "TrainStateHook",
    "build_runner",
    "decode_message_hub",
    "encode_message_hub",
    "energy_bounded_loss",
    "load_config",
    "load_from_local_weights_only",
    "outlier_exposure_loss",
    "seg_collate",
    "user_message",
]
