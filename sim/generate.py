"""`python -m sim.generate`: make a StreetHazards-style split with a CARLA 0.9.16 server.

Example (a loopback server: `python -m sim.server --port 2000`):

    python -m sim.generate --split train --frames 40 --out data/mini_caos --width 400 --height 225
    python -m sim.generate --split test --frames 20 --anomalies 2 --out data/mini_caos ...

A frame's scene is deterministic in (--seed, --split, frame index) (on the loopback server its
pixels too); rerunning with a larger --frames extends a dataset (the result equals one run of
the larger size). --shard I/N makes every N-th
frame so N generators (one CARLA server each) split a dataset, and their --out folders merge
by copying. A killed run resumes when rerun with the same arguments, and cleans up what it left
on the server (sim/leftovers.py). See sim/plan.py (which frames), sim/frame.py (one frame),
sim/writer.py (files), sim/session.py (CARLA calls), sim/anomaly_set.py (which props).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from segood.errors import SegoodError
from sim import anomaly_set, leftovers, plan, splits, writer
from sim.frame import GENERATOR_VERSION, Job, make_frame
from sim.server import props
from sim.server.rpc import call
from sim.session import CameraSettings, ServerError, Session, backoff_delays

WARMUP = 10  # default warm-up ticks on a real server (0.5 s of simulated time at 20 Hz)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sim.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2000)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per CARLA call")
    p.add_argument("--retries", type=int, default=5, help="reconnect attempts after a failure")
    p.add_argument("--split", choices=splits.SPLITS, required=True)
    p.add_argument("--frames", type=int, required=True, help="frames in the whole split")
    p.add_argument("--out", type=Path, required=True, help="dataset root (holds train/, test/)")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--fov", type=float, default=90.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--towns",
        default=None,
        help="comma-separated towns of this split (default: train Town01,Town02,Town03;"
        " validation Town04; test Town05,Town06)",
    )
    p.add_argument(
        "--anomalies",
        type=int,
        default=None,
        help=f"props per test frame (default {splits.DEFAULT_ANOMALIES}; test only)",
    )
    p.add_argument(
        "--anomaly-blueprints",
        default=None,
        help="the anomaly props: comma-separated blueprint ids, or @FILE with one per line "
        "(default on the loopback server: static.prop.*; a real server needs a curated list)",
    )
    p.add_argument(
        "--anomaly-meshes",
        type=Path,
        default=None,
        help="FILE of packaged mesh paths for static.prop.mesh, 'MESH_PATH [SIZE] [SCALE]' per "
        f"line, SIZE one of {', '.join(anomaly_set.FOOTPRINT)}",
    )
    p.add_argument(
        "--warmup-ticks",
        type=int,
        default=None,
        help=f"ticks before each kept frame, so the renderer settles (default {WARMUP} on a "
        "real server, 0 on the loopback server, whose images are settled at once)",
    )
    p.add_argument(
        "--exposure",
        choices=("histogram", "manual"),
        default="histogram",
        help="RGB exposure: CARLA's auto exposure, or manual (fixed shutter, ISO, aperture)",
    )
    p.add_argument("--shard", default="0/1", help="I/N: make frames i with i %% N == I")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[sim.generate] %(message)s")

    def _term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _term)
    try:
        return run(args)
    except KeyboardInterrupt:
        print(
            "sim.generate: interrupted; spawned actors were destroyed. Rerun the same command "
            "to resume.",
            file=sys.stderr,
        )
        return 130
    except SegoodError as exc:
        print(f"sim.generate: error: {exc}", file=sys.stderr)
        return 2


def check_arguments(args: argparse.Namespace) -> tuple[plan.Shard, int]:
    """Everything that needs no server; nothing is written before it passes."""
    shard = plan.parse_shard(args.shard)
    k = splits.anomaly_count(args.split, args.anomalies)
    if args.frames < 1:
        raise SegoodError(f"--frames must be >= 1, got {args.frames}")
    if not (16 <= args.width <= 4096 and 16 <= args.height <= 4096):
        raise SegoodError("--width/--height must be within 16..4096")
    if not 1 <= args.fov <= 170:
        raise SegoodError(f"--fov must be within 1..170 degrees, got {args.fov:g}")
    if args.warmup_ticks is not None and not 0 <= args.warmup_ticks <= 1000:
        raise SegoodError(f"--warmup-ticks must be within 0..1000, got {args.warmup_ticks}")
    writer.check_out(args.out)
    return shard, k


def is_loopback(host: str, port: int) -> bool:
    """True for segood's loopback server (it answers `segood_loopback`; CARLA does not)."""
    try:
        error, _ = call(host, port, "segood_loopback", timeout=5.0)
    except (OSError, ValueError, IndexError, TypeError):
        return False
    return error is None


def prepare_job(args, session: Session, k: int) -> tuple[Job, list[str], dict]:
    """The run's Job, towns and manifest entry, checked against the server."""
    loopback = is_loopback(args.host, args.port)
    towns = splits.resolve_towns(args.split, args.towns, session.available_maps())
    chosen: list[anomaly_set.AnomalyProp] = []
    if k:
        patterns = anomaly_set.patterns_of(args.anomaly_blueprints)
        meshes = anomaly_set.parse_meshes(args.anomaly_meshes) if args.anomaly_meshes else []
        anomaly_set.check_curated(patterns, meshes, loopback)
        if loopback and not patterns and not meshes:
            patterns = ["static.prop.*"]
        world = session.call("get_world", session.client.get_world)
        chosen = anomaly_set.resolve(world.get_blueprint_library(), patterns, meshes)
    warmup = args.warmup_ticks if args.warmup_ticks is not None else (0 if loopback else WARMUP)
    job = Job(
        args.split, args.seed, args.width, args.height, args.fov, k, tuple(chosen), warmup,
        args.exposure,
    )  # fmt: skip
    entry = {
        "frames": args.frames,
        "seed": args.seed,
        "width": args.width,
        "height": args.height,
        "fov": args.fov,
        "towns": towns,
        "anomalies": k,
        "warmup_ticks": warmup,
        "exposure": args.exposure,
        "generator_version": GENERATOR_VERSION,
    }
    if k:  # which props may be anomalies: a test split made from another set is not resumed
        entry["anomaly_set"] = [p.record() for p in chosen]
        entry["reserved_outlier_shapes"] = list(props.OUTLIER_SHAPES)
    return job, towns, entry


def check_manifest(out: Path, split: str, entry: dict) -> None:
    """Same arguments resume; a larger --frames extends; anything else is refused."""
    manifest = writer.read_manifest(out).get("splits", {})
    old = manifest.get(split)
    if old:
        made_by = old.get("generator_version", 1)  # version 1 did not record itself
        if made_by != entry["generator_version"]:
            raise SegoodError(
                f"{out} holds split {split!r} made by generator version {made_by} (this is "
                f"{entry['generator_version']}, which assigns towns and labels differently); "
                "use another --out"
            )
        diff = {k: (old.get(k), v) for k, v in entry.items() if k != "frames" and old.get(k) != v}
        if diff:
            raise SegoodError(
                f"{out} already holds split {split!r} made with other arguments {diff} "
                "(old, new); rerun with the same arguments to resume, or use another --out"
            )
        if entry["frames"] < old["frames"]:
            raise SegoodError(
                f"{out} already holds {old['frames']} frames of split {split!r}; --frames "
                f"{entry['frames']} would drop some: pass --frames {old['frames']} to resume, "
                "or more to extend it"
            )
    others = {s: v["towns"] for s, v in manifest.items() if s != split}
    splits.check_disjoint({**others, split: entry["towns"]})


def run(args: argparse.Namespace) -> int:
    shard, k = check_arguments(args)
    camera = CameraSettings(args.width, args.height, args.fov, 0, args.exposure)
    session = Session(args.host, args.port, args.timeout, camera)
    session.connect(attempts=args.retries + 1)
    job, towns, entry = prepare_job(args, session, k)
    session.camera = CameraSettings(args.width, args.height, args.fov, job.warmup, args.exposure)
    check_manifest(args.out, args.split, entry)
    # checked: now write
    recovered = leftovers.begin(session, args.out)
    if recovered:
        print(f"sim.generate: {recovered}", file=sys.stderr)
    writer.update_manifest(args.out, args.split, entry)
    removed = writer.clean(args.out, args.split, shard.owns)
    if removed:
        print(
            f"sim.generate: removed {len(removed)} unfinished file(s) of a previous run",
            file=sys.stderr,
        )
    mine = plan.plan(args.frames, towns, shard)
    todo = [(i, t) for i, t in mine if not _done(args, i, t)]
    problems: list[str] = []
    try:
        _make_frames(args, session, job, todo, len(mine))
    finally:
        problems = session.close()
        leftovers.end(session, args.out, problems)
        for problem in problems:
            print(f"sim.generate: error: {session.endpoint}: {problem}", file=sys.stderr)
    done = sum(_done(args, i, t) for i, t in mine)
    print(
        f"sim.generate: {args.split} shard {shard}: {done}/{len(mine)} frames in {args.out}",
        file=sys.stderr,
    )
    return 0 if done == len(mine) and not problems else 1


def _done(args, index: int, town: str) -> bool:
    return writer.is_done(writer.frame_paths(args.out, args.split, town, plan.frame_stem(index)))


def _make_frames(args, session: Session, job: Job, todo: list, total: int) -> None:
    """Make `todo` in order, reconnecting (with backoff) after server failures."""
    bar = _progress(total, total - len(todo), args.no_progress)
    failures = 0
    delays = backoff_delays(2.0)
    stop = _interrupt_between_frames(session)
    try:
        while todo:
            if stop.is_set():
                raise KeyboardInterrupt("signal")
            try:
                index, town = todo[0]
                if session.town != town:
                    session.load_town(town)
                make_frame(session, job, index, town, args.out)
                todo.pop(0)
                bar.update(1)
                failures = 0
            except ServerError as exc:
                failures += 1
                if failures > args.retries:
                    raise ServerError(
                        f"{exc}\ngiving up after {args.retries} reconnects; "
                        "rerun the same command to resume"
                    ) from exc
                delay = next(delays)
                print(
                    f"\nsim.generate: {exc}\nreconnecting in {delay:.0f} s "
                    f"({failures}/{args.retries})",
                    file=sys.stderr,
                )
                session.release()
                session.town = None
                if stop.wait(delay):
                    raise KeyboardInterrupt("signal") from exc
                session.connect(attempts=args.retries + 1)
    finally:
        bar.close()


def _interrupt_between_frames(session: Session) -> threading.Event:
    """Make Ctrl-C / SIGTERM stop the run between frames, never inside a CARLA call.

    A signal landing inside a client call (a spawn, a destroy) can leave an actor the session
    does not know about. While the session holds actors the handler only sets the returned
    event, which the frame loop checks; with no actor on the server it interrupts at once
    (e.g. during a long reconnect). Spawns hold signals until the actor is recorded.
    """
    stop = threading.Event()

    def handler(signum, _frame):
        stop.set()
        if not (session.props or session.cameras):
            raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return stop


def _progress(total: int, initial: int, disabled: bool):
    """A bar on a terminal, progress lines in a log (segood.progress)."""
    from segood.progress import show_progress

    return show_progress(
        total=total, initial=initial, unit="frame", disable=disabled, desc="generate"
    )


if __name__ == "__main__":
    sys.exit(main())
