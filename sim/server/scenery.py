"""What stands in a procedural town: buildings and block interiors (downtown, residential,
park, industrial), trees, pedestrians and parked cars, as `Primitives` added to a SceneBuilder.

Every function draws from the town's random generator in a fixed order, so a town stays the
same for a given name (sim.server.town).
"""

from __future__ import annotations

import numpy as np

from sim.server.render.primitives import NOISY, PLAIN, SLATS, WINDOWS, SceneBuilder
from sim.tags import Tag


def jitter(rng, color, amount=0.08):
    return tuple(np.clip(np.asarray(color) * (1 + rng.uniform(-amount, amount, 3)), 0, 1))


BUILDING_COLORS = [
    (0.62, 0.58, 0.52), (0.55, 0.36, 0.28), (0.72, 0.70, 0.66), (0.45, 0.47, 0.5),
    (0.8, 0.74, 0.6), (0.5, 0.42, 0.36), (0.66, 0.62, 0.7),
]  # fmt: skip
CAR_COLORS = [
    (0.7, 0.05, 0.05), (0.05, 0.1, 0.45), (0.85, 0.85, 0.85), (0.1, 0.1, 0.1),
    (0.4, 0.4, 0.42), (0.1, 0.3, 0.15), (0.8, 0.6, 0.1), (0.6, 0.6, 0.65),
]  # fmt: skip


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


def place(axis: int, along: float, fixed: float):
    return (along, fixed) if axis == 0 else (fixed, along)


def _building(b: SceneBuilder, ids, rng, centre, half, pattern: int = WINDOWS) -> None:
    color = BUILDING_COLORS[rng.integers(len(BUILDING_COLORS))]
    b.box(centre, half, Tag.BUILDINGS, ids(), jitter(rng, color), pattern)


def _edge_box(b: SceneBuilder, ids, edge, inset: float, thick: float, height: float, *style):
    """A box along a whole block edge, `inset` metres inside it: a wall, fence or hedge."""
    axis, fixed, sign, lo, hi = edge
    cx, cy = place(axis, (lo + hi) / 2, fixed + sign * inset)
    length = (hi - lo) / 2
    half = (length, thick, height) if axis == 0 else (thick, length, height)
    b.box((cx, cy, height), half, style[0], ids(), *style[1:])


def _downtown(b: SceneBuilder, ids, rng, rect) -> None:
    """Tall buildings shoulder to shoulder along every edge."""
    x0, y0, x1, y1 = rect
    for axis, fixed, sign, lo, hi in _edge_rows(rect):
        depth = min(rng.uniform(12, 20), (y1 - y0 if axis == 0 else x1 - x0) / 2)
        if axis == 1:
            lo, hi = lo + depth, hi - depth
        for a, c in _segments(lo, hi, rng, 10, 26):
            height = rng.uniform(10, 48)
            setback = rng.uniform(0, 1.5)
            d = depth - setback
            cx, cy = place(axis, (a + c) / 2, fixed + sign * (setback + d / 2))
            half = ((c - a) / 2 - 0.2, d / 2, height / 2)
            if axis == 1:
                half = (half[1], half[0], half[2])
            _building(b, ids, rng, (cx, cy, height / 2), half)


def _residential(b: SceneBuilder, ids, rng, rect) -> None:
    """Houses set back behind front yards, and a fence or hedge along each edge."""
    for axis, fixed, sign, lo, hi in _edge_rows(rect):
        if axis == 1:
            lo, hi = lo + 14, hi - 14
        hedge = rng.random() < 0.5
        for a, c in _segments(lo, hi, rng, 9, 15):
            if rng.random() < 0.15:
                continue
            width, depth, height = c - a - 2, rng.uniform(7, 10), rng.uniform(4.5, 8.5)
            back = 5.5
            cx, cy = place(axis, (a + c) / 2, fixed + sign * (back + depth / 2))
            half = (
                (width / 2, depth / 2, height / 2)
                if axis == 0
                else (depth / 2, width / 2, height / 2)
            )
            _building(b, ids, rng, (cx, cy, height / 2), half)
            if rng.random() < 0.5:  # a tree in the front yard
                tx, ty = place(axis, rng.uniform(a + 1, c - 1), fixed + sign * 2.8)
                tree(b, ids, rng, tx, ty, scale=0.8)
        edge = (axis, fixed, sign, lo, hi)  # fence or hedge along the whole edge
        if hedge:
            _edge_box(b, ids, edge, 0.6, 0.45, 0.6, Tag.VEGETATION, jitter(rng, HEDGE), NOISY)
        else:
            _edge_box(b, ids, edge, 0.6, 0.08, 0.6, Tag.FENCES, jitter(rng, FENCE), SLATS)


def _park(b: SceneBuilder, ids, rng, rect) -> None:
    """Trees, bushes, a few people, and often a low wall around."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    for _ in range(int(w * h / 180)):
        tree(b, ids, rng, rng.uniform(x0 + 2, x1 - 2), rng.uniform(y0 + 2, y1 - 2))
    for _ in range(int(w * h / 600)):
        bx, by = rng.uniform(x0 + 2, x1 - 2), rng.uniform(y0 + 2, y1 - 2)
        r = rng.uniform(0.6, 1.4)
        b.ellipsoid(
            (bx, by, r * 0.6),
            (r, r * rng.uniform(0.7, 1.3), r * 0.8),
            Tag.VEGETATION,
            ids(),
            jitter(rng, (0.15, 0.35, 0.12)),
            NOISY,
        )
    for _ in range(int(rng.integers(0, 4))):
        pedestrian(b, ids, rng, rng.uniform(x0 + 3, x1 - 3), rng.uniform(y0 + 3, y1 - 3))
    if rng.random() < 0.6:  # a low wall around the park
        for edge in _edge_rows(rect):
            _edge_box(b, ids, edge, 0.3, 0.2, 0.45, Tag.WALLS, jitter(rng, PARK_WALL), PLAIN)


def _industrial(b: SceneBuilder, ids, rng, rect) -> None:
    """Warehouses behind a high wall."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    for edge in _edge_rows(rect):
        _edge_box(b, ids, edge, 0.3, 0.25, 1.4, Tag.WALLS, jitter(rng, YARD_WALL), NOISY)
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
            jitter(rng, (0.6, 0.62, 0.64)),
            SLATS,
        )


BLOCKS = {
    "downtown": _downtown,
    "residential": _residential,
    "park": _park,
    "industrial": _industrial,
}
HEDGE, FENCE = (0.13, 0.3, 0.1), (0.45, 0.33, 0.22)
PARK_WALL, YARD_WALL = (0.6, 0.58, 0.55), (0.55, 0.55, 0.52)


def tree(b: SceneBuilder, ids, rng, x, y, scale: float = 1.0) -> None:
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
        jitter(rng, (0.3, 0.22, 0.15)),
    )
    b.ellipsoid(
        (x, y, trunk + r * 0.8),
        (r, r * rng.uniform(0.85, 1.15), r * rng.uniform(0.9, 1.3)),
        Tag.VEGETATION,
        i,
        jitter(rng, (0.16, 0.36, 0.1), 0.25),
        NOISY,
    )


def pedestrian(b: SceneBuilder, ids, rng, x, y) -> None:
    i = ids()
    s = rng.uniform(0.9, 1.1)
    yaw = rng.uniform(0, 360)
    skin = jitter(
        rng, [(0.85, 0.68, 0.55), (0.55, 0.38, 0.26), (0.35, 0.24, 0.16)][rng.integers(3)]
    )
    b.cylinder(
        x, y, 0.0, 0.9 * s, 0.16 * s, Tag.PEDESTRIANS, i, jitter(rng, (0.15, 0.2, 0.35), 0.5)
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


def car(b: SceneBuilder, ids, rng, x, y, yaw) -> float:
    """A parked car or truck centred at (x, y) heading `yaw`; returns its length."""
    i = ids()
    truck = rng.random() < 0.12
    color = jitter(rng, CAR_COLORS[rng.integers(len(CAR_COLORS))])
    length, width = (7.0, 2.4) if truck else (rng.uniform(4.0, 4.9), rng.uniform(1.75, 1.95))
    tag = Tag.TRUCK if truck else Tag.CAR
    c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
    if truck:
        b.box(
            (x, y, 1.9),
            (length * 0.32, width / 2, 1.45),
            tag,
            i,
            jitter(rng, (0.8, 0.8, 0.78)),
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
