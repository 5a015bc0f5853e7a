"""Procedural towns: a grid of roads with lanes, parking and sidewalks, and what lines them.

A town is fully determined by its name (the seed is derived from it), so every server run and
every shard sees the same world. Roads are straight and axis-aligned; blocks between them are
downtown (tall buildings), residential (houses, fences, hedges, trees), park (trees, bushes,
walls) or industrial (warehouses behind walls); sidewalks carry lamps, trees, signs, benches and
pedestrians; parking lanes carry parked cars and trucks. Objects are `Primitives`; the ground
(roads, markings, sidewalks, grass) is described by the road list and drawn by render.ground.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from sim.server import landmarks
from sim.server.protocol import Transform
from sim.server.render.primitives import (
    CHECKER,
    NOISY,
    PLAIN,
    SLATS,
    WINDOWS,
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


def _jitter(rng, color, amount=0.08):
    return tuple(np.clip(np.asarray(color) * (1 + rng.uniform(-amount, amount, 3)), 0, 1))


BUILDING_COLORS = [
    (0.62, 0.58, 0.52), (0.55, 0.36, 0.28), (0.72, 0.70, 0.66), (0.45, 0.47, 0.5),
    (0.8, 0.74, 0.6), (0.5, 0.42, 0.36), (0.66, 0.62, 0.7),
]  # fmt: skip
CAR_COLORS = [
    (0.7, 0.05, 0.05), (0.05, 0.1, 0.45), (0.85, 0.85, 0.85), (0.1, 0.1, 0.1),
    (0.4, 0.4, 0.42), (0.1, 0.3, 0.15), (0.8, 0.6, 0.1), (0.6, 0.6, 0.65),
]  # fmt: skip


def make_town(name: str) -> Town:
    seed = town_seed(name)
    rng = np.random.default_rng(seed)
    weights = np.array(STYLES.get(name, (0.3, 0.3, 0.2, 0.2)))
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
    extent = max(abs(r.c) for r in roads) + 70.0
    b = SceneBuilder()
    ids = _Ids()
    xs = sorted((r for r in roads if r.axis == 1), key=lambda r: r.c)
    ys = sorted((r for r in roads if r.axis == 0), key=lambda r: r.c)
    # Blocks between roads, plus the outer ring (bounded by the map extent).
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
            kind = (
                "park"
                if outer and rng.random() < 0.5
                else str(rng.choice(BLOCK_TYPES, p=weights / weights.sum()))
            )
            _block(b, ids, rng, rect, kind)
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
        grass=_jitter(rng, (0.28, 0.42, 0.16), 0.15),
        asphalt=float(rng.uniform(0.17, 0.26)),
        style=str(BLOCK_TYPES[int(np.argmax(weights))]),
        landmarks=marks,
    )


def _segments(lo: float, hi: float, rng, wmin: float, wmax: float):
    """Split [lo, hi] into consecutive pieces of random width in [wmin, wmax]."""
    out, a = [], lo
    while hi - a > wmin * 0.6:
        w = min(rng.uniform(wmin, wmax), hi - a)
        out.append((a, a + w))
        a += w
    return out


def _edge_rows(rect):
    """The four block edges as (axis along the edge, fixed coordinate, inward sign, lo, hi)."""
    x0, y0, x1, y1 = rect
    return [(0, y0, 1, x0, x1), (0, y1, -1, x0, x1), (1, x0, 1, y0, y1), (1, x1, -1, y0, y1)]


def _place(axis: int, along: float, fixed: float):
    return (along, fixed) if axis == 0 else (fixed, along)


def _block(b: SceneBuilder, ids, rng, rect, kind: str) -> None:
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    if kind == "downtown":
        for axis, fixed, sign, lo, hi in _edge_rows(rect):
            depth = min(rng.uniform(12, 20), (h if axis == 0 else w) / 2)
            if axis == 1:
                lo, hi = lo + depth, hi - depth
            for a, c in _segments(lo, hi, rng, 10, 26):
                height = rng.uniform(10, 48)
                setback = rng.uniform(0, 1.5)
                d = depth - setback
                cx, cy = _place(axis, (a + c) / 2, fixed + sign * (setback + d / 2))
                half = ((c - a) / 2 - 0.2, d / 2, height / 2)
                if axis == 1:
                    half = (half[1], half[0], half[2])
                b.box(
                    (cx, cy, height / 2),
                    half,
                    Tag.BUILDINGS,
                    ids(),
                    _jitter(rng, BUILDING_COLORS[rng.integers(len(BUILDING_COLORS))]),
                    WINDOWS,
                )
    elif kind == "residential":
        for axis, fixed, sign, lo, hi in _edge_rows(rect):
            if axis == 1:
                lo, hi = lo + 14, hi - 14
            hedge = rng.random() < 0.5
            for a, c in _segments(lo, hi, rng, 9, 15):
                if rng.random() < 0.15:
                    continue
                width, depth, height = c - a - 2, rng.uniform(7, 10), rng.uniform(4.5, 8.5)
                back = 5.5
                cx, cy = _place(axis, (a + c) / 2, fixed + sign * (back + depth / 2))
                half = (
                    (width / 2, depth / 2, height / 2)
                    if axis == 0
                    else (depth / 2, width / 2, height / 2)
                )
                b.box(
                    (cx, cy, height / 2),
                    half,
                    Tag.BUILDINGS,
                    ids(),
                    _jitter(rng, BUILDING_COLORS[rng.integers(len(BUILDING_COLORS))]),
                    WINDOWS,
                )
                if rng.random() < 0.5:  # a tree in the front yard
                    tx, ty = _place(axis, rng.uniform(a + 1, c - 1), fixed + sign * 2.8)
                    _tree(b, ids, rng, tx, ty, scale=0.8)
            # fence or hedge along the whole edge, 0.6 m inside the block
            fx, fy = _place(axis, (lo + hi) / 2, fixed + sign * 0.6)
            length = (hi - lo) / 2
            half = (length, 0.08, 0.6) if axis == 0 else (0.08, length, 0.6)
            if hedge:
                half = (length, 0.45, 0.6) if axis == 0 else (0.45, length, 0.6)
                b.box(
                    (fx, fy, 0.6),
                    half,
                    Tag.VEGETATION,
                    ids(),
                    _jitter(rng, (0.13, 0.3, 0.1)),
                    NOISY,
                )
            else:
                b.box(
                    (fx, fy, 0.6), half, Tag.FENCES, ids(), _jitter(rng, (0.45, 0.33, 0.22)), SLATS
                )
    elif kind == "park":
        for _ in range(int(w * h / 180)):
            _tree(b, ids, rng, rng.uniform(x0 + 2, x1 - 2), rng.uniform(y0 + 2, y1 - 2))
        for _ in range(int(w * h / 600)):
            bx, by = rng.uniform(x0 + 2, x1 - 2), rng.uniform(y0 + 2, y1 - 2)
            r = rng.uniform(0.6, 1.4)
            b.ellipsoid(
                (bx, by, r * 0.6),
                (r, r * rng.uniform(0.7, 1.3), r * 0.8),
                Tag.VEGETATION,
                ids(),
                _jitter(rng, (0.15, 0.35, 0.12)),
                NOISY,
            )
        for _ in range(int(rng.integers(0, 4))):
            _pedestrian(b, ids, rng, rng.uniform(x0 + 3, x1 - 3), rng.uniform(y0 + 3, y1 - 3))
        if rng.random() < 0.6:  # a low wall around the park
            for axis, fixed, sign, lo, hi in _edge_rows(rect):
                cx, cy = _place(axis, (lo + hi) / 2, fixed + sign * 0.3)
                half = ((hi - lo) / 2, 0.2, 0.45) if axis == 0 else (0.2, (hi - lo) / 2, 0.45)
                b.box(
                    (cx, cy, 0.45), half, Tag.WALLS, ids(), _jitter(rng, (0.6, 0.58, 0.55)), PLAIN
                )
    else:  # industrial
        for axis, fixed, sign, lo, hi in _edge_rows(rect):
            cx, cy = _place(axis, (lo + hi) / 2, fixed + sign * 0.3)
            half = ((hi - lo) / 2, 0.25, 1.4) if axis == 0 else (0.25, (hi - lo) / 2, 1.4)
            b.box((cx, cy, 1.4), half, Tag.WALLS, ids(), _jitter(rng, (0.55, 0.55, 0.52)), NOISY)
        for _ in range(int(rng.integers(1, 4))):
            hw, hd = min(rng.uniform(8, 20), w / 2 - 3), min(rng.uniform(8, 15), h / 2 - 3)
            if hw < 3 or hd < 3:
                continue
            cx, cy = rng.uniform(x0 + hw + 2, x1 - hw - 2), rng.uniform(y0 + hd + 2, y1 - hd - 2)
            height = rng.uniform(7, 14)
            b.box(
                (cx, cy, height / 2),
                (hw, hd, height / 2),
                Tag.BUILDINGS,
                ids(),
                _jitter(rng, (0.6, 0.62, 0.64)),
                SLATS,
            )


def _tree(b: SceneBuilder, ids, rng, x, y, scale: float = 1.0) -> None:
    i = ids()
    trunk = rng.uniform(2.2, 3.5) * scale
    r = rng.uniform(1.6, 3.0) * scale
    b.cylinder(
        x,
        y,
        0.0,
        trunk + r * 0.3,
        0.15 * scale + 0.05,
        Tag.VEGETATION,
        i,
        _jitter(rng, (0.3, 0.22, 0.15)),
    )
    b.ellipsoid(
        (x, y, trunk + r * 0.8),
        (r, r * rng.uniform(0.85, 1.15), r * rng.uniform(0.9, 1.3)),
        Tag.VEGETATION,
        i,
        _jitter(rng, (0.16, 0.36, 0.1), 0.25),
        NOISY,
    )


def _pedestrian(b: SceneBuilder, ids, rng, x, y) -> None:
    i = ids()
    s = rng.uniform(0.9, 1.1)
    yaw = rng.uniform(0, 360)
    skin = _jitter(
        rng, [(0.85, 0.68, 0.55), (0.55, 0.38, 0.26), (0.35, 0.24, 0.16)][rng.integers(3)]
    )
    b.cylinder(
        x, y, 0.0, 0.9 * s, 0.16 * s, Tag.PEDESTRIANS, i, _jitter(rng, (0.15, 0.2, 0.35), 0.5)
    )
    b.ellipsoid(
        (x, y, 1.2 * s),
        (0.24 * s, 0.16 * s, 0.34 * s),
        Tag.PEDESTRIANS,
        i,
        tuple(rng.uniform(0.1, 0.9, 3)),
        PLAIN,
        yaw,
    )
    b.ellipsoid((x, y, 1.64 * s), (0.11 * s, 0.11 * s, 0.13 * s), Tag.PEDESTRIANS, i, skin)


def _car(b: SceneBuilder, ids, rng, x, y, yaw) -> float:
    """A parked car or truck centred at (x, y) heading `yaw`; returns its length."""
    i = ids()
    truck = rng.random() < 0.12
    color = _jitter(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))])
    length, width = (7.0, 2.4) if truck else (rng.uniform(4.0, 4.9), rng.uniform(1.75, 1.95))
    tag = Tag.TRUCK if truck else Tag.CAR
    c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
    if truck:
        b.box(
            (x, y, 1.9),
            (length * 0.32, width / 2, 1.45),
            tag,
            i,
            _jitter(rng, (0.8, 0.8, 0.78)),
            PLAIN,
            yaw,
        )
        fx, fy = x + c * length * 0.36, y + s * length * 0.36
        b.box((fx, fy, 1.4), (length * 0.13, width / 2, 1.0), tag, i, color, WINDOWS, yaw)
    else:
        b.box((x, y, 0.72), (length / 2, width / 2, 0.36), tag, i, color, PLAIN, yaw)
        b.box(
            (x - c * 0.2, y - s * 0.2, 1.28),
            (length * 0.27, width / 2 - 0.1, 0.22),
            tag,
            i,
            color,
            WINDOWS,
            yaw,
        )
    for fa in (-0.33, 0.33):
        for fb in (-1, 1):
            wx = x + c * length * fa - s * fb * (width / 2 - 0.15)
            wy = y + s * length * fa + c * fb * (width / 2 - 0.15)
            b.add(
                2,
                (wx, wy, 0.36),
                (0.36, 0.36, 0.12),
                tag,
                i,
                (0.05, 0.05, 0.05),
                PLAIN,
                yaw=yaw + 90,
                pitch=0,
                roll=90,
            )
    return length


def _street_furniture(
    b: SceneBuilder, ids, rng, road: RoadSpec, roads, extent: float, marks: list
) -> None:
    cross = sorted(r.c for r in roads if r.axis != road.axis)
    cross_half = {r.c: r.outer_half for r in roads if r.axis != road.axis}
    # free stretches along the road, between the sidewalks of crossing roads
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
            for a in np.arange(lo + 4, hi - 3, lamp_gap):  # street lamps on the curb
                x, y = _place(road.axis, a, curb + side * 0.6)
                i = ids()
                b.cylinder(x, y, 0.0, 7.5, 0.11, Tag.POLES, i, (0.25, 0.26, 0.28))
                ax, ay = _place(road.axis, a, curb - side * 0.6)
                half = (0.25, 0.9, 0.08) if road.axis == 0 else (0.9, 0.25, 0.08)
                b.box(
                    ((x + ax) / 2, (y + ay) / 2, 7.5),
                    half,
                    Tag.POLES,
                    i,
                    (0.25, 0.26, 0.28),
                    emissive=1.0,
                )
            if rng.random() < 0.5:  # sidewalk trees
                for a in np.arange(lo + 9, hi - 5, rng.uniform(11, 17)):
                    x, y = _place(road.axis, a, curb + side * road.sidewalk_width * 0.62)
                    _tree(b, ids, rng, x, y, 0.85)
            for a in rng.uniform(lo + 2, hi - 2, int((hi - lo) / 14)):  # pedestrians
                if rng.random() < 0.45:
                    x, y = _place(
                        road.axis, a, curb + side * rng.uniform(0.8, road.sidewalk_width - 0.5)
                    )
                    _pedestrian(b, ids, rng, x, y)
            if rng.random() < 0.3:  # a bench (static clutter: the "other" class)
                x, y = _place(
                    road.axis,
                    rng.uniform(lo + 3, hi - 3),
                    curb + side * (road.sidewalk_width - 0.5),
                )
                half = (0.9, 0.3, 0.25) if road.axis == 0 else (0.3, 0.9, 0.25)
                b.box((x, y, 0.45), half, Tag.STATIC, ids(), (0.4, 0.28, 0.18), SLATS)
            # traffic signs near the far end of the stretch (before the junction)
            if hi < extent - 1 and rng.random() < 0.55:
                x, y = _place(road.axis, hi - 1.5, curb + side * 0.5)
                i = ids()
                b.cylinder(x, y, 0.0, 2.6, 0.05, Tag.POLES, i, (0.6, 0.6, 0.62))
                color = [(0.8, 0.05, 0.05), (0.05, 0.2, 0.7), (0.95, 0.8, 0.05), (0.95, 0.95, 0.95)]
                yaw = 0.0 if road.axis == 0 else 90.0
                plate, k = ids(), int(rng.integers(4))
                marks.append(landmarks.sign(plate, x, y, 2.85, yaw, red=k == 0))
                b.add(
                    2,
                    (x, y, 2.85),
                    (0.35, 0.35, 0.03),
                    Tag.TRAFFIC_SIGNS,
                    plate,
                    color[k],
                    CHECKER if rng.random() < 0.2 else PLAIN,
                    yaw=yaw,
                    pitch=90,
                )
            if road.parking:  # parked cars
                heading = 0.0 if road.axis == 0 else 90.0
                if side < 0:
                    heading += 180.0
                mid = road.c + side * (road.carriage + road.parking_width / 2)
                a = lo + rng.uniform(2, 8)
                while a < hi - 6:
                    if rng.random() < 0.55:
                        x, y = _place(road.axis, a + 2.5, mid)
                        a += _car(b, ids, rng, x, y, heading) + rng.uniform(0.8, 2.5)
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
