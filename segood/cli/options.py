"""The arguments several tools take, declared once so that they mean the same everywhere."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from mmengine.config import DictAction

from segood.arguments import LAUNCHERS
from segood.errors import SegoodError

DEVICE_HELP = (
    "cpu, cuda, cuda:N or mps (default: cuda if available); with --launcher, each process takes "
    "the GPU of its local rank, or the CPU with --device cpu"
)


class ConfigOptions(DictAction):
    """mmengine's `--cfg-options KEY=VALUE ...` (dotted keys; `a=1,2` and `a=[1,2]` are lists,
    `a=(1,2)` a tuple, true/false (any case) and None their Python values), where a pair that
    cannot be read is one SegoodError naming it instead of a traceback."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for pair in values or ():
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise SegoodError(
                    f"--cfg-options takes KEY=VALUE pairs (e.g. data_root=/data/sh), got {pair!r}"
                )
            try:
                options[key] = self._parse_iterable(value)
            except (AssertionError, ValueError, IndexError):
                raise SegoodError(
                    f"--cfg-options {pair}: the value's brackets or quotes do not match; write a "
                    "list as KEY=[a,b] and a tuple as KEY=(a,b)"
                ) from None
        setattr(namespace, self.dest, options)


def add_config(parser: argparse.ArgumentParser, help: str, optional: bool = False) -> None:
    """CONFIG (an mmengine Python config; `optional`: may be left out) and `--cfg-options` to
    override its keys; load both with `segood.cli.config.load_config`."""
    parser.add_argument("config", nargs="?" if optional else None, help=help)
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=ConfigOptions,
        default={},
        metavar="KEY=VALUE",
        help="override config keys, e.g. data_root=/data/sh train_cfg.max_iters=100 "
        "(data_root reaches every dataset of the config and its evaluation record)",
    )


def add_device(parser: argparse.ArgumentParser, **kwargs: Any) -> None:
    """`--device`; check it with `segood.cli.distributed.select_device`."""
    parser.add_argument("--device", help=DEVICE_HELP, **kwargs)


def add_launcher(parser: argparse.ArgumentParser) -> None:
    """`--launcher` (how the processes were started); apply it with
    `segood.cli.distributed.init_distributed`."""
    parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="none",
        help="none: one process; pytorch: started by torchrun; slurm: by srun; mpi: by mpirun",
    )
    parser.add_argument(
        "--local-rank", "--local_rank", action=LocalRank, type=int, help=argparse.SUPPRESS
    )


class LocalRank(argparse.Action):
    """torch.distributed.launch (before torchrun) passes --local-rank N; torchrun sets
    LOCAL_RANK, which wins."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        os.environ.setdefault("LOCAL_RANK", str(values))
        setattr(namespace, self.dest, values)


def add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (a log still gets lines)"
    )
