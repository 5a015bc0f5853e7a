"""`python -m sim.selfcheck --host H --port P`: what only a real server can tell, in a minute.

It works on the server's current map (nothing is loaded), then leaves the server as it found it:

- version: server and client are both CARLA 0.9.16;
- prop id: a prop spawned ahead of the cameras shows its actor id in the instance camera,
  inside its projected bounding box and with its own semantic tags (what sim.masks relies on);
- traffic light / traffic sign: such map actors, seen from around, carry the semantic tags
  TrafficLight (7) / TrafficSigns (8) that sim.labels maps to StreetHazards' "traffic sign";
- overlapping props: whether the server refuses a prop where another stands (information:
  the generator keeps its props apart itself);
- cleanup: every actor destroyed, each batch response checked;
- settings: the world settings found at the start are back.

It prints a pass/fail table and exits 1 when a check fails. Try the prop you will use as an
anomaly: --prop static.prop.mycouch, or --mesh /Game/MyAnomalies/Couch/Couch.Couch.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from segood.errors import SegoodError
from sim import labels, masks
from sim.anomaly_set import MESH, AnomalyProp
from sim.placement import Pose
from sim.session import CLIENT_ERRORS, CameraSettings, Session, describe
from sim.spec import add_server_arguments
from sim.tags import Tag

DEFAULT_PROPS = ("static.prop.constructioncone", "static.prop.giantball_m")
KNOWN = (
    ("traffic light", "traffic.traffic_light*", Tag.TRAFFIC_LIGHT),
    ("traffic sign", "traffic.stop", Tag.TRAFFIC_SIGNS),
)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m sim.selfcheck",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_server_arguments(p)
    p.add_argument("--prop", default=None, help="blueprint of the prop to check")
    p.add_argument("--mesh", default=None, help="a packaged mesh path for static.prop.mesh")
    p.add_argument("--warmup-ticks", type=int, default=5)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        rows = run(args)
    except (SegoodError, *CLIENT_ERRORS) as exc:
        print(f"sim.selfcheck: error: {exc}", file=sys.stderr)
        return 2
    width = max(len(r[0]) for r in rows)
    print(f"{'check':<{width}}  result  detail")
    for name, result, detail in rows:
        print(f"{name:<{width}}  {result:<6}  {detail}")
    return 1 if any(r[1] == "FAIL" for r in rows) else 0


def run(args) -> list[tuple[str, str, str]]:
    camera = CameraSettings(320, 240, 90.0, args.warmup_ticks)
    session = Session(args.host, args.port, args.timeout, camera)
    version = session.connect(attempts=2)
    rows = [_version_row(version, session.client.get_client_version())]
    session.found = session.read_settings()
    try:
        session.call("prepare", session.prepare)
        prop = _prop(session, args)
        rows += check_prop(session, prop)
        rows += [check_known(session, *known) for known in KNOWN]
    finally:
        failed = session.release()
        left = [] if failed else session.leftovers()
        detail = describe(failed) if failed else f"{len(left)} actor(s) left"
        rows.append(("cleanup", "FAIL" if failed or left else "PASS", detail))
        bad = session.restore_settings()
        detail = f"differ: {', '.join(bad)}" if bad else "as found"
        rows.append(("settings restored", "FAIL" if bad else "PASS", detail))
    return rows


def _version_row(server: str, client: str):
    ok = server == client == "0.9.16"
    return ("version", "PASS" if ok else "FAIL", f"server {server}, client {client}")


def _prop(session: Session, args) -> AnomalyProp:
    if args.mesh:
        return AnomalyProp(MESH, "medium", args.mesh)
    names = [args.prop] if args.prop else DEFAULT_PROPS
    for name in names:
        if session.blueprints.filter(name):
            return AnomalyProp(name, "medium")
    raise SegoodError(f"the server has none of {', '.join(names)}; pass --prop or --mesh")


def _view(session: Session, pose: Pose):
    session.move_cameras(pose)
    frame = session.capture()
    return labels.decode_semantic(frame.semantic), labels.decode_instance(frame.instance)


def check_prop(session: Session, prop: AnomalyProp) -> list[tuple[str, str, str]]:
    """Spawn `prop` 10 m ahead on a lane; its id, footprint and tags must agree; then try a
    second one on the same spot."""
    for wp in session.waypoints[:: max(1, len(session.waypoints) // 20)]:
        ahead = wp.next(10.0)
        if not ahead:
            continue
        t, loc = ahead[0].transform, wp.transform.location
        spot = session.transform(t.location.x, t.location.y, t.location.z + 0.02, yaw=30.0)
        actor = session.spawn_prop(prop, spot)
        if actor is None:
            continue
        pose = Pose(loc.x, loc.y, loc.z + 1.8, -5.0, wp.transform.rotation.yaw)
        tags, inst = _view(session, pose)
        view = masks.PropView.of(actor, (t.location.x, t.location.y, t.location.z + 0.02), 30.0)
        _, stats = masks.prop_masks(inst, tags, [view], pose, session.camera.fov)
        agreed, bad = stats[actor.id]
        ok = agreed > 0 and bad <= 0.02 * agreed
        detail = (
            f"{prop.name}: actor {actor.id}, {agreed} px agree, {bad} px disagree, "
            f"tags {sorted(set(actor.semantic_tags))}"
        )
        if not agreed:
            detail += " (not seen: an empty actor from a wrong mesh path, or hidden)"
        second = session.spawn_prop(prop, spot)
        overlap = "refused" if second is None else "allowed (the generator keeps props apart)"
        return [
            ("prop id", "PASS" if ok else "FAIL", detail),
            ("overlapping props", "INFO", overlap),
        ]
    return [("prop id", "FAIL", f"{prop.name} could not be spawned on any of 20 lanes")]


def check_known(session: Session, name: str, pattern: str, tag: Tag):
    """Look at up to three such actors from four sides; their id's pixels carry `tag`."""
    actors = list(session.call("get_actors", session.world.get_actors).filter(pattern))
    if not actors:
        return (name, "SKIP", f"no {pattern} actor on this map")
    seen = set()
    for actor in actors[:3]:
        t = actor.get_transform()
        centre = np.array([t.location.x, t.location.y, t.location.z + actor.bounding_box.extent.z])
        for side in range(4):
            a = math.radians(90.0 * side)
            cx, cy = centre[0] - 7 * math.cos(a), centre[1] - 7 * math.sin(a)
            pitch = math.degrees(math.atan2(centre[2] - 2.0, 7.0))
            tags, inst = _view(session, Pose(cx, cy, 2.0, pitch, math.degrees(a)))
            mine = inst == labels.instance_code(actor.id)
            seen |= set(np.unique(tags[mine]).tolist())
            if tag in seen:
                return (name, "PASS", f"{actor.type_id} {actor.id}: tags {sorted(seen)}")
    detail = f"tags seen on their ids: {sorted(seen)}" if seen else "their ids never seen"
    return (name, "FAIL", f"expected tag {int(tag)} ({tag.name}); {detail}")


if __name__ == "__main__":
    sys.exit(main())
