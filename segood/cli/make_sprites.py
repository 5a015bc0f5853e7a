"""Render RGBA sprites of the sim props reserved for outlier exposure, never test anomalies
(`segood-make-sprites`, `tools/make_outlier_sprites.py`).

    segood-make-sprites --out demo_out/outlier_sprites [--count 200] [--size 96]

The folder is what the paste transform of configs/outlier/*.py reads
(`train_dataloader.dataset.transform.paste.folder`, or `--cfg-options outlier_sprites=DIR`).
See sim/sprites.py; the library split is in sim/server/props.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from segood.cli.app import command, parser
from segood.errors import SegoodError


@command("segood-make-sprites", "rerun the same command to continue")
def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--out", type=Path, required=True, help="folder for the sprites (made if new)")
    p.add_argument("--count", type=int, default=200, help="number of sprites (default 200)")
    p.add_argument("--size", type=int, default=96, help="sprite side in pixels (default 96)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.count < 1 or not 8 <= args.size <= 1024:
        raise SegoodError("--count must be >= 1 and --size within 8..1024")
    from segood.arguments import check_output_dir
    from sim.sprites import make_sprites

    check_output_dir(args.out, "--out")
    paths = make_sprites(args.out, args.count, args.size, args.seed)
    print(f"{len(paths)} sprites in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
