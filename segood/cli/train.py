"""Train a segood model from an mmengine config (`segood-train`, `tools/train.py`).

    segood-train CONFIG [--work-dir DIR] [--cfg-options k=v ...] [--resume]
                        [--device cpu|cuda|cuda:N] [--launcher none|pytorch|slurm|mpi]
    torchrun --nproc-per-node 4 tools/train.py CONFIG --launcher pytorch

The resolved config is saved in the work dir (default work_dirs/<config name>); `--resume`
continues from the last checkpoint there (iteration, optimizer, LR schedule, lambda, RNG).
`--cfg-options data_root=/path` points every dataset of the config at /path.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from segood.cli.app import command, parser
from segood.cli.options import add_config, add_device, add_launcher


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__)
    add_config(p, "training config file (configs/*.py)")
    p.add_argument("--work-dir", help="where logs, checkpoints and the config go")
    p.add_argument(
        "--resume", action="store_true", help="resume from the last checkpoint in the work dir"
    )
    add_device(p)
    add_launcher(p)
    return p.parse_args(argv)


@command("segood-train", "rerun with --resume to continue from the last checkpoint")
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from segood.cli.config import load_config
    from segood.cli.distributed import init_distributed, select_device

    select_device(args.device, args.launcher)  # before anything asks torch about CUDA
    cfg = load_config(args.config, args.cfg_options, training=True)
    if args.launcher != "none":
        dist_cfg = cfg.get("env_cfg", {}).get("dist_cfg", {})
        init_distributed(args.launcher, args.device, timeout_s=dist_cfg.get("timeout"))
    from segood.engine import build_runner

    runner = build_runner(
        cfg,
        work_dir=args.work_dir,
        resume=args.resume,
        launcher=args.launcher,
        config_path=args.config,
    )
    runner.train()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
