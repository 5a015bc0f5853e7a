"""Render RGBA sprites of the sim props reserved for outlier exposure (never test anomalies).

    python tools/make_outlier_sprites.py --out demo_out/outlier_sprites [--count 200] [--size 96]

The folder is what the paste transform of configs/outlier/*.py reads
(`train_dataloader.dataset.transform.paste.folder`, or `--cfg-options outlier_sprites=DIR`).
See sim/sprites.py; the library split is in sim/server/props.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the sprites (made if new)")
    p.add_argument("--count", type=int, default=200, help="number of sprites (default 200)")
    p.add_argument("--size", type=int, default=96, help="sprite side in pixels (default 96)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.count < 1 or not 8 <= args.size <= 1024:
        print("error: --count must be >= 1 and --size within 8..1024", file=sys.stderr)
        return 2
    # sim/ is a top-level package of the repository (an editable install made before it existed
    # does not list it): make it importable when this script is run by path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sim.sprites import make_sprites

    paths = make_sprites(args.out, args.count, args.size, args.seed)
    print(f"{len(paths)} sprites in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
