"""A test-only hook that kills the training process hard (os._exit, no cleanup, no atexit)
after a given iteration, to test `tools/train.py --resume` on a really interrupted run."""

import os

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class CrashAfterIterHook(Hook):
    """os._exit(3) once iteration `after_iter` (1-based) has finished and its hooks ran."""

    priority = "LOWEST"

    def __init__(self, after_iter: int) -> None:
        self.after_iter = after_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.after_iter:
            os._exit(3)
