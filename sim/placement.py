"""Where anomaly props go: on or beside the road ahead of the camera, in view, not overlapping.

Pure geometry. Anchors are points on the camera's lane ahead (x, y, heading, lane width), as the
generator gets them from `waypoint.next(d)`. A candidate is an anchor moved sideways: within the
lane (on the road) or past its edge (shoulder, parking lane, sidewalk), turned randomly. It is
kept when it is in the camera's view and its footprint circle does not meet a prop already
placed. The server (or CARLA) still refuses spawns inside town objects; the generator then
tries the next candidate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pose:
    x: float
    y: float
    z: float
    pitch: float
    yaw: float
    roll: float = 0.0


@dataclass(frozen=True)
class Anchor:
    x: float
    y: float
    yaw: float  # lane heading, degrees
    lane_width: float


@dataclass(frozen=True)
class Placement:
    x: float
    y: float
    yaw: float
    radius: float
    on_road: bool


def project(
    cam: Pose, fov: float, width: int, height: int, x: float, y: float, z: float
) -> tuple[float, float, float]:
    """(u, v, depth) of a world point in a CARLA camera (x forward, y right, z up)."""
    cy, sy = math.cos(math.radians(cam.yaw)), math.sin(math.radians(cam.yaw))
    cp, sp = math.cos(math.radians(cam.pitch)), math.sin(math.radians(cam.pitch))
    dx, dy, dz = x - cam.x, y - cam.y, z - cam.z
    fwd = (cp * cy, cp * sy, sp)
    right = (-sy, cy, 0.0)
    up = (-sp * cy, -sp * sy, cp)
    depth = dx * fwd[0] + dy * fwd[1] + dz * fwd[2]
    xr = dx * right[0] + dy * right[1] + dz * right[2]
    yu = dx * up[0] + dy * up[1] + dz * up[2]
    f = width / 2 / math.tan(math.radians(fov) / 2)
    if depth <= 1e-6:
        return math.nan, math.nan, depth
    return width / 2 + f * xr / depth, height / 2 - f * yu / depth, depth


def in_view(
    cam: Pose,
    fov: float,
    width: int,
    height: int,
    x: float,
    y: float,
    z: float,
    margin: float = 0.05,
) -> bool:
    u, v, depth = project(cam, fov, width, height, x, y, z)
    if not depth > 0.5:
        return False
    mu, mv = margin * width, margin * height
    return mu <= u <= width - mu and mv <= v <= height - mv


def overlaps(x: float, y: float, r: float, placed: list[Placement], gap: float = 0.3) -> bool:
    return any(math.hypot(x - p.x, y - p.y) < r + p.radius + gap for p in placed)


def candidates(
    rng: np.random.Generator, anchors: list[Anchor], count: int, beside_prob: float = 0.3
) -> list[tuple[float, float, float, bool]]:
    """`count` random (x, y, yaw, on_road) points around the anchors."""
    out = []
    if not anchors:
        return out
    for _ in range(count):
        a = anchors[int(rng.integers(len(anchors)))]
        beside = rng.random() < beside_prob
        if beside:
            side = 1 if rng.random() < 0.5 else -1
            lateral = side * (a.lane_width / 2 + rng.uniform(0.8, 4.0))
        else:
            lateral = rng.uniform(-0.3, 0.3) * a.lane_width
        h = math.radians(a.yaw)
        x = a.x - math.sin(h) * lateral  # right of the heading is (-sin, cos) in CARLA's frame
        y = a.y + math.cos(h) * lateral
        out.append((x, y, float(rng.uniform(0, 360)), not beside))
    return out


def place(
    rng: np.random.Generator,
    anchors: list[Anchor],
    radii: list[float],
    cam: Pose,
    fov: float,
    width: int,
    height: int,
    tries: int = 30,
    placed: list[Placement] | None = None,
) -> list[Placement | None]:
    """One placement per radius (None when no candidate fits), in view and not overlapping
    each other or the `placed` ones."""
    placed = list(placed or [])
    out: list[Placement | None] = []
    for r in radii:
        found = None
        for x, y, yaw, on_road in candidates(rng, anchors, tries):
            if not in_view(cam, fov, width, height, x, y, 0.3):
                continue
            if overlaps(x, y, r, placed):
                continue
            found = Placement(x, y, yaw, r, on_road)
            break
        out.append(found)
        if found:
            placed.append(found)
    return out
