"""The simulated world behind the loopback server: episode, settings, weather, actors, ticks.

It is deliberately small: actors are cameras (rgb, semantic, instance) and static props; the
town itself (roads, buildings, parked cars, pedestrians, ...) is part of the map, as in CARLA.
Spawning a prop fails, like CARLA's, when its box would overlap a town object or another prop.
On every tick each camera renders (one geometry pass per distinct pose) and publishes its image
on its stream, then the world observer publishes the episode state the client waits for.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from sim.server import props, protocol
from sim.server.protocol import Transform
from sim.server.render.camera import PerspectiveCamera
from sim.server.render.primitives import Primitives, SceneBuilder, rotation
from sim.server.render.renderer import render_views
from sim.server.stream import StreamServer
from sim.server.town import FIRST_STATIC_ID, TOWN_NAMES, Town, make_town
from sim.tags import Tag

log = logging.getLogger(__name__)

CAMERAS = {
    "sensor.camera.rgb": protocol.SENSOR_RGB,
    "sensor.camera.semantic_segmentation": protocol.SENSOR_SEMANTIC,
    "sensor.camera.instance_segmentation": protocol.SENSOR_INSTANCE,
}
MAX_IMAGE_SIDE = 4096
MAX_ACTORS = 2000


class WorldError(Exception):
    """A request the world refuses (answered as a CARLA error response)."""


def default_settings() -> dict:
    return {
        "synchronous_mode": False,
        "no_rendering_mode": False,
        "fixed_delta_seconds": None,
        "substepping": True,
        "max_substep_delta_time": 0.01,
        "max_substeps": 10,
        "max_culling_distance": 0.0,
        "deterministic_ragdolls": True,
        "tile_stream_distance": 3000.0,
        "actor_active_distance": 2000.0,
        "spectator_as_ego": True,
    }


def default_weather() -> dict:
    return {
        "cloudiness": 5.0,
        "precipitation": 0.0,
        "precipitation_deposits": 0.0,
        "wind_intensity": 10.0,
        "sun_azimuth_angle": 45.0,
        "sun_altitude_angle": 45.0,
        "fog_density": 0.0,
        "fog_distance": 0.0,
        "fog_falloff": 0.0,
        "wetness": 0.0,
        "scattering_intensity": 1.0,
        "mie_scattering_scale": 0.03,
        "rayleigh_scattering_scale": 0.0331,
        "dust_storm": 0.0,
    }


@dataclass
class Actor:
    id: int
    blueprint: str
    attributes: dict[str, str]
    transform: Transform  # world transform
    parent: int = 0
    stream_id: int = 0  # sensors only
    sensor_type: int = 0
    extent: tuple[float, float, float] = (0.1, 0.1, 0.1)
    prims: Primitives | None = None
    box: np.ndarray | None = None  # AABB (xmin, ymin, zmin, xmax, ymax, zmax), props only
    tags: bytes = b""
    uid: int = 0


@dataclass
class World:
    streams: StreamServer
    towns: tuple[str, ...] = TOWN_NAMES
    episode_id: int = 1
    frame: int = 0
    elapsed: float = 0.0
    settings: dict = field(default_factory=default_settings)
    weather: dict = field(default_factory=default_weather)
    actors: dict[int, Actor] = field(default_factory=dict)
    last_render_seconds: float = 0.0

    def __post_init__(self) -> None:
        self._next_actor = 1
        self._next_stream = 1
        self.props = props.library()
        self.town = make_town(self.towns[0])
        self._town_cache: dict[str, Town] = {self.town.name: self.town}
        self.world_stream = self._new_stream()
        self.spectator = self._new_actor_id()

    # -- ids -------------------------------------------------------------------------------
    def _new_actor_id(self) -> int:
        """Actor ids whose 16-bit instance code never equals a town object's (or 0)."""
        while True:
            i = self._next_actor
            self._next_actor += 1
            if 0 < (i & 0xFFFF) < FIRST_STATIC_ID:
                return i

    def _new_stream(self) -> int:
        self._next_stream += 1
        return self._next_stream

    # -- maps ------------------------------------------------------------------------------
    def map_paths(self) -> list[str]:
        return [f"/Game/Carla/Maps/{name}" for name in self.towns]

    def load(self, map_name: str, reset_settings: bool = True) -> None:
        base = str(map_name).rsplit("/", 1)[-1]
        match = [t for t in self.towns if t.lower() == base.lower()]
        if not match:
            raise WorldError(f"map '{map_name}' not found; available: {', '.join(self.towns)}")
        for actor_id in list(self.actors):
            self.destroy(actor_id)
        name = match[0]
        if name not in self._town_cache:
            self._town_cache[name] = make_town(name)
        self.town = self._town_cache[name]
        self.streams.drop(self.world_stream)
        self.world_stream = self._new_stream()
        self.episode_id += 1
        self.weather = default_weather()
        if reset_settings:
            self.settings = default_settings()

    # -- blueprints ------------------------------------------------------------------------
    def definitions(self) -> list:
        cam_attrs = [
            ("image_size_x", protocol.ATTR_INT, "800"),
            ("image_size_y", protocol.ATTR_INT, "600"),
            ("fov", protocol.ATTR_FLOAT, "90.0"),
            ("sensor_tick", protocol.ATTR_FLOAT, "0.0"),
            ("role_name", protocol.ATTR_STRING, "front"),
        ]
        out = []
        uid = 1
        for bp in CAMERAS:
            attrs = [[a, t, v, [], True, False] for a, t, v in cam_attrs]
            out.append([uid, bp, "sensor,camera," + bp.rsplit(".", 1)[-1], attrs])
            uid += 1
        for bp, spec in self.props.items():
            size = bp.rsplit("_", 1)[-1]
            attrs = [
                ["role_name", protocol.ATTR_STRING, "prop", [], True, False],
                [
                    "size",
                    protocol.ATTR_STRING,
                    {"s": "small", "m": "medium", "l": "big"}[size],
                    [],
                    False,
                    False,
                ],
            ]
            out.append([uid, bp, f"static,prop,{spec.shape}", attrs])
            uid += 1
        return out

    # -- actors ----------------------------------------------------------------------------
    def spawn(
        self, blueprint: str, attributes: dict[str, str], transform: Transform, parent: int = 0
    ) -> Actor:
        if len(self.actors) >= MAX_ACTORS:
            raise WorldError(f"too many actors (limit {MAX_ACTORS})")
        if parent:
            if parent not in self.actors:
                raise WorldError(f"parent actor {parent} not found")
            transform = compose(self.actors[parent].transform, transform)
        if blueprint in CAMERAS:
            w, h = (
                _int_attr(attributes, "image_size_x", 800),
                _int_attr(attributes, "image_size_y", 600),
            )
            fov = _float_attr(attributes, "fov", 90.0)
            if not (1 <= w <= MAX_IMAGE_SIDE and 1 <= h <= MAX_IMAGE_SIDE and 1 <= fov <= 170):
                raise WorldError("camera image size must be 1..4096 and fov 1..170")
            actor = Actor(
                self._new_actor_id(),
                blueprint,
                {**attributes, "image_size_x": str(w), "image_size_y": str(h), "fov": str(fov)},
                transform,
                parent,
                self._new_stream(),
                CAMERAS[blueprint],
            )
        elif blueprint in self.props:
            spec = self.props[blueprint]
            actor_id = self._new_actor_id()
            prims = props.build(
                spec, actor_id & 0xFFFF, transform.x, transform.y, transform.z, transform.yaw
            )
            c = prims.corners().reshape(-1, 3)
            box = np.concatenate([c.min(0), c.max(0)])
            if self._collides(box):
                raise WorldError(
                    f"Spawn failed because of collision at spawn position ({blueprint})"
                )
            actor = Actor(
                actor_id,
                blueprint,
                dict(attributes),
                transform,
                parent,
                extent=spec.extent,
                prims=prims,
                box=box,
                tags=bytes([Tag.STATIC]),
            )
        else:
            raise WorldError(f"blueprint '{blueprint}' not found")
        self.actors[actor.id] = actor
        return actor

    def _collides(self, box: np.ndarray, margin: float = 0.05) -> bool:
        lo, hi = box[:3] + margin, box[3:] - margin
        others = [a.box for a in self.actors.values() if a.box is not None]
        boxes = np.concatenate([self.town.boxes, np.array(others).reshape(-1, 6)])
        hit = (boxes[:, :3] < hi).all(1) & (boxes[:, 3:] > lo).all(1)
        return bool(hit.any())

    def destroy(self, actor_id: int) -> None:
        actor = self.actors.pop(int(actor_id), None)
        if actor is None:
            raise WorldError(f"actor {actor_id} not found")
        if actor.stream_id:
            self.streams.drop(actor.stream_id)
        for child in [a.id for a in self.actors.values() if a.parent == actor.id]:
            self.destroy(child)

    def set_transform(self, actor_id: int, transform: Transform) -> None:
        actor = self.actors.get(int(actor_id))
        if actor is None:
            raise WorldError(f"actor {actor_id} not found")
        actor.transform = transform
        if actor.prims is not None:
            spec = self.props[actor.blueprint]
            actor.prims = props.build(
                spec, actor.id & 0xFFFF, transform.x, transform.y, transform.z, transform.yaw
            )
            c = actor.prims.corners().reshape(-1, 3)
            actor.box = np.concatenate([c.min(0), c.max(0)])

    # -- time ------------------------------------------------------------------------------
    @property
    def delta(self) -> float:
        return self.settings["fixed_delta_seconds"] or 0.05

    def tick(self) -> int:
        """Advance one frame: render and publish every camera, then the episode state."""
        self.frame += 1
        self.elapsed += self.delta
        self._publish_sensors()
        self.publish_state()
        return self.frame

    def publish_state(self) -> None:
        """Send the episode state of the current frame on the world observer stream."""
        self.streams.publish(self.world_stream, self.episode_state())

    def episode_state(self) -> bytes:
        actors = [(self.spectator, Transform())]
        actors += [(a.id, a.transform) for a in self.actors.values()]
        return protocol.episode_payload(
            self.episode_id, self.frame, self.elapsed, self.delta, actors
        )

    def _publish_sensors(self) -> None:
        cams = [
            a
            for a in self.actors.values()
            if a.sensor_type and self.streams.has_subscribers(a.stream_id)
        ]
        if not cams:
            return
        dynamic = Primitives.concat(
            [a.prims for a in self.actors.values() if a.prims is not None]
            or [SceneBuilder().build()]
        )
        groups: dict[tuple, list[Actor]] = {}
        for a in cams:
            key = (
                a.transform.values(),
                a.attributes["image_size_x"],
                a.attributes["image_size_y"],
                a.attributes["fov"],
            )
            groups.setdefault(key, []).append(a)
        for (pose, w, h, fov), members in groups.items():
            cam = PerspectiveCamera.from_pose(*pose, int(w), int(h), float(fov))
            seed = (self.frame * 2654435761) & 0xFFFFFFFF
            start = time.perf_counter()
            result = render_views(self.town, dynamic, cam, self.weather, seed)
            self.last_render_seconds = time.perf_counter() - start
            for a in members:
                bgra = camera_bgra(a.sensor_type, result)
                payload = protocol.image_payload(
                    a.sensor_type, self.frame, self.elapsed, a.transform, float(fov), bgra
                )
                self.streams.publish(a.stream_id, payload)

    def actor_record(self, actor: Actor) -> list:
        token = protocol.token_bytes(actor.stream_id, self.streams.port) if actor.stream_id else b""
        attrs = [[k, protocol.ATTR_STRING, v] for k, v in actor.attributes.items()]
        ex = actor.extent
        return [
            actor.id,
            actor.parent,
            [actor.uid, actor.blueprint, attrs],
            protocol.encode_bounding_box((0.0, 0.0, ex[2]), ex),
            actor.tags,
            token,
        ]

    def spectator_record(self) -> list:
        return [
            self.spectator,
            0,
            [0, "spectator", []],
            protocol.encode_bounding_box((0, 0, 0), (0.1, 0.1, 0.1)),
            b"",
            b"",
        ]

    def find_blueprints(self, pattern: str) -> list[str]:
        return [b for b in [*CAMERAS, *self.props] if fnmatch.fnmatch(b, pattern)]


def camera_bgra(sensor_type: int, r) -> np.ndarray:
    h, w = r.tag.shape
    out = np.empty((h, w, 4), np.uint8)
    out[..., 3] = 255
    if sensor_type == protocol.SENSOR_RGB:
        out[..., :3] = r.rgb[..., ::-1]
    elif sensor_type == protocol.SENSOR_SEMANTIC:
        out[..., 0] = 0
        out[..., 1] = 0
        out[..., 2] = r.tag
    else:
        out[..., 2] = r.tag
        out[..., 1] = (r.inst & 0xFF).astype(np.uint8)
        out[..., 0] = (r.inst >> 8).astype(np.uint8)
    return out


def compose(parent: Transform, child: Transform) -> Transform:
    """World transform of `child` given relative to `parent`."""
    rp = rotation(parent.yaw, parent.pitch, parent.roll)
    rc = rotation(child.yaw, child.pitch, child.roll)
    loc = rp @ np.array([child.x, child.y, child.z]) + (parent.x, parent.y, parent.z)
    r = rp @ rc
    pitch = np.degrees(np.arcsin(np.clip(r[2, 0], -1, 1)))
    yaw = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    roll = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    return Transform(*map(float, loc), float(pitch), float(yaw), float(roll))


def _int_attr(attrs: dict[str, str], key: str, default: int) -> int:
    try:
        return int(float(attrs.get(key, default)))
    except ValueError as exc:
        raise WorldError(f"attribute {key} must be a number, got {attrs[key]!r}") from exc


def _float_attr(attrs: dict[str, str], key: str, default: float) -> float:
    try:
        return float(attrs.get(key, default))
    except ValueError as exc:
        raise WorldError(f"attribute {key} must be a number, got {attrs[key]!r}") from exc
