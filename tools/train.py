"""Train a segood model from an mmengine config.

    python tools/train.py CONFIG [--work-dir DIR] [--cfg-options k=v ...] [--resume]
                                 [--device cpu|cuda|cuda:N] [--launcher none|pytorch|slurm]
    torchrun --nproc-per-node 4 tools/train.py CONFIG --launcher pytorch

The resolved config is saved in the work dir (default work_dirs/<config name>); `--resume`
continues from the last checkpoint there (iteration, optimizer, LR schedule, lambda, RNG).
`--cfg-options data_root=/path` points every dataset of the config at /path.
"""

from __future__ import annotations

import argparse
import os
import sys

from mmengine.config import DictAction


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", help="training config file (configs/*.py)")
    parser.add_argument("--work-dir", help="where logs, checkpoints and the config go")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        default={},
        help="override config keys, e.g. data_root=/data/sh train_cfg.max_iters=100",
    )
    parser.add_argument(
        "--resume", action="store_true", help="resume from the last checkpoint in the work dir"
    )
    parser.add_argument(
        "--device",
        help="cpu, cuda or cuda:N (default: cuda if available); launched processes (--launcher) "
        "each take the GPU of their local rank",
    )
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    parser.add_argument("--local-rank", "--local_rank", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("LOCAL_RANK", str(args.local_rank))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from segood.engine import build_runner, load_config, user_message
    from segood.errors import SegoodError

    try:
        select_device(args.device, args.launcher)
        cfg = load_config(args.config, args.cfg_options)
        runner = build_runner(
            cfg,
            work_dir=args.work_dir,
            resume=args.resume,
            launcher=args.launcher,
            config_path=args.config,
        )
        runner.train()
    except SegoodError as e:
        print(f"error: {user_message(e)}", file=sys.stderr)
        return 2
    return 0


def select_device(device: str | None, launcher: str) -> None:
    """Make mmengine's device choice (cuda if available) the one asked for."""
    from segood.arguments import check_device
    from segood.errors import SegoodError

    if device is None:
        return
    if launcher != "none":
        raise SegoodError(
            "--device is for one process; with --launcher each process takes the GPU of its "
            "local rank (choose GPUs with CUDA_VISIBLE_DEVICES)"
        )
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before anything asks torch about CUDA
        return
    check_device(device)
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.set_device(torch.device(device))


if __name__ == "__main__":
    sys.exit(main())
