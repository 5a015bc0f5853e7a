"""The simulated world behind the loopback server: episode, settings, weather, actors, ticks.

It is deliberately small: actors are cameras (rgb, semantic, instance) and static props; the
town itself (roads, buildings, parked cars, pedestrians, ...) is part of the map, as in CARLA,
and its traffic lights and signs are map actors (sim.server.landmarks). Spawning a prop fails,
like CARLA's, when its box would overlap a town object or another prop. On every tick each
camera renders (one geometry pass per distinct pose) and publishes its image on its stream,
then the world observer publishes the episode state the client waits for. The world observer
stream lives as long as the server (as CARLA's broadcast stream does), across map loads.

Rendering is a pure function of the scene (sim.server.views), so ticks that change nothing
(warm-up ticks) reuse the last images. Actor ids, like CARLA's, grow for the server's lifetime
and are never reused.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
from dataclasses import dataclass, field

import numpy as np

from sim.server import blueprints, props, protocol, views
from sim.server.blueprints import CAMERAS
from sim.server.protocol import Transform
from sim.server.render.primitives import Primitives, rotation
from sim.server.stream import StreamServer
from sim.server.town import FIRST_STATIC_ID, TOWN_NAMES, Town, make_town
from sim.tags import Tag

log = logging.getLogger(__name__)

MAX_IMAGE_SIDE = 4096
MAX_ACTORS = 2000
DESTROY_COMMAND = 1  # index of DestroyActor in 0.9.16's rpc::Command variant


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
    spec: props.PropSpec | None = None  # props only (None: an empty static.prop.mesh)


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
    first_actor_id: int = 1
    colliding_engine_ids: bool = False  # town objects show actor-like instance ids
    tick_cues: int = 0  # ticks asked for by clients (synchronous mode)
    camera_attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # last spawned
    failing_destroys: int = 0  # test hook: DestroyActor commands that fail next

    def __post_init__(self) -> None:
        self._next_actor = self.first_actor_id
        self._next_stream = 1
        self._scene_version = 0
        self._render_cache: dict[tuple, object] = {}
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

    @property
    def next_actor_id(self) -> int:
        return self._next_actor

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
        self.episode_id += 1
        self.set_weather(default_weather())
        if reset_settings:
            self.settings = default_settings()

    def set_weather(self, weather: dict) -> None:
        self.weather = weather
        self._scene_changed()

    def _scene_changed(self) -> None:
        self._scene_version += 1
        self._render_cache.clear()

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
            actor = self._camera(blueprint, attributes, transform, parent)
        elif blueprint in self.props or blueprint == blueprints.MESH:
            actor = self._prop(blueprint, attributes, transform, parent)
        else:
            raise WorldError(f"blueprint '{blueprint}' not found")
        self.actors[actor.id] = actor
        return actor

    def _camera(self, blueprint, attributes, transform, parent) -> Actor:
        w = _int_attr(attributes, "image_size_x", 800)
        h = _int_attr(attributes, "image_size_y", 600)
        fov = _float_attr(attributes, "fov", 90.0)
        if not (1 <= w <= MAX_IMAGE_SIDE and 1 <= h <= MAX_IMAGE_SIDE and 1 <= fov <= 170):
            raise WorldError("camera image size must be 1..4096 and fov 1..170")
        mode = attributes.get("exposure_mode", "histogram")
        if mode not in blueprints.EXPOSURE_MODES:
            raise WorldError(f"exposure_mode must be one of {blueprints.EXPOSURE_MODES}")
        _float_attr(attributes, "motion_blur_intensity", 0.45)
        attrs = {**attributes, "image_size_x": str(w), "image_size_y": str(h), "fov": str(fov)}
        self.camera_attributes[blueprint] = attrs
        return Actor(
            self._new_actor_id(),
            blueprint,
            attrs,
            transform,
            parent,
            self._new_stream(),
            CAMERAS[blueprint],
        )

    def _prop(self, blueprint, attributes, transform, parent) -> Actor:
        """A library prop, or `static.prop.mesh` showing the prop its mesh_path names (an
        empty actor, with no geometry and no collision, for a path it does not know)."""
        spec = self.props.get(blueprint)
        if blueprint == blueprints.MESH:
            named = blueprints.mesh_blueprint(attributes.get("mesh_path", ""))
            scale = _float_attr(attributes, "scale", 1.0)
            if not 0.01 <= scale <= 20:
                raise WorldError("scale must be within 0.01..20")
            spec = self.props.get(named) if named else None
            if spec is not None:
                spec = dataclasses.replace(spec, scale=spec.scale * scale)
        actor = Actor(self._new_actor_id(), blueprint, dict(attributes), transform, parent)
        actor.spec, actor.extent = spec, (0.0, 0.0, 0.0)
        if spec is not None:
            self._shape(actor)
            if self._collides(actor.box):
                raise WorldError(
                    f"Spawn failed because of collision at spawn position ({blueprint})"
                )
            actor.extent, actor.tags = spec.extent, bytes([Tag.STATIC])
        self._scene_changed()
        return actor

    def _shape(self, actor: Actor) -> None:
        t = actor.transform
        actor.prims = props.build(actor.spec, actor.id & 0xFFFF, t.x, t.y, t.z, t.yaw)
        c = actor.prims.corners().reshape(-1, 3)
        actor.box = np.concatenate([c.min(0), c.max(0)])

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
        if actor.prims is not None:
            self._scene_changed()
        for child in [a.id for a in self.actors.values() if a.parent == actor.id]:
            self.destroy(child)

    def set_transform(self, actor_id: int, transform: Transform) -> None:
        actor = self.actors.get(int(actor_id))
        if actor is None:
            raise WorldError(f"actor {actor_id} not found")
        actor.transform = transform
        if actor.prims is not None:
            self._shape(actor)
            self._scene_changed()

    def run_command(self, command) -> list:
        """One rpc::Command of apply_batch -> its CommandResponse (Response<ActorId>).

        A command is `[[variant index, payload]]`; only DestroyActor (`[actor_id]`) is
        implemented, others are answered with an error response.
        """
        try:
            (index, payload), *_ = command
            if index != DESTROY_COMMAND:
                return protocol.fail(f"command {index} is not supported by the loopback server")
            actor_id = int(payload[0])
        except (TypeError, ValueError, IndexError):
            return protocol.fail("malformed command: expected [[1, [actor_id]]]")
        if self.failing_destroys > 0:
            self.failing_destroys -= 1
            return protocol.fail(f"unable to destroy actor {actor_id}: injected failure")
        if actor_id not in self.actors:
            return protocol.fail("unable to destroy actor: not found")  # CARLA's words
        self.destroy(actor_id)
        return protocol.ok(actor_id)

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
        actors += [(m.id, m.transform) for m in self.town.landmarks]
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
        groups: dict[tuple, list[Actor]] = {}
        for a in cams:
            key = (
                a.transform.values(),
                int(a.attributes["image_size_x"]),
                int(a.attributes["image_size_y"]),
                float(a.attributes["fov"]),
            )
            groups.setdefault(key, []).append(a)
        for key, members in groups.items():
            result = self._render(key)
            for a in members:
                bgra = views.camera_bgra(a.sensor_type, result)
                payload = protocol.image_payload(
                    a.sensor_type, self.frame, self.elapsed, a.transform, key[3], bgra
                )
                self.streams.publish(a.stream_id, payload)

    def _render(self, key: tuple):
        """The views of one camera pose (pose, width, height, fov), cached until the scene
        changes."""
        if key not in self._render_cache:
            props = [a for a in self.actors.values() if a.prims is not None]
            marks = [m.id for m in self.town.landmarks] if self.colliding_engine_ids else None
            result = views.render(self.town, props, self.weather, key, marks)
            self.last_render_seconds = result.seconds
            self._render_cache[key] = result
        return self._render_cache[key]

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

    def record(self, actor_id: int) -> list | None:
        """The rpc::Actor of a spawned actor, a map actor or the spectator (None if unknown)."""
        if actor_id == self.spectator:
            return self.spectator_record()
        if actor_id in self.actors:
            return self.actor_record(self.actors[actor_id])
        for m in self.town.landmarks:
            if m.id == actor_id:
                box = protocol.encode_bounding_box((0.0, 0.0, m.center_z), m.extent)
                return [m.id, 0, [0, m.type_id, []], box, m.tags, b""]
        return None

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
    try:  # C++ reads "1.0f" (a 0.9.16 default) as 1.0
        return float(str(attrs.get(key, default)).strip().rstrip("fF") or default)
    except ValueError as exc:
        raise WorldError(f"attribute {key} must be a number, got {attrs[key]!r}") from exc
