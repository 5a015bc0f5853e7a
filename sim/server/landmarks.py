"""Map actors of a loopback town: traffic lights at junctions and the town's traffic signs.

In CARLA, traffic lights and signs are actors that exist as soon as a map is loaded (type ids
`traffic.traffic_light`, `traffic.stop`, ...): `world.get_actors()` lists them with their
semantic tags, and the instance camera shows their actor id. A loopback town's traffic lights
(added here, one per junction, a pole and a light box sharing one id) and traffic signs are such
actors; their actor id is their instance id, a town-object id (>= FIRST_STATIC_ID) that spawned
actors never take. `sim.selfcheck` finds them this way on both servers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.server.protocol import Transform
from sim.server.render.primitives import PLAIN, SceneBuilder
from sim.tags import Tag


@dataclass(frozen=True)
class Landmark:
    id: int
    type_id: str
    transform: Transform  # foot of the object
    extent: tuple[float, float, float]  # half sizes of its box
    center_z: float  # box centre above the foot
    tags: bytes


def sign(inst: int, x: float, y: float, z: float, yaw: float, red: bool) -> Landmark:
    """A traffic-sign plate at height z (the generator of the town draws it)."""
    return Landmark(
        inst,
        "traffic.stop" if red else "traffic.unknown",
        Transform(x, y, 0.0, 0.0, yaw, 0.0),
        (0.35, 0.35, 0.35),
        z,
        bytes([Tag.TRAFFIC_SIGNS]),
    )


def add_traffic_lights(b: SceneBuilder, ids, roads, seed: int) -> list[Landmark]:
    """One traffic light on a random corner of every junction; returns their landmarks.

    Drawn with their own random stream, after everything else, so adding them leaves the rest
    of the town (and every other object's id) unchanged.
    """
    rng = np.random.default_rng(seed)
    out = []
    for rx in (r for r in roads if r.axis == 1):
        for ry in (r for r in roads if r.axis == 0):
            sx, sy = rng.choice([-1, 1], 2)
            x = rx.c + sx * (rx.road_half + 0.7)
            y = ry.c + sy * (ry.road_half + 0.7)
            inst = ids()
            b.cylinder(x, y, 0.0, 4.2, 0.1, Tag.POLES, inst, (0.2, 0.22, 0.2))
            b.box((x, y, 4.6), (0.22, 0.22, 0.55), Tag.TRAFFIC_LIGHT, inst, (0.1, 0.1, 0.08), PLAIN)
            out.append(
                Landmark(
                    inst,
                    "traffic.traffic_light",
                    Transform(float(x), float(y), 0.0, 0.0, 0.0, 0.0),
                    (0.25, 0.25, 2.6),
                    2.6,
                    bytes([Tag.POLES, Tag.TRAFFIC_LIGHT]),
                )
            )
    return out
