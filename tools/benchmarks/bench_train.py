"""Training throughput on this machine: images/s and peak memory per config.

    python tools/benchmarks/bench_train.py [--size 64 128] [--iters 3] [--configs A.py B.py]

Each config runs in a fresh subprocess (so peak RSS is its own): the config's model wrapper and
optimizer are built as the Runner builds them, then `--iters` timed `train_step`s (after one
warm-up step) on a synthetic batch of the config's batch size at `--size` (H W). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIGS = (
    "configs/pspnet_r18-d8_1xb2-tiny_streethazards.py",
    "configs/pspnet-conf_r18-d8_1xb2-tiny_streethazards.py",
    "configs/ae_1xb2-tiny_streethazards.py",
    "configs/pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py",
)


def measure(config: str, size: tuple[int, int], iters: int) -> dict:
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS

    from segood.engine import load_config

    cfg = load_config(REPO / config, {"model.model.pretrained": None} if "r101" in config else {})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = cfg.train_dataloader.batch_size
    h, w = size
    num_classes = cfg.model.model.get("num_classes", 13)
    data = {
        "inputs": torch.randn(batch, 3, h, w),
        "data_samples": {
            "labels": torch.randint(0, num_classes, (batch, h, w)),
            "valid": torch.ones(batch, h, w, dtype=torch.bool),
        },
    }
    model.train_step(data, optim)  # warm-up
    start = time.perf_counter()
    for _ in range(iters):
        model.train_step(data, optim)
    elapsed = time.perf_counter() - start
    return {
        "config": Path(config).stem,
        "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
        "batch": batch,
        "size": f"{h}x{w}",
        "s_per_iter": elapsed / iters,
        "images_per_s": batch * iters / elapsed,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS))
    parser.add_argument("--size", nargs=2, type=int, default=(64, 128), metavar=("H", "W"))
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one config
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, tuple(args.size), args.iters)))
        return 0
    rows = []
    for config in args.configs:
        cmd = [sys.executable, __file__, "--one", config, "--iters", str(args.iters),
               "--size", *map(str, args.size)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
        if done.returncode != 0:
            print(f"{config}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    header = f"{'config':56s} {'params':>8s} {'batch':>5s} {'size':>8s} {'s/iter':>7s} "
    header += f"{'img/s':>7s} {'peak RSS':>9s}"
    print(header)
    for r in rows:
        print(
            f"{r['config']:56s} {r['params_m']:7.1f}M {r['batch']:5d} {r['size']:>8s} "
            f"{r['s_per_iter']:7.3f} {r['images_per_s']:7.2f} {r['peak_rss_mb']:7.0f}MB"
        )
    if rows:
        print(f"(CPU, {rows[0]['threads']} torch threads, {args.iters} timed iterations each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
