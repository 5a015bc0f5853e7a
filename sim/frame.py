"""One frame of a split: weather, a camera pose on a driving lane, props ahead, three settled
images, labels the instance ids and footprints agree on, and the metadata that says so.

Frame i is drawn from `plan.frame_seed(seed, split, i, attempt)` alone; a test frame whose
props are all hidden is redrawn (attempt 1, 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from segood.errors import SegoodError
from sim import labels, masks, placement, plan, writer
from sim.anomaly_set import AnomalyProp
from sim.session import Session
from sim.weather import sample_weather

GENERATOR_VERSION = 2  # 2: towns round-robin by index, masks checked against footprints
ATTEMPTS = 3


@dataclass(frozen=True)
class Job:
    """What every frame of a run shares."""

    split: str
    seed: int
    width: int
    height: int
    fov: float
    anomalies: int
    props: tuple[AnomalyProp, ...]
    warmup: int
    exposure: str


@dataclass
class Spawned:
    actor: object
    prop: AnomalyProp
    spot: placement.Placement
    z: float

    def view(self) -> masks.PropView:
        return masks.PropView.of(self.actor, (self.spot.x, self.spot.y, self.z), self.spot.yaw)


def camera_pose(rng: np.random.Generator, session: Session):
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


def place_props(rng, session: Session, wp, cam: placement.Pose, job: Job) -> list[Spawned]:
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
    z = wp.transform.location.z + 0.02
    for _ in range(job.anomalies):
        prop = job.props[int(rng.integers(len(job.props)))]
        for _try in range(8):
            (spot,) = placement.place(
                rng, anchors, [prop.radius], cam, job.fov, job.width, job.height, placed=placed
            )
            if spot is None:
                break
            actor = session.spawn_prop(prop, session.transform(spot.x, spot.y, z, yaw=spot.yaw))
            if actor is not None:
                placed.append(spot)
                spawned.append(Spawned(actor, prop, spot, z))
                break
    return spawned


def make_frame(session: Session, job: Job, index: int, town: str, out) -> None:
    for attempt in range(ATTEMPTS):
        rng = np.random.default_rng(plan.frame_seed(job.seed, job.split, index, attempt))
        preset, weather = sample_weather(rng)
        session.set_weather(weather)
        wp, cam = camera_pose(rng, session)
        session.move_cameras(cam)
        spawned = place_props(rng, session, wp, cam, job) if job.anomalies else []
        frame = session.capture()
        tags = labels.decode_semantic(frame.semantic)
        inst = labels.decode_instance(frame.instance)
        anomaly, stats = masks.prop_masks(inst, tags, [s.view() for s in spawned], cam, job.fov)
        session.destroy_props()
        if not job.anomalies or anomaly.any() or attempt == ATTEMPTS - 1:
            break
    classes = labels.to_classes(tags, anomaly)
    meta = {
        "frame_index": index,
        "split": job.split,
        "town": town,
        "seed": job.seed,
        "attempt": attempt,
        "carla_frame": frame.number,
        "warmup_ticks": job.warmup,
        "exposure": job.exposure,
        "weather_preset": preset,
        "weather": weather,
        "camera": {
            **{k: getattr(cam, k) for k in ("x", "y", "z", "pitch", "yaw", "roll")},
            "fov": job.fov,
            "width": job.width,
            "height": job.height,
        },
        "props": [_prop_meta(s, stats[s.actor.id]) for s in spawned],
        "anomaly_pixels": int(anomaly.sum()),
        "id_disagreement_pixels": sum(bad for _, bad in stats.values()),
        "class_pixels": {
            labels.CLASS_NAMES[c]: int(n)
            for c, n in zip(*np.unique(classes, return_counts=True), strict=True)
        },
        "generator_version": GENERATOR_VERSION,
    }
    paths = writer.frame_paths(out, job.split, town, plan.frame_stem(index))
    writer.write_frame(paths, frame.rgb, labels.to_annotation(classes), meta)


def _prop_meta(s: Spawned, stats: tuple[int, int]) -> dict:
    return {
        "blueprint": s.prop.name,
        "size": s.prop.size,
        "scale": s.prop.scale,
        "actor_id": s.actor.id,
        "instance_id": labels.instance_code(s.actor.id),
        "location": [s.spot.x, s.spot.y, s.z],
        "yaw": s.spot.yaw,
        "on_road": s.spot.on_road,
        "pixels": stats[0],
        "disagreeing_pixels": stats[1],
    }
