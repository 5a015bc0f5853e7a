"""The RPC method table of the loopback server: CARLA call names -> World operations.

Each handler decodes its arguments (protocol.ProtocolError on a bad layout), calls the world and
encodes the reply as LibCarla expects it (`Response<T>` or `Response<void>`). World and protocol
errors become CARLA error responses, which the client raises as RuntimeError; anything else is
caught by the rpc layer.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from sim.server import blueprints, protocol
from sim.server.opendrive import town_xodr
from sim.server.protocol import ProtocolError, fail, fail_void, ok, ok_void
from sim.server.world import World, WorldError


def _guard(void: bool = False):
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args):
            try:
                return fn(*args)
            except (WorldError, ProtocolError) as exc:
                return fail_void(str(exc)) if void else fail(str(exc))

        return inner

    return wrap


def make_handlers(
    world: World, on_shutdown: Callable[[], None] | None = None, pose_as_carla: bool = False
) -> dict:
    """RPC method name -> handler: CARLA's methods, then segood's own (`segood_*`)."""
    return {
        **_episode_methods(world),
        **_map_methods(world),
        **_actor_methods(world),
        **_no_ops(),
        **_segood_methods(world, on_shutdown, pose_as_carla),
    }


def _by_name(*handlers: Callable[..., Any]) -> dict:
    return {f.__name__: f for f in handlers}


def _episode_methods(world: World) -> dict:
    """Version, maps, episodes, their settings and streams, and ticks."""

    @_guard()
    def version():
        return ok(protocol.VERSION)

    @_guard()
    def get_available_maps():
        return ok(world.map_paths())

    @_guard(void=True)
    def load_new_episode(map_name, reset_settings=True, *_layers):
        if not isinstance(map_name, str):
            raise ProtocolError("map name must be a string")
        world.load(map_name, bool(reset_settings))
        return ok_void()

    @_guard()
    def get_episode_info():
        return ok([world.episode_id, protocol.encode_token(world.world_stream, world.streams.port)])

    @_guard()
    def get_sensor_token(stream_id):
        return ok(protocol.encode_token(int(stream_id), world.streams.port))

    @_guard()
    def get_episode_settings():
        return ok(protocol.encode_settings(world.settings))

    @_guard()
    def set_episode_settings(settings):
        world.settings = protocol.decode_settings(settings)
        return ok(world.frame)

    @_guard()
    def tick_cue():
        world.tick_cues += 1
        return ok(world.tick())

    return _by_name(
        version, get_available_maps, load_new_episode, get_episode_info, get_sensor_token,
        get_episode_settings, set_episode_settings, tick_cue,
    )  # fmt: skip


def _map_methods(world: World) -> dict:
    """The map (spawn points, OpenDRIVE), the weather, the blueprints and the spectator."""
    xodr_cache: dict[str, str] = {}

    @_guard()
    def get_map_info():
        spawn = [t.encode() for t in world.town.spawn_points]
        return ok([f"Carla/Maps/{world.town.name}", spawn])

    @_guard()
    def get_map_data():
        name = world.town.name
        if name not in xodr_cache:
            xodr_cache[name] = town_xodr(world.town)
        return ok(xodr_cache[name])

    @_guard()
    def get_weather_parameters():
        return ok(protocol.encode_weather(world.weather))

    @_guard(void=True)
    def set_weather_parameters(weather):
        world.set_weather(protocol.decode_weather(weather))
        return ok_void()

    @_guard()
    def get_actor_definitions():
        return ok(blueprints.definitions())

    @_guard()
    def get_spectator():
        return ok(world.spectator_record())

    return _by_name(
        get_map_info, get_map_data, get_weather_parameters, set_weather_parameters,
        get_actor_definitions, get_spectator,
    )  # fmt: skip


def _actor_methods(world: World) -> dict:
    """Spawning, finding, moving and destroying actors, one by one or in batches."""

    @_guard()
    def spawn_actor(description, transform):
        _, bp, attrs = protocol.decode_description(description)
        actor = world.spawn(bp, attrs, protocol.decode_transform(transform))
        return ok(world.actor_record(actor))

    @_guard()
    def spawn_actor_with_parent(description, transform, parent, *_attachment):
        _, bp, attrs = protocol.decode_description(description)
        actor = world.spawn(bp, attrs, protocol.decode_transform(transform), int(parent))
        return ok(world.actor_record(actor))

    @_guard()
    def destroy_actor(actor_id):  # Response<bool> in 0.9.16
        world.destroy(int(actor_id))
        return ok(True)

    @_guard()
    def get_actors_by_id(ids):
        records = (world.record(int(i)) for i in ids)
        return ok([r for r in records if r is not None])

    def apply_batch(commands, do_tick_cue=False):  # std::vector<CommandResponse>, unwrapped
        if not isinstance(commands, list):
            raise ProtocolError("apply_batch takes a list of commands")
        responses = [world.run_command(c) for c in commands]
        if do_tick_cue:
            world.tick_cues += 1
            world.tick()
        return responses

    @_guard()
    def get_actor_bounding_box(actor_id):
        record = world.record(int(actor_id))
        if record is None:
            raise WorldError(f"actor {actor_id} not found")
        return ok(record[3])

    @_guard(void=True)
    def set_actor_transform(actor_id, transform):
        world.set_transform(int(actor_id), protocol.decode_transform(transform))
        return ok_void()

    @_guard(void=True)
    def set_actor_location(actor_id, location):
        t = world.actors[int(actor_id)].transform if int(actor_id) in world.actors else None
        if t is None:
            raise WorldError(f"actor {actor_id} not found")
        x, y, z = protocol.decode_location(location)
        world.set_transform(int(actor_id), protocol.Transform(x, y, z, t.pitch, t.yaw, t.roll))
        return ok_void()

    return _by_name(
        spawn_actor, spawn_actor_with_parent, destroy_actor, get_actors_by_id, apply_batch,
        get_actor_bounding_box, set_actor_transform, set_actor_location,
    )  # fmt: skip


NO_OPS = (  # CARLA methods a client may call that change nothing here
    "set_actor_simulate_physics", "set_actor_enable_gravity", "set_actor_velocity",
    "set_actor_angular_velocity", "set_actor_autopilot", "enable_sensor_for_ros",
    "disable_sensor_for_ros", "freeze_all_traffic_lights", "update_lights_state",
    "set_pedestrians_cross_factor", "set_pedestrians_seed", "stop_recorder",
    "set_files_base_folder",
)  # fmt: skip
EMPTY_LISTS = ("get_required_files", "query_lights_state", "get_names_of_all_objects")


def _no_ops() -> dict:
    def nothing(*_args):
        return ok_void()

    def empty_list(*_args):
        return ok([])

    table = dict.fromkeys(NO_OPS, nothing) | dict.fromkeys(EMPTY_LISTS, empty_list)
    table["is_sensor_enabled_for_ros"] = lambda *_a: ok(False)
    return table


def _segood_methods(
    world: World, on_shutdown: Callable[[], None] | None, pose_as_carla: bool
) -> dict:
    """Not CARLA: lets tests and scripts inspect, break and stop the server."""

    def segood_shutdown():
        if on_shutdown:  # after the reply has gone out
            threading.Timer(0.2, on_shutdown).start()
        return ok_void()

    def segood_status():
        return ok(
            {
                "town": world.town.name,
                "frame": world.frame,
                "tick_cues": world.tick_cues,
                "episode": world.episode_id,
                "actors": sorted(world.actors),
                "next_actor_id": world.next_actor_id,
                "synchronous": world.settings["synchronous_mode"],
                "settings": protocol.encode_settings(world.settings),
                "camera_attributes": world.camera_attributes,
                "render_seconds": world.last_render_seconds,
            }
        )

    def segood_fail_destroys(count):  # test hook: the next DestroyActor commands fail
        world.failing_destroys = int(count)
        return ok_void()

    def segood_loopback():  # how sim.generate tells this server from CARLA
        return ok(protocol.VERSION)

    table = _by_name(segood_shutdown, segood_status, segood_fail_destroys)
    return table if pose_as_carla else table | _by_name(segood_loopback)
