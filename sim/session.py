"""The generator's side of CARLA: connect with backoff, a synchronous world, three cameras on one
pose, settled images, and a server left as it was found.

- Cameras: RGB, semantic and instance on one transform; the RGB camera has motion blur off and
  auto ("histogram") or manual exposure; every capture ticks `warmup` frames first, so the
  renderer settles after the cameras moved, the weather changed and props appeared.
- Every actor a session spawns carries `role_name = ROLE`, so leftovers of an unclean exit can
  be found and destroyed (sim.leftovers).
- Actors are destroyed with `apply_batch_sync` of DestroyActor commands; every response is
  checked, a failed destroy is retried, and what still fails is reported, never ignored.
- The world settings found at connect time are restored by `close()`.

All `carla` calls of the generator live here. Errors from the client (server down, time-outs,
lost connections: `CLIENT_ERRORS`) surface as `ServerError` with a message that names the server
and the cause; `Session.errors` is the one place that converts them, and the generator's frame
loop runs every frame inside it, so its reconnect loop sees every server failure.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import time
from dataclasses import dataclass

import numpy as np

from segood.errors import SegoodError
from sim.placement import Pose
from sim.server.protocol import SETTINGS_FIELDS as SETTINGS  # carla.WorldSettings fields
from sim.sync import drain, signals_deferred, tick_until_seen, wait_frame

log = logging.getLogger("sim.generate")

CAMERAS = (
    "sensor.camera.rgb",
    "sensor.camera.semantic_segmentation",
    "sensor.camera.instance_segmentation",
)
ROLE = "segood_sim"
DESTROY_ATTEMPTS = 3
NOT_FOUND = "not found"  # CARLA: "unable to destroy actor: not found" (already gone)
CODE_ATTEMPTS = 4  # respawns of a prop whose instance code another actor already shows
# What a server failure raises: the carla client's RuntimeError (time-outs, lost connections,
# error replies) and the socket errors of a connection (not other OSErrors: a full disk is no
# reason to reconnect).
CLIENT_ERRORS = (RuntimeError, ConnectionError, TimeoutError)


class ServerError(SegoodError):
    """The CARLA server is down, timed out or failed a call; worth reconnecting."""


def _carla():
    try:
        import carla
    except ImportError as exc:
        raise SegoodError(
            "the CARLA client is missing: pip install 'segood[sim]' (carla==0.9.16)"
        ) from exc
    return carla


@dataclass
class Frame:
    number: int
    rgb: np.ndarray  # (H, W, 3) RGB
    semantic: np.ndarray  # (H, W, 4) BGRA
    instance: np.ndarray  # (H, W, 4) BGRA


@dataclass(frozen=True)
class CameraSettings:
    width: int
    height: int
    fov: float = 90.0
    warmup: int = 0  # ticks before the kept one
    exposure: str = "histogram"  # or "manual"


def backoff_delays(first: float = 1.0, cap: float = 30.0):
    d = first
    while True:
        yield d
        d = min(cap, d * 2)


class Session:
    def __init__(
        self, host: str, port: int, timeout: float, camera: CameraSettings, delta: float = 0.05
    ) -> None:
        self.carla = _carla()
        self.host, self.port, self.timeout = host, port, timeout
        self.camera, self.delta = camera, delta
        self.client = None
        self.world = None
        self.town: str | None = None
        self.cameras: list = []
        self.queues: list[queue.Queue] = []
        self.props: list = []
        self.orphans: list[int] = []  # actors a failed call may have left; destroyed later
        self.waypoints: list = []
        self.blueprints = None
        self.busy_codes: set[int] = set()  # instance codes of the other actors on the server
        self.found: dict | None = None  # world settings to restore on close
        self.wrapped = False

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @contextlib.contextmanager
    def errors(self, what: str):
        """Run the block; a client error in it becomes a ServerError naming `what`."""
        try:
            yield
        except CLIENT_ERRORS as exc:
            raise ServerError(f"CARLA server {self.endpoint}: {what} failed: {exc}") from exc

    # -- connection ------------------------------------------------------------------------
    def connect(self, attempts: int = 8, first_delay: float = 1.0) -> str:
        """Connect (retrying with exponential backoff); returns the server version."""
        delays = backoff_delays(first_delay)
        for attempt in range(1, attempts):
            try:
                return self._connect_once()
            except CLIENT_ERRORS as exc:
                delay = next(delays)
                print(
                    f"CARLA server {self.endpoint} not answering ({exc}); retry {attempt}/"
                    f"{attempts - 1} in {delay:.0f} s",
                    file=sys.stderr,
                )
                time.sleep(delay)
        try:
            return self._connect_once()
        except CLIENT_ERRORS as exc:
            raise ServerError(
                f"cannot reach a CARLA server at {self.endpoint} after {attempts} "
                f"attempts ({exc}). Is it running? Start one (CarlaUE4.sh, or "
                f"`python -m sim.server --port {self.port}`) or fix --host/--port."
            ) from exc

    def _connect_once(self) -> str:
        client = self.carla.Client(self.host, self.port, worker_threads=1)
        client.set_timeout(self.timeout)
        version = client.get_server_version()
        self.client = client
        if version != client.get_client_version():
            log.warning(
                "server %s runs CARLA %s, client is %s",
                self.endpoint,
                version,
                client.get_client_version(),
            )
        return version

    def call(self, what: str, fn, *args):
        """`fn(*args)`, with a client error turned into a ServerError naming `what`."""
        with self.errors(what):
            return fn(*args)

    def available_maps(self) -> list[str]:
        return self.call("get_available_maps", lambda: list(self.client.get_available_maps()))

    def leftovers(self) -> list[int]:
        """Ids of the actors on the server that a generator spawned (role_name ROLE)."""

        def actors():
            world = self.client.get_world()
            if world.get_settings().synchronous_mode:  # left frozen: the client learns the
                tick_until_seen(world, self.timeout)  # actor list from a tick's state
            return world.get_actors()

        found = self.call("get_actors", actors)
        return [a.id for a in found if a.attributes.get("role_name") == ROLE]

    # -- settings --------------------------------------------------------------------------
    def read_settings(self) -> dict:
        s = self.call("get_settings", lambda: self.client.get_world().get_settings())
        return {k: getattr(s, k) for k in SETTINGS}

    def apply_settings(self, values: dict) -> None:
        world = self.client.get_world()
        s = world.get_settings()
        for k in SETTINGS:
            setattr(s, k, values[k])
        world.apply_settings(s)

    def restore_settings(self) -> list[str]:
        """Apply the settings found at connect time; returns the fields that did not take."""
        if self.found is None:
            return []
        try:
            self.apply_settings(self.found)
            now = self.read_settings()
        except (*CLIENT_ERRORS, ServerError) as exc:
            return [f"settings ({exc})"]
        return [k for k in SETTINGS if not _same(now[k], self.found[k])]

    # -- world -----------------------------------------------------------------------------
    def load_town(self, town: str) -> None:
        """Load `town` (a fresh episode), synchronous mode, cameras, waypoints."""
        self.release()
        with self.errors(f"loading {town}"):
            self.client.set_timeout(max(self.timeout, 60.0))
            self.world = self.client.load_world(town)
            self.client.set_timeout(self.timeout)
            self.prepare(town)

    def prepare(self, town: str | None = None) -> None:
        """Synchronous mode, waypoints, blueprints and cameras on the current world."""
        if self.world is None:
            self.world = self.client.get_world()
        s = self.world.get_settings()
        s.synchronous_mode = True
        s.fixed_delta_seconds = self.delta
        self.world.apply_settings(s)
        cmap = self.world.get_map()
        self.waypoints = [
            w for w in cmap.generate_waypoints(4.0) if w.lane_type == self.carla.LaneType.Driving
        ]
        self.blueprints = self.world.get_blueprint_library()
        self.town = town or cmap.name.rsplit("/", 1)[-1]
        # codes a prop must not show: other actors', and 0 (what the camera shows for no actor)
        self.busy_codes = {0} | {a.id & 0xFFFF for a in self.world.get_actors()}
        self._spawn_cameras()

    def _camera_blueprint(self, bp_id: str):
        bp = self.blueprints.find(bp_id)
        cam = self.camera
        attrs = {"image_size_x": cam.width, "image_size_y": cam.height, "fov": cam.fov}
        if bp_id == "sensor.camera.rgb":
            attrs |= {"motion_blur_intensity": 0.0, "exposure_mode": cam.exposure}
        for key, value in {**attrs, "role_name": ROLE}.items():
            bp.set_attribute(key, str(value))
        return bp

    def _spawn_cameras(self) -> None:
        origin = self.carla.Transform(self.carla.Location(0, 0, 50))
        for bp_id in CAMERAS:
            bp = self._camera_blueprint(bp_id)
            q: queue.Queue = queue.Queue()
            with signals_deferred():  # spawned => recorded, so cleanup can destroy it
                cam = self.world.spawn_actor(bp, origin)
                self.cameras.append(cam)
                self.queues.append(q)
            cam.listen(q.put)
        self.busy_codes |= {c.id & 0xFFFF for c in self.cameras}
        # subscriptions complete asynchronously: tick until every camera delivers
        deadline = time.monotonic() + max(10.0, self.timeout)
        pending = set(range(len(CAMERAS)))
        while pending:
            if time.monotonic() > deadline:
                raise ServerError(f"CARLA server {self.endpoint}: cameras sent no images")
            self.world.tick()
            for i in list(pending):
                try:
                    self.queues[i].get(timeout=1.0)
                    pending.discard(i)
                except queue.Empty:
                    pass
        for q in self.queues:
            drain(q)

    def set_weather(self, w: dict[str, float]) -> None:
        self.call("set_weather", self.world.set_weather, self.carla.WeatherParameters(**w))

    def transform(self, x, y, z, pitch=0.0, yaw=0.0, roll=0.0):
        c = self.carla
        return c.Transform(c.Location(x=x, y=y, z=z), c.Rotation(pitch=pitch, yaw=yaw, roll=roll))

    def move_cameras(self, pose: Pose) -> None:
        t = self.transform(pose.x, pose.y, pose.z, pose.pitch, pose.yaw, pose.roll)
        for cam in self.cameras:
            self.call("set_transform", cam.set_transform, t)

    # -- props -----------------------------------------------------------------------------
    def spawn_prop(self, prop, t):
        """The spawned actor of an `AnomalyProp`, or None when the server refuses (a collision).

        A prop whose 16-bit instance code another live actor already shows (ids wrap at
        65,536) is destroyed and spawned again: the next id differs.
        """
        bp = self.blueprints.find(prop.blueprint)
        for key, value in {**prop.attributes(), "role_name": ROLE}.items():
            if bp.has_attribute(key):
                bp.set_attribute(key, value)
        for _ in range(CODE_ATTEMPTS):
            with signals_deferred():  # spawned => recorded, so cleanup can destroy it
                actor = self.call("spawn", self.world.try_spawn_actor, bp, t)
                if actor is not None:
                    self.props.append(actor)
            if actor is None:
                return None
            self._note_wrap(actor.id)
            code = actor.id & 0xFFFF
            if code not in self.busy_codes | {a.id & 0xFFFF for a in self.props[:-1]}:
                return actor
            log.debug("prop %d shows instance code %d of another actor; respawning", actor.id, code)
            self.props.pop()
            self._destroy_or_fail([actor.id])
        return None

    def _note_wrap(self, actor_id: int) -> None:
        if actor_id > 0xFFFF and not self.wrapped:
            self.wrapped = True
            log.warning(
                "actor ids on %s passed 65,535, so instance codes wrap; labels stay safe (a code "
                "another actor shows is never given to a prop, and every prop pixel must lie in "
                "its footprint), and a server restart resets the ids",
                self.endpoint,
            )

    def destroy_props(self) -> None:
        ids = [a.id for a in self.props]
        self.props = []
        self._destroy_or_fail(ids)

    def _destroy_or_fail(self, ids: list[int]) -> None:
        failed = self.destroy(ids)
        if failed:
            self.orphans += list(failed)
            raise ServerError(f"CARLA server {self.endpoint}: {describe(failed)}")

    def destroy(self, ids: list[int]) -> dict[int, str]:
        """Destroy actors by id with apply_batch_sync, checking every response; a failed
        destroy is retried. Returns {actor id: error} of the destroys that still failed ("not
        found" is success: the actor is gone; a server that does not answer is not retried,
        the ids stay orphans for the reconnect)."""
        pending, errors = list(ids), {}
        for attempt in range(DESTROY_ATTEMPTS):
            if not pending:
                return {}
            if attempt:
                time.sleep(0.2 * attempt)
            commands = [self.carla.command.DestroyActor(i) for i in pending]
            try:
                responses = self.client.apply_batch_sync(commands, False)
            except CLIENT_ERRORS as exc:  # no answer (server down): retrying now cannot help
                return {i: f"apply_batch_sync failed: {exc}" for i in pending}
            errors = {
                i: r.error
                for i, r in zip(pending, responses, strict=True)
                if r.error and NOT_FOUND not in r.error
            }
            pending = list(errors)
        return errors

    def capture(self) -> Frame:
        """Tick `warmup` frames, then one more, and return the three images of that one."""
        with self.errors("tick"):
            for _ in range(self.camera.warmup):
                self.world.tick(self.timeout)
            number = self.world.tick(self.timeout)
            images = [wait_frame(q, number, self.timeout) for q in self.queues]
        if any(im is None for im in images):
            raise ServerError(f"CARLA server {self.endpoint}: frame {number} images missing")
        arrays = [
            np.frombuffer(im.raw_data, np.uint8).reshape(im.height, im.width, 4).copy()
            for im in images
        ]
        return Frame(number, arrays[0][..., 2::-1].copy(), arrays[1], arrays[2])

    # -- cleanup ---------------------------------------------------------------------------
    def release(self) -> dict[int, str]:
        """Destroy every actor this session spawned (props, cameras, orphans); never raises.
        Returns {actor id: error} of those that could not be destroyed (kept as orphans)."""
        for cam in self.cameras:
            with contextlib.suppress(*CLIENT_ERRORS):
                cam.stop()
        ids = self.orphans + [a.id for a in self.props + self.cameras]
        self.props, self.cameras, self.queues = [], [], []
        failed = self.destroy(ids) if ids and self.client is not None else {}
        self.orphans = list(failed)
        return failed

    def close(self) -> list[str]:
        """Release actors and restore the settings found at connect; returns the problems."""
        problems = []
        if self.client is not None:
            failed = self.release()
            if failed:
                problems.append(describe(failed))
            problems += [f"could not restore {p}" for p in self.restore_settings()]
        self.world = None
        return problems


def describe(failed: dict[int, str]) -> str:
    items = "; ".join(f"{i}: {e}" for i, e in sorted(failed.items()))
    return f"could not destroy {len(failed)} actor(s) after {DESTROY_ATTEMPTS} attempts ({items})"


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(a - b) <= 1e-6 * max(1.0, abs(b))
    return a == b
