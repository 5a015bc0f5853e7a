"""The generator's side of CARLA: connect with backoff, a synchronous world, three cameras on one
pose, ticks matched to images by frame number, and every spawned actor destroyed at the end.

All `carla` calls of the generator live here. Errors from the client (server down, time-outs,
lost connections) surface as `ServerError` with a message that names the server and the cause.
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

log = logging.getLogger("sim.generate")

CAMERAS = (
    "sensor.camera.rgb",
    "sensor.camera.semantic_segmentation",
    "sensor.camera.instance_segmentation",
)


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


def backoff_delays(first: float = 1.0, cap: float = 30.0):
    d = first
    while True:
        yield d
        d = min(cap, d * 2)


class Session:
    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        width: int,
        height: int,
        fov: float = 90.0,
        delta: float = 0.05,
    ) -> None:
        self.carla = _carla()
        self.host, self.port, self.timeout = host, port, timeout
        self.width, self.height, self.fov, self.delta = width, height, fov, delta
        self.client = None
        self.world = None
        self.town: str | None = None
        self.cameras: list = []
        self.queues: list[queue.Queue] = []
        self.props: list = []
        self.waypoints: list = []
        self.blueprints = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def _wrap(self, what: str, exc: Exception) -> ServerError:
        return ServerError(f"CARLA server {self.endpoint}: {what} failed: {exc}")

    # -- connection ------------------------------------------------------------------------
    def connect(self, attempts: int = 8, first_delay: float = 1.0) -> str:
        """Connect (retrying with exponential backoff); returns the server version."""
        delays = backoff_delays(first_delay)
        for attempt in range(1, attempts + 1):
            try:
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
            except RuntimeError as exc:
                if attempt == attempts:
                    raise ServerError(
                        f"cannot reach a CARLA server at {self.endpoint} after {attempts} "
                        f"attempts ({exc}). Is it running? Start one (CarlaUE4.sh, or "
                        f"`python -m sim.server --port {self.port}`) or fix --host/--port."
                    ) from exc
                delay = next(delays)
                print(
                    f"CARLA server {self.endpoint} not answering ({exc}); retry {attempt}/"
                    f"{attempts - 1} in {delay:.0f} s",
                    file=sys.stderr,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    def available_maps(self) -> list[str]:
        try:
            return list(self.client.get_available_maps())
        except RuntimeError as exc:
            raise self._wrap("get_available_maps", exc) from exc

    # -- world -----------------------------------------------------------------------------
    def load_town(self, town: str) -> None:
        """Load `town` (fresh episode: no actors), synchronous mode, cameras, waypoints."""
        self.release()
        try:
            self.client.set_timeout(max(self.timeout, 60.0))
            self.world = self.client.load_world(town)
            self.client.set_timeout(self.timeout)
            s = self.world.get_settings()
            s.synchronous_mode = True
            s.fixed_delta_seconds = self.delta
            self.world.apply_settings(s)
            cmap = self.world.get_map()
            self.waypoints = [
                w
                for w in cmap.generate_waypoints(4.0)
                if w.lane_type == self.carla.LaneType.Driving
            ]
            self.spawn_points = cmap.get_spawn_points()
            self.blueprints = self.world.get_blueprint_library()
            self.town = town
            self._spawn_cameras()
        except RuntimeError as exc:
            raise self._wrap(f"loading {town}", exc) from exc

    def _spawn_cameras(self) -> None:
        origin = self.carla.Transform(self.carla.Location(0, 0, 50))
        for bp_id in CAMERAS:
            bp = self.blueprints.find(bp_id)
            bp.set_attribute("image_size_x", str(self.width))
            bp.set_attribute("image_size_y", str(self.height))
            bp.set_attribute("fov", str(self.fov))
            q: queue.Queue = queue.Queue()
            with _signals_deferred():  # spawned => recorded, so cleanup can destroy it
                cam = self.world.spawn_actor(bp, origin)
                self.cameras.append(cam)
                self.queues.append(q)
            cam.listen(q.put)
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
            _drain(q)

    def set_weather(self, w: dict[str, float]) -> None:
        self.world.set_weather(self.carla.WeatherParameters(**w))

    def transform(self, x, y, z, pitch=0.0, yaw=0.0, roll=0.0):
        c = self.carla
        return c.Transform(c.Location(x=x, y=y, z=z), c.Rotation(pitch=pitch, yaw=yaw, roll=roll))

    def move_cameras(self, t) -> None:
        for cam in self.cameras:
            cam.set_transform(t)

    def spawn_prop(self, blueprint: str, t):
        """The spawned actor, or None when the server refuses (a collision)."""
        with _signals_deferred():  # spawned => recorded, so cleanup can destroy it
            actor = self.world.try_spawn_actor(self.blueprints.find(blueprint), t)
            if actor is not None:
                self.props.append(actor)
        return actor

    def destroy_props(self) -> None:
        for a in self.props:
            try:
                a.destroy()
            except RuntimeError as exc:
                log.warning("could not destroy prop %s: %s", a.id, exc)
        self.props = []

    def capture(self) -> Frame:
        """Tick once and return the three images of that frame."""
        try:
            number = self.world.tick(self.timeout)
            images = [_wait_frame(q, number, self.timeout) for q in self.queues]
        except RuntimeError as exc:
            raise self._wrap("tick", exc) from exc
        if any(im is None for im in images):
            raise ServerError(f"CARLA server {self.endpoint}: frame {number} images missing")
        arrays = [
            np.frombuffer(im.raw_data, np.uint8).reshape(im.height, im.width, 4).copy()
            for im in images
        ]
        return Frame(number, arrays[0][..., 2::-1].copy(), arrays[1], arrays[2])

    # -- cleanup ---------------------------------------------------------------------------
    def release(self) -> None:
        """Destroy every actor this session spawned (props, cameras); never raises."""
        actors = self.props + self.cameras
        if actors and self.world is not None:
            for cam in self.cameras:
                with contextlib.suppress(RuntimeError):
                    cam.stop()
            # the client skips destroying an actor it does not know yet (a fresh spawn): tick, then
            # wait until the world state that lists every actor has reached the client
            with contextlib.suppress(RuntimeError):
                self.world.tick(min(self.timeout, 5.0))
            _wait_alive(actors, timeout=2.0)
            for a in actors:
                try:
                    a.destroy()
                except RuntimeError as exc:
                    log.warning("could not destroy actor %s: %s", a.id, exc)
        self.props, self.cameras, self.queues = [], [], []

    def close(self) -> None:
        """Release actors and give the server back its asynchronous mode."""
        self.release()
        if self.world is not None:
            try:
                s = self.world.get_settings()
                s.synchronous_mode = False
                s.fixed_delta_seconds = None
                self.world.apply_settings(s)
            except RuntimeError:
                pass
        self.world = None


def _wait_alive(actors: list, timeout: float) -> None:
    """Poll until the client reports every actor alive, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if all(a.is_alive for a in actors):
                return
        except RuntimeError:
            return
        time.sleep(0.01)


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM until the block ends (main thread, POSIX); a no-op elsewhere.

    Ctrl-C between the server creating an actor and this session recording it would leave the
    actor behind; blocked signals are delivered when the block ends, after the record.
    """
    import signal
    import threading

    if (
        not hasattr(signal, "pthread_sigmask")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


def _wait_frame(q: queue.Queue, frame: int, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            im = q.get(timeout=left)
        except queue.Empty:
            return None
        if im.frame == frame:
            return im
        if im.frame > frame:
            return None
