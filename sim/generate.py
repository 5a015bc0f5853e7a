"""`python -m sim.generate`: make a StreetHazards-style split with a CARLA 0.9.16 server.

Example (a loopback server: `python -m sim.server --port 2000`):

    python -m sim.generate --split train --frames 40 --out data/mini_caos --width 400 --height 225
    python -m sim.generate --split test --frames 20 --anomalies 2 --out data/mini_caos ...

Frames are deterministic in (--seed, --split, frame index); --shard I/N makes every N-th frame
so N generators (one CARLA server each) split a dataset, and their --out folders merge by
copying. A killed run resumes when rerun with the same arguments. See sim/plan.py (which frames),
sim/writer.py (files), sim/session.py (CARLA calls).
"""

from __future__ import annotations

import argparse
import logging
import math
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from segood.errors import SegoodError
from sim import labels, placement, plan, splits, writer
from sim.server import props
from sim.session import ServerError, Session, backoff_delays
from sim.weather import sample_weather

PROP_RADIUS = {"small": 0.5, "medium": 0.9, "big": 1.5}
GENERATOR_VERSION = 1


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
        default="static.prop.*",
        help="comma-separated blueprint patterns the props are drawn from; the props reserved"
        " for outlier-exposure training (sim.server.props.OUTLIER_SHAPES) are always left out",
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


def _check_manifest(out: Path, split: str, entry: dict) -> None:
    manifest = writer.read_manifest(out).get("splits", {})
    old = manifest.get(split)
    keys = tuple(entry)
    if old and any(old.get(k) != entry[k] for k in keys):
        diff = {k: (old.get(k), entry[k]) for k in keys if old.get(k) != entry[k]}
        raise SegoodError(
            f"{out} already holds split {split!r} made with other arguments "
            f"{diff} (old, new); rerun with the same arguments to resume, or use "
            "another --out"
        )
    others = {s: v["towns"] for s, v in manifest.items() if s != split}
    splits.check_disjoint({**others, split: entry["towns"]})


def run(args: argparse.Namespace) -> int:
    shard = plan.parse_shard(args.shard)
    k = splits.anomaly_count(args.split, args.anomalies)
    if not (16 <= args.width <= 4096 and 16 <= args.height <= 4096):
        raise SegoodError("--width/--height must be within 16..4096")
    session = Session(args.host, args.port, args.timeout, args.width, args.height, args.fov)
    session.connect(attempts=args.retries + 1)
    towns = splits.resolve_towns(args.split, args.towns, session.available_maps())
    entry = {
        "frames": args.frames,
        "seed": args.seed,
        "width": args.width,
        "height": args.height,
        "fov": args.fov,
        "towns": towns,
        "anomalies": k,
    }
    if k:  # which props may be anomalies: a test split made from another set is not resumed
        entry["anomaly_blueprints"] = args.anomaly_blueprints
        entry["reserved_outlier_shapes"] = list(props.OUTLIER_SHAPES)
    _check_manifest(args.out, args.split, entry)
    writer.update_manifest(args.out, args.split, entry)
    removed = writer.clean(args.out, args.split, shard.owns)
    if removed:
        print(
            f"sim.generate: removed {len(removed)} unfinished file(s) of a previous run",
            file=sys.stderr,
        )
    mine = plan.plan(args.frames, towns, shard)
    todo = [
        (i, t)
        for i, t in mine
        if not writer.is_done(writer.frame_paths(args.out, args.split, t, plan.frame_stem(i)))
    ]
    bar = _progress(len(mine), len(mine) - len(todo), args.no_progress)
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
                    blueprints = _anomaly_blueprints(session, args.anomaly_blueprints) if k else []
                make_frame(session, args, index, town, k, blueprints)
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
        session.close()
    done = sum(
        writer.is_done(writer.frame_paths(args.out, args.split, t, plan.frame_stem(i)))
        for i, t in mine
    )
    print(
        f"sim.generate: {args.split} shard {shard}: {done}/{len(mine)} frames in {args.out}",
        file=sys.stderr,
    )
    return 0 if done == len(mine) else 1


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


def _anomaly_blueprints(session: Session, patterns: str) -> list[tuple[str, float]]:
    """(blueprint, footprint radius) of the props the anomalies are drawn from: those matching
    `patterns`, less the props reserved for outlier-exposure training (never test anomalies)."""
    out, reserved = {}, set()
    for pattern in (p.strip() for p in patterns.split(",") if p.strip()):
        for bp in session.blueprints.filter(pattern):
            if props.is_outlier_prop(bp.id):
                reserved.add(bp.id)
                continue
            size = bp.get_attribute("size").as_str() if bp.has_attribute("size") else "medium"
            out[bp.id] = PROP_RADIUS.get(size, 1.0)
    if not out:
        extra = (
            f" (it matches only props reserved for outlier-exposure training: "
            f"{', '.join(sorted(reserved))})"
            if reserved
            else ""
        )
        raise SegoodError(
            f"no blueprint on the server matches --anomaly-blueprints {patterns!r}{extra}"
        )
    return sorted(out.items())


def _camera_pose(rng: np.random.Generator, session: Session):
    if not session.waypoints:
        raise SegoodError(f"{session.town} has no driving waypoints")
    wp = session.waypoints[int(rng.integers(len(session.waypoints)))]
    loc, rot = wp.transform.location, wp.transform.rotation
    h = math.radians(rot.yaw)
    lateral = float(rng.uniform(-0.35, 0.35)) * wp.lane_width
    pose = placement.Pose(
        loc.x - math.sin(h) * lateral,
        loc.y + math.cos(h) * lateral,
        loc.z + float(rng.uniform(1.4, 2.3)),
        float(rng.uniform(-7, 0)),
        rot.yaw + float(rng.normal(0, 4)),
    )
    return wp, pose


def _place_props(rng, session: Session, wp, cam: placement.Pose, args, k: int, blueprints):
    anchors = []
    for d in np.arange(7.0, 38.0, 2.0):
        nxt = wp.next(float(d))
        if nxt:
            t = nxt[0].transform
            anchors.append(
                placement.Anchor(t.location.x, t.location.y, t.rotation.yaw, nxt[0].lane_width)
            )
    placed: list[placement.Placement] = []
    spawned = []
    for _ in range(k):
        bp, radius = blueprints[int(rng.integers(len(blueprints)))]
        for _try in range(8):
            (spot,) = placement.place(
                rng, anchors, [radius], cam, args.fov, args.width, args.height, placed=placed
            )
            if spot is None:
                break
            actor = session.spawn_prop(
                bp, session.transform(spot.x, spot.y, wp.transform.location.z + 0.02, yaw=spot.yaw)
            )
            if actor is not None:
                placed.append(spot)
                spawned.append((actor, bp, spot))
                break
    return spawned


def make_frame(session: Session, args, index: int, town: str, k: int, blueprints) -> None:
    for attempt in range(3):  # a test frame whose props are all hidden is redrawn
        rng = np.random.default_rng(plan.frame_seed(args.seed, args.split, index, attempt))
        preset, weather = sample_weather(rng)
        session.set_weather(weather)
        wp, cam = _camera_pose(rng, session)
        session.move_cameras(session.transform(cam.x, cam.y, cam.z, cam.pitch, cam.yaw))
        spawned = _place_props(rng, session, wp, cam, args, k, blueprints) if k else []
        frame = session.capture()
        tags = labels.decode_semantic(frame.semantic)
        inst = labels.decode_instance(frame.instance)
        ids = [a.id for a, _, _ in spawned]
        pixels = labels.prop_pixels(inst, ids)
        session.destroy_props()
        if not k or sum(pixels.values()) > 0 or attempt == 2:
            break
    classes = labels.to_classes(tags, inst, ids)
    meta = {
        "frame_index": index,
        "split": args.split,
        "town": town,
        "seed": args.seed,
        "attempt": attempt,
        "carla_frame": frame.number,
        "weather_preset": preset,
        "weather": weather,
        "camera": {
            "x": cam.x,
            "y": cam.y,
            "z": cam.z,
            "pitch": cam.pitch,
            "yaw": cam.yaw,
            "roll": 0.0,
            "fov": args.fov,
            "width": args.width,
            "height": args.height,
        },
        "props": [
            {
                "blueprint": bp,
                "actor_id": a.id,
                "instance_id": labels.instance_code(a.id),
                "location": [spot.x, spot.y, wp.transform.location.z + 0.02],
                "yaw": spot.yaw,
                "on_road": spot.on_road,
                "pixels": pixels[a.id],
            }
            for a, bp, spot in spawned
        ],
        "anomaly_pixels": int((classes == labels.ANOMALY).sum()),
        "class_pixels": {
            labels.CLASS_NAMES[c]: int(n)
            for c, n in zip(*np.unique(classes, return_counts=True), strict=True)
        },
        "generator_version": GENERATOR_VERSION,
    }
    paths = writer.frame_paths(args.out, args.split, town, plan.frame_stem(index))
    writer.write_frame(paths, frame.rgb, labels.to_annotation(classes), meta)


if __name__ == "__main__":
    sys.exit(main())
