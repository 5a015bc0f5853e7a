"""`SegIterLoop`: mmengine's iteration-based loop with epochs as the unit and a cheap resume.

- `max_epochs=20` means 20 passes over the training set whatever the number of processes:
  max_iters = max_epochs * len(train_dataloader) (iterations per epoch, see the sampler).
- On resume, mmengine's loop calls `next()` on the data loader once per trained iteration
  (reading and augmenting every image again); with a `ResumableInfiniteSampler` this loop
  instead moves the sampler to the first unseen sample and rebuilds the iterator.
"""

from __future__ import annotations

import logging

from mmengine.logging import print_log
from mmengine.registry import LOOPS
from mmengine.runner.loops import IterBasedTrainLoop, _InfiniteDataloaderIterator

from segood.errors import SegoodError


@LOOPS.register_module()
class SegIterLoop(IterBasedTrainLoop):
    """Give exactly one of `max_iters` or `max_epochs`; other arguments as IterBasedTrainLoop."""

    def __init__(
        self,
        runner,
        dataloader,
        max_iters: int | None = None,
        max_epochs: int | float | None = None,
        val_begin: int = 1,
        val_interval: int = 1000,
        dynamic_intervals=None,
    ) -> None:
        if (max_iters is None) == (max_epochs is None):
            raise SegoodError(
                f"train_cfg needs exactly one of max_iters / max_epochs (got max_iters={max_iters},"
                f" max_epochs={max_epochs})"
            )
        # the parent builds the dataloader; max_iters is fixed right after
        super().__init__(runner, dataloader, 1, val_begin, val_interval, dynamic_intervals)
        if max_epochs is not None:
            max_iters = max(1, round(max_epochs * len(self.dataloader)))
        self._max_iters = int(max_iters)
        self.iters_per_epoch = len(self.dataloader)

    def _fast_forward(self, iters: int) -> None:
        sampler = self.dataloader.sampler
        if not hasattr(sampler, "set_start"):
            print_log(
                f"Advance dataloader {iters} steps to skip data that has already been trained",
                logger="current",
                level=logging.WARNING,
            )
            for _ in range(iters):
                next(self.dataloader_iterator)
            return
        sampler.seed = self.runner.seed  # the checkpoint's seed, if resume changed it
        sampler.set_start(iters * self.dataloader.batch_size)
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)
        print_log(f"Resumed the data stream at iteration {iters}", logger="current")

    def run(self):
        """IterBasedTrainLoop.run (mmengine 0.10.7) with `_fast_forward` on resume."""
        self.runner.call_hook("before_train")
        self.runner.call_hook("before_train_epoch")
        if self._iter > 0:
            self._fast_forward(self._iter)
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (
                self.runner.val_loop is not None
                and self._iter >= self.val_begin
                and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)
            ):
                self.runner.val_loop.run()
        self.runner.call_hook("after_train_epoch")
        self.runner.call_hook("after_train")
        return self.runner.model
