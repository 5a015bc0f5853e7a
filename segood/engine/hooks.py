"""Hooks: atomic checkpoints, the training state saved beside the weights (RNG streams,
lambda, a weights-only message hub) and the training progress (a bar, or lines in a log)."""

from __future__ import annotations

import os.path as osp
import random
import sys
from typing import Any

import numpy as np
import torch
from mmengine.dist import is_main_process, master_only
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from segood.engine.checkpoint import _encode, decode_message_hub, encode_message_hub
from segood.io import atomic_write_text
from segood.progress import show_progress

ATOMIC_BACKEND = {"backend": "atomic_local"}


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if is_model_wrapper(model) else model


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's CheckpointHook, but every file it writes (the checkpoint and `last_checkpoint`)
    is written to a temporary file and os.replace'd: a kill mid-save never leaves a truncated
    checkpoint or pointer behind. Same arguments as CheckpointHook."""

    def __init__(self, *args: Any, backend_args: dict | None = None, **kwargs: Any) -> None:
        super().__init__(*args, backend_args=backend_args or dict(ATOMIC_BACKEND), **kwargs)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        # Same as CheckpointHook._save_checkpoint_with_step (mmengine 0.10.7) except that the
        # `last_checkpoint` pointer is written atomically.
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                old = self.keep_ckpt_ids.popleft()
                if is_main_process():
                    path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old))
                    if self.file_backend.isfile(path):
                        self.file_backend.remove(path)
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args,
        )
        if is_main_process():
            atomic_write_text(osp.join(runner.work_dir, "last_checkpoint"), str(self.last_ckpt))


def get_rng_state() -> dict[str, Any]:
    """Every global RNG stream as tensors/lists (weights-only-safe)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002 (the global stream)
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        "python": list(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    legacy = (name, keys.numpy().astype(np.uint32), pos, has_gauss, gauss)
    np.random.set_state(legacy)  # noqa: NPY002 (the global stream)
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@HOOKS.register_module()
class TrainStateHook(Hook):
    """Saves what exact resumption needs besides weights/optimizer/schedulers and keeps every
    checkpoint weights-only-loadable.

    On save: the message hub is encoded as tensors (see `segood.engine.checkpoint`), and
    `checkpoint["train_state"]` gets the RNG streams (torch, CUDA, NumPy, Python; rank 0's,
    which equal every rank's with the default `diff_rank_seed=False`) and the model's
    `train_state_dict()` (the confidence branch's lambda).
    On resume: the model state is restored at once and the RNG streams right before the first
    resumed iteration (after the data loader has been rebuilt). Validation runs between a save
    and the next iteration, so it is made RNG-neutral (states saved before, restored after):
    training draws the same numbers with or without validation.
    On fine-tuning (`load_from`): a confidence branch the model does not have is dropped from
    the weights (e.g. outlier training, which has no branch, starting from the demo's model
    with one), said in one line, instead of mmengine's "unexpected key" warning.
    """

    priority = "VERY_HIGH"

    def __init__(self) -> None:
        self._pending_rng: dict | None = None
        self._val_rng: dict | None = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint["message_hub"] = encode_message_hub(checkpoint["message_hub"])
        checkpoint["meta"] = _encode(checkpoint["meta"])
        model = unwrap(runner.model)
        model_state = model.train_state_dict() if hasattr(model, "train_state_dict") else {}
        checkpoint["train_state"] = {"rng": get_rng_state(), "model": model_state}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if "message_hub" in checkpoint:
            checkpoint["message_hub"] = decode_message_hub(checkpoint["message_hub"])
        if not getattr(runner, "_resume", False):
            _drop_absent_branch(runner, checkpoint)
            return  # load_from (fine-tuning): weights only
        state = checkpoint.get("train_state", {})
        model = unwrap(runner.model)
        if hasattr(model, "load_train_state_dict"):
            model.load_train_state_dict(state.get("model", {}))
        self._pending_rng = state.get("rng")

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None:
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None

    def before_val(self, runner) -> None:
        self._val_rng = get_rng_state()

    def after_val(self, runner) -> None:
        if self._val_rng is not None:
            set_rng_state(self._val_rng)
            self._val_rng = None


BRANCH_PREFIX = "model.confidence_head."


def _drop_absent_branch(runner, checkpoint: dict) -> None:
    network = getattr(unwrap(runner.model), "model", None)
    if network is None or getattr(network, "confidence_head", None) is not None:
        return
    weights = checkpoint.get("state_dict", {})
    branch = [key for key in weights if key.startswith(BRANCH_PREFIX)]
    for key in branch:
        del weights[key]
    if branch:
        print_log(
            "load_from: the checkpoint's confidence branch is not part of this model; its "
            f"{len(branch)} weights are left out",
            logger="current",
        )


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Training progress on the main process (to stderr), with the loss and learning rate,
    from the resumed iteration: a tqdm bar on a terminal, progress lines (iteration i/N, loss,
    eta) in a log or CI output (`segood.progress`). Shown whatever the log level."""

    priority = "BELOW_NORMAL"

    def __init__(self, disable: bool = False) -> None:
        self.disable = disable
        self.bar = None

    @master_only
    def before_train(self, runner) -> None:
        self.bar = show_progress(
            total=runner.max_iters,
            initial=runner.iter,
            desc="train",
            unit="it",
            disable=self.disable,
            file=sys.stderr,
        )

    @master_only
    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.bar is None:
            return
        post = {}
        if outputs and "loss" in outputs:
            post["loss"] = f"{float(outputs['loss'].detach()):.4f}"
        lr = runner.optim_wrapper.get_lr()
        if lr:
            post["lr"] = f"{next(iter(lr.values()))[0]:.2e}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(1)

    @master_only
    def after_train(self, runner) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
