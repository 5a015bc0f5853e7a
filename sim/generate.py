"""`python -m sim.generate`: make a StreetHazards-style split with a CARLA 0.9.16 server.

Example (a loopback server: `python -m sim.server --port 2000`):

    python -m sim.generate --split train --frames 40 --out data/mini_caos --width 400 --height 225
    python -m sim.generate --split test --frames 20 --anomalies 2 --out data/mini_caos ...

A frame's scene is deterministic in (--seed, --split, frame index) (on the loopback server its
pixels too); rerunning with a larger --frames extends a dataset (the result equals one run of
the larger size). --shard I/N makes every N-th
frame so N generators (one CARLA server each) split a dataset, and their --out folders merge
by copying. A killed run resumes when rerun with the same arguments, and cleans up what it left
on the server (sim/leftovers.py). See sim/spec.py (the checked arguments), sim/plan.py
(which frames), sim/frame.py (one frame), sim/writer.py (files), sim/session.py (CARLA calls),
sim/anomaly_set.py (which props).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from segood.cli.app import command
from segood.errors import SegoodError
from sim import anomaly_set, leftovers, plan, splits, writer
from sim.frame import GENERATOR_VERSION, Job, make_frame
from sim.server import props
from sim.server.rpc import call
from sim.session import CameraSettings, ServerError, Session, backoff_delays
from sim.spec import RunSpec, add_server_arguments

WARMUP = 10  # default warm-up ticks on a real server (0.5 s of simulated time at 20 Hz)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m sim.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_server_arguments(p)
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


@command("sim.generate", "spawned actors were destroyed; rerun the same command to resume")
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[sim.generate] %(message)s")

    def _term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _term)
    return run(RunSpec.from_args(args))


def is_loopback(host: str, port: int) -> bool:
    """True for segood's loopback server (it answers `segood_loopback`; CARLA does not)."""
    try:
        error, _ = call(host, port, "segood_loopback", timeout=5.0)
    except (OSError, ValueError, IndexError, TypeError):
        return False
    return error is None


def prepare_job(spec: RunSpec, session: Session) -> tuple[Job, list[str]]:
    """The run's Job and towns, checked against the server."""
    loopback = is_loopback(spec.host, spec.port)
    towns = splits.resolve_towns(spec.split, spec.towns, session.available_maps())
    chosen: list[anomaly_set.AnomalyProp] = []
    if spec.anomalies:
        patterns = anomaly_set.patterns_of(spec.anomaly_blueprints)
        meshes = anomaly_set.parse_meshes(spec.anomaly_meshes) if spec.anomaly_meshes else []
        anomaly_set.check_curated(patterns, meshes, loopback)
        if loopback and not patterns and not meshes:
            patterns = ["static.prop.*"]
        library = session.call(
            "get_blueprint_library", lambda: session.client.get_world().get_blueprint_library()
        )
        chosen = anomaly_set.resolve(library, patterns, meshes)
    warmup = spec.warmup_ticks
    if warmup is None:
        warmup = 0 if loopback else WARMUP
    job = Job(
        spec.split, spec.seed, spec.width, spec.height, spec.fov, spec.anomalies, tuple(chosen),
        warmup, spec.exposure,
    )  # fmt: skip
    return job, towns


def manifest_entry(spec: RunSpec, job: Job, towns: list[str]) -> dict:
    """What the manifest records of a split: a rerun must match it to resume or extend."""
    entry = {
        "frames": spec.frames,
        "seed": job.seed,
        "width": job.width,
        "height": job.height,
        "fov": job.fov,
        "towns": towns,
        "anomalies": job.anomalies,
        "warmup_ticks": job.warmup,
        "exposure": job.exposure,
        "generator_version": GENERATOR_VERSION,
    }
    if job.anomalies:  # which props may be anomalies: a test split from another set is not resumed
        entry["anomaly_set"] = [p.record() for p in job.props]
        entry["reserved_outlier_shapes"] = list(props.OUTLIER_SHAPES)
    return entry


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


def run(spec: RunSpec) -> int:
    camera = CameraSettings(spec.width, spec.height, spec.fov, 0, spec.exposure)
    session = Session(spec.host, spec.port, spec.timeout, camera)
    session.connect(attempts=spec.retries + 1)
    job, towns = prepare_job(spec, session)
    entry = manifest_entry(spec, job, towns)
    session.camera = CameraSettings(spec.width, spec.height, spec.fov, job.warmup, spec.exposure)
    check_manifest(spec.out, spec.split, entry)
    # checked: now write
    recovered = leftovers.begin(session, spec.out)
    if recovered:
        print(f"sim.generate: {recovered}", file=sys.stderr)
    writer.update_manifest(spec.out, spec.split, entry)
    removed = writer.clean(spec.out, spec.split, spec.shard.owns)
    if removed:
        print(
            f"sim.generate: removed {len(removed)} unfinished file(s) of a previous run",
            file=sys.stderr,
        )
    mine = plan.plan(spec.frames, towns, spec.shard)
    todo = [(i, t) for i, t in mine if not _done(spec, i, t)]
    problems: list[str] = []
    try:
        _make_frames(spec, session, job, todo, len(mine))
    finally:
        problems = session.close()
        leftovers.end(session, spec.out, problems)
        for problem in problems:
            print(f"sim.generate: error: {session.endpoint}: {problem}", file=sys.stderr)
    done = sum(_done(spec, i, t) for i, t in mine)
    print(
        f"sim.generate: {spec.split} shard {spec.shard}: {done}/{len(mine)} frames in {spec.out}",
        file=sys.stderr,
    )
    return 0 if done == len(mine) and not problems else 1


def _done(spec: RunSpec, index: int, town: str) -> bool:
    return writer.is_done(writer.frame_paths(spec.out, spec.split, town, plan.frame_stem(index)))


def _make_frames(spec: RunSpec, session: Session, job: Job, todo: list, total: int) -> None:
    """Make `todo` in order, reconnecting (with backoff) after server failures."""
    bar = _progress(total, total - len(todo), not spec.progress)
    failures = 0
    delays = backoff_delays(2.0)
    stop = _interrupt_between_frames(session)
    try:
        while todo:
            if stop.is_set():
                raise KeyboardInterrupt("signal")
            try:
                _make_frame(spec, session, job, *todo[0])
                todo.pop(0)
                bar.update(1)
                failures = 0
            except ServerError as exc:
                failures += 1
                if failures > spec.retries:
                    raise ServerError(
                        f"{exc}\ngiving up after {spec.retries} reconnects; "
                        "rerun the same command to resume"
                    ) from exc
                delay = next(delays)
                print(
                    f"\nsim.generate: {exc}\nreconnecting in {delay:.0f} s "
                    f"({failures}/{spec.retries})",
                    file=sys.stderr,
                )
                session.release()
                session.town = None
                if stop.wait(delay):
                    raise KeyboardInterrupt("signal") from exc
                session.connect(attempts=spec.retries + 1)
    finally:
        bar.close()


def _make_frame(spec: RunSpec, session: Session, job: Job, index: int, town: str) -> None:
    """One frame; any error of the CARLA client in it comes out as a ServerError."""
    with session.errors(f"frame {index} ({town})"):
        if session.town != town:
            session.load_town(town)
        make_frame(session, job, index, town, spec.out)


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
