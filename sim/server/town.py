"""Procedural towns: a grid of roads with lanes, parking and sidewalks, and what lines them.

A town is fully determined by its name (the seed is derived from it), so every server run and
every shard sees the same world. Roads are straight and axis-aligned; blocks between them are
downtown (tall buildings), residential (houses, fences, hedges, trees), park (trees, bushes,
walls) or industrial (warehouses behind walls); sidewalks carry lamps, trees, signs, benches and
pedestrians; parking lanes carry parked cars and trucks. Objects are `Primitives` (made by
sim.server.scenery); the ground (roads, markings, sidewalks, grass) is described by the road
list and drawn by render.ground.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sim.server import landmarks, scenery
from sim.server.protocol import Transform
from sim.server.render.primitives import (
    CHECKER,
    PLAIN,
    SLATS,
    Primitives,
    SceneBuilder,
)
from sim.tags import Tag

TOWN_NAMES = ("Town01", "Town02", "Town03", "Town04", "Town05", "Town06", "Town07", "Town10HD")
FIRST_STATIC_ID = 40000  # instance ids of town objects; actor ids never take these values
MAX_STATIC_IDS = 65536 - FIRST_STATIC_ID


@dataclass(frozen=True)
class RoadSpec:
    """A straight road: axis 0 runs along x at y = c, axis 1 runs along y at x = c."""

    id: int
    axis: int
    c: float
    lanes: int  # driving lanes per direction
    parking: bool
    lane_width: float = 3.5
    parking_width: float = 2.5
    sidewalk_width: float = 3.5

    @property
    def carriage(self) -> float:
        return self.lanes * self.lane_width

    @property
    def road_half(self) -> float:
        return self.carriage + (self.parking_width if self.parking else 0.0)

    @property
    def outer_half(self) -> float:
        return self.road_half + self.sidewalk_width


@dataclass
class Town:
    name: str
    seed: int
    extent: float
    roads: list[RoadSpec]
    statics: Primitives
    spawn_points: list[Transform]
    grass: tuple[float, float, float]
    asphalt: float
    style: str
    landmarks: list[landmarks.Landmark] = field(default_factory=list)

    @cached_property
    def corners(self) -> np.ndarray:
        """(N, 8, 3) box corners of the static primitives (for culling)."""
        return self.statics.corners()

    @cached_property
    def boxes(self) -> np.ndarray:
        """(N, 6) world AABBs (xmin, ymin, zmin, xmax, ymax, zmax) of the static primitives."""
        return np.concatenate([self.corners.min(1), self.corners.max(1)], axis=1)

    @cached_property
    def lamps(self) -> np.ndarray:
        """(L, 3) positions of street lamp lights (the emissive primitives)."""
        return self.statics.center[self.statics.emissive > 0] - np.array([0.0, 0.0, 0.3])


def town_seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


STYLES = {  # block type weights: downtown, residential, park, industrial
    "Town01": (0.25, 0.45, 0.2, 0.1),
    "Town02": (0.2, 0.6, 0.2, 0.0),
    "Town03": (0.6, 0.15, 0.15, 0.1),
    "Town04": (0.15, 0.3, 0.3, 0.25),
    "Town05": (0.55, 0.2, 0.15, 0.1),
    "Town06": (0.1, 0.3, 0.2, 0.4),
    "Town07": (0.0, 0.5, 0.5, 0.0),
    "Town10HD": (0.7, 0.1, 0.2, 0.0),
}
BLOCK_TYPES = ("downtown", "residential", "park", "industrial")


class _Ids:
    def __init__(self) -> None:
        self.next = FIRST_STATIC_ID

    def __call__(self) -> int:
        i = self.next
        self.next = FIRST_STATIC_ID + (self.next + 1 - FIRST_STATIC_ID) % MAX_STATIC_IDS
        return i


def make_town(name: str) -> Town:
    seed = town_seed(name)
    rng = np.random.default_rng(seed)
    weights = np.array(STYLES.get(name, (0.3, 0.3, 0.2, 0.2)))
    roads = _roads(rng)
    extent = max(abs(r.c) for r in roads) + 70.0
    b = SceneBuilder()
    ids = _Ids()
    _blocks(b, ids, rng, roads, extent, weights / weights.sum())
    marks: list[landmarks.Landmark] = []
    for road in roads:
        _street_furniture(b, ids, rng, road, roads, extent, marks)
    marks += landmarks.add_traffic_lights(b, ids, roads, seed + 1)
    statics = b.build()
    inner = max(abs(r.c) for r in roads) + 12.0
    return Town(
        name,
        seed,
        extent,
        roads,
        statics,
        _spawn_points(roads, inner),
        grass=scenery.jitter(rng, (0.28, 0.42, 0.16), 0.15),
        asphalt=float(rng.uniform(0.17, 0.26)),
        style=str(BLOCK_TYPES[int(np.argmax(weights))]),
        landmarks=marks,
    )


def _roads(rng) -> list[RoadSpec]:
    """A grid of 3-4 roads per axis, 55-85 m apart, centred on the origin."""
    n = int(rng.integers(3, 5))  # blocks per axis
    roads: list[RoadSpec] = []
    for axis in (0, 1):
        gaps = rng.uniform(55, 85, n)
        pos = np.concatenate([[0.0], np.cumsum(gaps)])
        pos -= pos.mean()
        for c in pos:
            lanes = 2 if rng.random() < 0.35 else 1
            roads.append(
                RoadSpec(
                    len(roads),
                    axis,
                    float(round(c, 2)),
                    lanes,
                    parking=bool(rng.random() < 0.7),
                    sidewalk_width=float(rng.choice([3.0, 3.5, 4.5])),
                )
            )
    return roads


def _blocks(b: SceneBuilder, ids, rng, roads: list[RoadSpec], extent: float, p) -> None:
    """The blocks between the roads, plus the outer ring (bounded by the map extent); a block's
    kind is drawn with probabilities `p` (outer blocks are parks half of the time)."""
    xs = sorted((r for r in roads if r.axis == 1), key=lambda r: r.c)
    ys = sorted((r for r in roads if r.axis == 0), key=lambda r: r.c)
    xb = [(-extent, None)] + [(r.c, r) for r in xs] + [(extent, None)]
    yb = [(-extent, None)] + [(r.c, r) for r in ys] + [(extent, None)]
    for (x0, rx0), (x1, rx1) in itertools.pairwise(xb):
        for (y0, ry0), (y1, ry1) in itertools.pairwise(yb):
            rect = (
                x0 + (rx0.outer_half if rx0 else 0),
                y0 + (ry0.outer_half if ry0 else 0),
                x1 - (rx1.outer_half if rx1 else 0),
                y1 - (ry1.outer_half if ry1 else 0),
            )
            if rect[2] - rect[0] < 8 or rect[3] - rect[1] < 8:
                continue
            outer = rx0 is None or rx1 is None or ry0 is None or ry1 is None
            kind = "park" if outer and rng.random() < 0.5 else str(rng.choice(BLOCK_TYPES, p=p))
            scenery.BLOCKS[kind](b, ids, rng, rect)


def _street_furniture(
    b: SceneBuilder, ids, rng, road: RoadSpec, roads, extent: float, marks: list
) -> None:
    """Lamps, trees, pedestrians, benches, signs and parked cars along both sides of `road`,
    on the free stretches between the sidewalks of crossing roads."""
    cross = sorted(r.c for r in roads if r.axis != road.axis)
    cross_half = {r.c: r.outer_half for r in roads if r.axis != road.axis}
    bounds = (
        [-extent] + [v for c in cross for v in (c - cross_half[c], c + cross_half[c])] + [extent]
    )
    stretches = list(zip(bounds[0::2], bounds[1::2], strict=True))
    lamp_gap = rng.uniform(22, 34)
    for side in (-1, 1):
        curb = road.c + side * road.road_half
        for lo, hi in stretches:
            if hi - lo < 6:
                continue
            _sidewalk(b, ids, rng, _Side(road, side, curb, lo, hi), lamp_gap)
            if hi < extent - 1 and rng.random() < 0.55:  # a sign before the junction
                x, y = scenery.place(road.axis, hi - 1.5, curb + side * 0.5)
                _traffic_sign(b, ids, rng, x, y, 0.0 if road.axis == 0 else 90.0, marks)
            if road.parking:
                _parked_cars(b, ids, rng, road, side, lo, hi)


@dataclass(frozen=True)
class _Side:
    """One side of a road along one free stretch [lo, hi]; the curb is at `curb`."""

    road: RoadSpec
    side: int  # -1 or 1
    curb: float
    lo: float
    hi: float

    def at(self, along: float, out: float) -> tuple[float, float]:
        """(x, y) `along` the road and `out` metres from the curb across the sidewalk."""
        return scenery.place(self.road.axis, along, self.curb + self.side * out)


def _sidewalk(b: SceneBuilder, ids, rng, s: _Side, lamp_gap: float) -> None:
    """Street lamps on the curb, maybe trees, pedestrians, maybe a bench."""
    road, lo, hi = s.road, s.lo, s.hi
    for a in np.arange(lo + 4, hi - 3, lamp_gap):
        (x, y), (ax, ay) = s.at(a, 0.6), s.at(a, -0.6)
        i = ids()
        b.cylinder(x, y, 0.0, 7.5, 0.11, Tag.POLES, i, (0.25, 0.26, 0.28))
        half = (0.25, 0.9, 0.08) if road.axis == 0 else (0.9, 0.25, 0.08)
        lamp = ((x + ax) / 2, (y + ay) / 2, 7.5)
        b.box(lamp, half, Tag.POLES, i, (0.25, 0.26, 0.28), emissive=1.0)
    if rng.random() < 0.5:  # sidewalk trees
        for a in np.arange(lo + 9, hi - 5, rng.uniform(11, 17)):
            scenery.tree(b, ids, rng, *s.at(a, road.sidewalk_width * 0.62), 0.85)
    for a in rng.uniform(lo + 2, hi - 2, int((hi - lo) / 14)):  # pedestrians
        if rng.random() < 0.45:
            scenery.pedestrian(b, ids, rng, *s.at(a, rng.uniform(0.8, road.sidewalk_width - 0.5)))
    if rng.random() < 0.3:  # a bench (static clutter: the "other" class)
        x, y = s.at(rng.uniform(lo + 3, hi - 3), road.sidewalk_width - 0.5)
        half = (0.9, 0.3, 0.25) if road.axis == 0 else (0.3, 0.9, 0.25)
        b.box((x, y, 0.45), half, Tag.STATIC, ids(), (0.4, 0.28, 0.18), SLATS)


SIGN_COLORS = [(0.8, 0.05, 0.05), (0.05, 0.2, 0.7), (0.95, 0.8, 0.05), (0.95, 0.95, 0.95)]


def _traffic_sign(b: SceneBuilder, ids, rng, x, y, yaw: float, marks: list) -> None:
    """A pole with a plate (red: a stop sign); the plate is also a landmark."""
    b.cylinder(x, y, 0.0, 2.6, 0.05, Tag.POLES, ids(), (0.6, 0.6, 0.62))
    plate, k = ids(), int(rng.integers(4))
    marks.append(landmarks.sign(plate, x, y, 2.85, yaw, red=k == 0))
    pattern = CHECKER if rng.random() < 0.2 else PLAIN
    size = (0.35, 0.35, 0.03)
    b.add(2, (x, y, 2.85), size, Tag.TRAFFIC_SIGNS, plate, SIGN_COLORS[k], pattern, yaw, 90)


def _parked_cars(b: SceneBuilder, ids, rng, road: RoadSpec, side: int, lo, hi) -> None:
    """Cars and trucks in the parking lane, with random gaps."""
    heading = 0.0 if road.axis == 0 else 90.0
    if side < 0:
        heading += 180.0
    mid = road.c + side * (road.carriage + road.parking_width / 2)
    a = lo + rng.uniform(2, 8)
    while a < hi - 6:
        if rng.random() < 0.55:
            x, y = scenery.place(road.axis, a + 2.5, mid)
            a += scenery.car(b, ids, rng, x, y, heading) + rng.uniform(0.8, 2.5)
        else:
            a += rng.uniform(4, 12)


def _spawn_points(roads: list[RoadSpec], extent: float) -> list[Transform]:
    """Lane centres every 20 m within +-extent, heading with the traffic (right-hand)."""
    out = []
    for r in roads:
        for k in range(r.lanes):
            off = (k + 0.5) * r.lane_width
            for a in np.arange(-extent, extent, 20.0):
                if r.axis == 0:
                    out.append(Transform(float(a), r.c + off, 0.5, 0.0, 0.0, 0.0))
                    out.append(Transform(float(a), r.c - off, 0.5, 0.0, 180.0, 0.0))
                else:
                    out.append(Transform(r.c - off, float(a), 0.5, 0.0, 90.0, 0.0))
                    out.append(Transform(r.c + off, float(a), 0.5, 0.0, -90.0, 0.0))
    return out
