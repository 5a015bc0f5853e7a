"""What one `sim.generate` run asks for: its command line, checked once, as a frozen record.

`RunSpec.from_args` checks everything that needs no server (nothing is written before it
passes); the generator then reads the spec, never the argparse Namespace. The server-dependent
part (towns on the server, anomaly props, the warm-up default) is resolved later into a
`sim.frame.Job`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path

from segood.errors import SegoodError
from sim import plan, splits, writer


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    """--host, --port and --timeout: the CARLA server a tool talks to."""
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2000)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per CARLA call")


@dataclass(frozen=True)
class RunSpec:
    host: str
    port: int
    timeout: float  # seconds per CARLA call
    retries: int  # reconnect attempts after a failure
    split: str
    frames: int  # in the whole split
    out: Path  # dataset root
    width: int
    height: int
    fov: float
    seed: int
    towns: str | None  # comma-separated; None: the split's default towns
    anomalies: int  # props per frame: 0 outside the test split
    anomaly_blueprints: str | None  # ids, or @FILE
    anomaly_meshes: Path | None
    warmup_ticks: int | None  # None: the server kind's default
    exposure: str  # "histogram" or "manual"
    shard: plan.Shard
    progress: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunSpec:
        """The checked spec of `python -m sim.generate`'s arguments (SegoodError if bad)."""
        shard = plan.parse_shard(args.shard)
        anomalies = splits.anomaly_count(args.split, args.anomalies)
        if args.retries < 0:
            raise SegoodError(f"--retries must be >= 0, got {args.retries}")
        if args.frames < 1:
            raise SegoodError(f"--frames must be >= 1, got {args.frames}")
        if not (16 <= args.width <= 4096 and 16 <= args.height <= 4096):
            raise SegoodError("--width/--height must be within 16..4096")
        if not 1 <= args.fov <= 170:
            raise SegoodError(f"--fov must be within 1..170 degrees, got {args.fov:g}")
        if args.warmup_ticks is not None and not 0 <= args.warmup_ticks <= 1000:
            raise SegoodError(f"--warmup-ticks must be within 0..1000, got {args.warmup_ticks}")
        writer.check_out(args.out)
        # the fields named as their flags, then those the checks above turned into values
        same = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        checked = {"out": Path(args.out), "anomalies": anomalies, "shard": shard}
        return cls(**(same | checked), progress=not args.no_progress)
