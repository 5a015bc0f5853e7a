"""Wire encoding of the CARLA 0.9.16 types the loopback server exchanges with the client.

Everything here is pure: Python values in, msgpack-ready lists (or packed bytes) out. Layouts
follow LibCarla's MSGPACK_DEFINE_ARRAY declarations and sensor serializers:

- `Response<T>` is `[variant]` with variant `[1, value]` (success) or `[0, [message]]` (error);
  `Response<void>` is `[optional]`: `[False]` on success, `[True, [message]]` on error.
- Transform `[[x, y, z], [pitch, yaw, roll]]`; BoundingBox `[location, extent, rotation]`.
- `apply_batch` (both apply_batch and apply_batch_sync of the client) takes `[commands,
  do_tick_cue]`; an rpc::Command is `[[variant index, payload]]`, DestroyActor being index 1
  with payload `[actor_id]` (captured from the 0.9.16 client). Its reply is a bare list of
  CommandResponse (`Response<ActorId>`: `[[1, actor_id]]` or `[[0, [message]]]`).
- A stream token is 24 bytes `<IHBB` + 16 address bytes, sent as `[bin24]` (streaming::Token)
  or as a bare `bin` (the `stream_token` vector of an rpc::Actor).
- Stream frames carry a 48-byte sensor header `<QQd6f` (sensor type, frame, timestamp,
  transform); images add `<IIf` (width, height, fov) and BGRA pixels; the world observer adds
  `<Qdf3iI` and 119 bytes per actor.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.weather import FIELDS

VERSION = "0.9.16"

# Sensor type indices of the 0.9.16 client's SensorRegistry.
SENSOR_RGB, SENSOR_SEMANTIC, SENSOR_INSTANCE, SENSOR_WORLD = 13, 14, 15, 17

# rpc::ActorAttributeType as the client decodes it.
ATTR_BOOL, ATTR_INT, ATTR_FLOAT, ATTR_STRING = 1, 2, 3, 4

WEATHER_FIELDS = FIELDS  # carla.WeatherParameters, in the order the client sends them

SETTINGS_FIELDS = (
    "synchronous_mode",
    "no_rendering_mode",
    "fixed_delta_seconds",
    "substepping",
    "max_substep_delta_time",
    "max_substeps",
    "max_culling_distance",
    "deterministic_ragdolls",
    "tile_stream_distance",
    "actor_active_distance",
    "spectator_as_ego",
)

HEADER = struct.Struct("<QQd6f")
IMAGE_HEADER = struct.Struct("<IIf")
EPISODE_HEADER = struct.Struct("<Qdf3iI")
ACTOR_STATE_SIZE = 119
_ACTOR_STATE = struct.Struct("<IB6f")  # id, actor_state (1 = active), transform; rest zeros
TOKEN = struct.Struct("<IHBB")


class ProtocolError(ValueError):
    """A request argument that does not have the CARLA layout."""


def ok(value: Any) -> list:
    return [[1, value]]


def fail(message: str) -> list:
    return [[0, [message]]]


def ok_void() -> list:
    return [[False]]


def fail_void(message: str) -> list:
    return [[True, [message]]]


@dataclass(frozen=True)
class Transform:
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0
    roll: float = 0.0

    def encode(self) -> list:
        return [[self.x, self.y, self.z], [self.pitch, self.yaw, self.roll]]

    def values(self) -> tuple[float, ...]:
        return (self.x, self.y, self.z, self.pitch, self.yaw, self.roll)


def _floats(value: Any, n: int, what: str) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != n:
        raise ProtocolError(f"{what} must be an array of {n} numbers")
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{what} must be an array of {n} numbers") from exc
    if not all(np.isfinite(out)):
        raise ProtocolError(f"{what} must be finite")
    return out


def decode_transform(value: Any) -> Transform:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ProtocolError("transform must be [location, rotation]")
    return Transform(*_floats(value[0], 3, "location"), *_floats(value[1], 3, "rotation"))


def decode_location(value: Any) -> tuple[float, float, float]:
    x, y, z = _floats(value, 3, "location")
    return x, y, z


def encode_bounding_box(
    center: tuple[float, float, float], extent: tuple[float, float, float]
) -> list:
    return [list(center), list(extent), [0.0, 0.0, 0.0]]


def token_bytes(stream_id: int, port: int, address: str = "127.0.0.1") -> bytes:
    return TOKEN.pack(stream_id, port, 1, 1) + socket.inet_aton(address) + bytes(12)


def encode_token(stream_id: int, port: int) -> list:
    return [token_bytes(stream_id, port)]


def encode_weather(weather: dict[str, float]) -> list[float]:
    return [float(weather[k]) for k in WEATHER_FIELDS]


def decode_weather(value: Any) -> dict[str, float]:
    return dict(zip(WEATHER_FIELDS, _floats(value, len(WEATHER_FIELDS), "weather"), strict=True))


def encode_settings(s: dict[str, Any]) -> list:
    out = []
    for key in SETTINGS_FIELDS:
        v = s[key]
        if key == "fixed_delta_seconds":
            out.append([False] if v is None else [True, float(v)])
        else:
            out.append(v)
    return out


def decode_settings(value: Any) -> dict[str, Any]:
    if not isinstance(value, list | tuple) or len(value) != len(SETTINGS_FIELDS):
        raise ProtocolError(f"episode settings must have {len(SETTINGS_FIELDS)} fields")
    s = dict(zip(SETTINGS_FIELDS, value, strict=True))
    fds = s["fixed_delta_seconds"]
    if not isinstance(fds, list | tuple) or len(fds) not in (1, 2):
        raise ProtocolError("fixed_delta_seconds must be an optional [has, value]")
    s["fixed_delta_seconds"] = float(fds[1]) if len(fds) == 2 and fds[0] else None
    for key in ("synchronous_mode", "no_rendering_mode", "substepping"):
        s[key] = bool(s[key])
    return s


def decode_description(value: Any) -> tuple[int, str, dict[str, str]]:
    """(uid, blueprint id, attributes) of an rpc::ActorDescription."""
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise ProtocolError("actor description must be [uid, id, attributes]")
    uid, bp_id, attrs = value
    if not isinstance(bp_id, str) or not isinstance(attrs, list | tuple):
        raise ProtocolError("actor description must be [uid, id, attributes]")
    out: dict[str, str] = {}
    for a in attrs:
        if not isinstance(a, list | tuple) or len(a) != 3 or not isinstance(a[0], str):
            raise ProtocolError("actor attribute must be [id, type, value]")
        out[a[0]] = str(a[2])
    return int(uid), bp_id, out


def sensor_header(sensor_type: int, frame: int, timestamp: float, t: Transform) -> bytes:
    return HEADER.pack(sensor_type, frame, timestamp, *t.values())


def image_payload(
    sensor_type: int, frame: int, timestamp: float, t: Transform, fov: float, bgra: np.ndarray
) -> bytes:
    h, w = bgra.shape[:2]
    return (
        sensor_header(sensor_type, frame, timestamp, t)
        + IMAGE_HEADER.pack(w, h, fov)
        + np.ascontiguousarray(bgra, dtype=np.uint8).tobytes()
    )


def episode_payload(
    episode_id: int, frame: int, timestamp: float, delta: float, actors: list[tuple[int, Transform]]
) -> bytes:
    parts = [
        sensor_header(SENSOR_WORLD, frame, timestamp, Transform()),
        EPISODE_HEADER.pack(episode_id, timestamp, delta, 0, 0, 0, 0),
    ]
    pad = bytes(ACTOR_STATE_SIZE - _ACTOR_STATE.size)
    for actor_id, t in actors:
        parts.append(_ACTOR_STATE.pack(actor_id, 1, *t.values()) + pad)
    return b"".join(parts)
