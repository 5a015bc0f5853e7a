"""What the loopback server's cameras see: one render per pose and scene, noise seeded by the
scene, and the BGRA images of the three camera kinds.

Rendering is a pure function of the scene: the RGB noise (rain streaks) is seeded by a digest
of the town, camera, weather and props, never by the frame counter or actor ids, so a frame
rendered again in another run or server process is identical.
"""

from __future__ import annotations

import hashlib

import numpy as np

from sim.server import protocol
from sim.server.render.camera import PerspectiveCamera
from sim.server.render.primitives import Primitives, SceneBuilder
from sim.server.render.renderer import render_views
from sim.server.town import FIRST_STATIC_ID

COLLIDING_CODES = 128  # --colliding-engine-ids: town objects show codes 1..128, as actors do


def render(town, props: list, weather: dict, key: tuple, colliding_marks: list[int] | None):
    """RenderResult of camera `key` = (pose, width, height, fov) over the town and `props`
    (actors with primitives). `colliding_marks`: fold town object ids (all but these map
    actors') into the range actor ids take, as engine ids do on a real server."""
    pose, w, h, fov = key
    cam = PerspectiveCamera.from_pose(*pose, w, h, fov)
    dynamic = Primitives.concat([a.prims for a in props] or [SceneBuilder().build()])
    result = render_views(town, dynamic, cam, weather, noise_seed(town.name, key, weather, props))
    if colliding_marks is not None:
        result.inst[:] = fold_engine_ids(result.inst, colliding_marks)
    return result


def noise_seed(town: str, key: tuple, weather: dict, props: list) -> int:
    """A digest of what a camera sees: the same scene gets the same noise, in any run."""
    shown = [(a.blueprint, a.transform.values(), a.spec.scale) for a in props]
    text = repr((town, key, sorted(weather.items()), shown))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def fold_engine_ids(inst: np.ndarray, keep: list[int]) -> np.ndarray:
    town = (inst >= FIRST_STATIC_ID) & ~np.isin(inst, np.array(keep, np.uint16))
    folded = 1 + (inst.astype(np.int64) - FIRST_STATIC_ID) % COLLIDING_CODES
    return np.where(town, folded, inst).astype(np.uint16)


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
