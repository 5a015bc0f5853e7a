"""The ground plane of a town: road, parking, lane markings, crosswalks, sidewalks and grass.

`ground_tags(town, x, y)` gives the CARLA tag of ground points and `ground_albedo` their
colour; both are pure functions of the town's road list, so the semantic and RGB cameras agree.
"""

from __future__ import annotations

import numpy as np

from sim.tags import Tag

LINE = 0.075  # half width of a painted line, metres


def _hash2(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    v = np.sin(x * 12.9898 + y * 78.233) * 43758.5453
    return v - np.floor(v)


def _nearest(roads, coord: np.ndarray) -> np.ndarray:
    """Index (into `roads`, sorted by c) of the road whose centre line is nearest to `coord`."""
    cs = np.array([r.c for r in roads])
    idx = np.searchsorted(cs, coord)
    lo = np.clip(idx - 1, 0, len(cs) - 1)
    hi = np.clip(idx, 0, len(cs) - 1)
    return np.where(np.abs(coord - cs[lo]) <= np.abs(coord - cs[hi]), lo, hi)


def _attrs(roads, pick: np.ndarray) -> dict[str, np.ndarray]:
    names = ("c", "road_half", "outer_half", "carriage", "lanes", "lane_width", "parking")
    return {n: np.array([float(getattr(r, n)) for r in roads], np.float32)[pick] for n in names}


def ground_tags(town, x: np.ndarray, y: np.ndarray):
    """(tag (M,) uint8, yellow-line mask, parking mask) for ground points.

    Roads of one axis never overlap, so only the nearest road of each axis can cover a point.
    """
    tag = np.full(x.shape, Tag.TERRAIN, np.uint8)
    inside = (np.abs(x) <= town.extent) & (np.abs(y) <= town.extent)
    by_axis = {k: sorted((r for r in town.roads if r.axis == k), key=lambda r: r.c) for k in (0, 1)}
    across = {0: y, 1: x}  # a road along x (axis 0) is crossed along y
    near = {k: _attrs(by_axis[k], _nearest(by_axis[k], across[k])) for k in (0, 1) if by_axis[k]}
    off = {k: across[k] - a["c"] for k, a in near.items()}
    on_road = {k: inside & (np.abs(off[k]) <= a["road_half"]) for k, a in near.items()}
    side = np.zeros(x.shape, bool)
    road = np.zeros(x.shape, bool)
    for k, a in near.items():
        side |= inside & (np.abs(off[k]) <= a["outer_half"])
        road |= on_road[k]
    tag[side] = Tag.SIDEWALKS
    tag[road] = Tag.ROADS
    junction = on_road.get(0, road & False) & on_road.get(1, road & False)
    lines = np.zeros(x.shape, bool)
    yellow = np.zeros(x.shape, bool)
    parking = np.zeros(x.shape, bool)
    for k, a in near.items():
        o, ab = off[k], np.abs(off[k])
        mine = on_road[k] & ~junction
        s = across[1 - k]  # position along the road
        centre = np.abs(ab - 0.2) < LINE
        yellow |= mine & centre
        lines |= mine & centre
        for lane in range(1, int(a["lanes"].max(initial=1))):
            dash = (np.abs(ab - lane * a["lane_width"]) < LINE) & ((s % 9.0) < 3.5)
            lines |= mine & (a["lanes"] > lane) & dash
        lines |= mine & (np.abs(ab - a["carriage"] + 0.25) < LINE)  # edge line
        parking |= mine & (a["parking"] > 0) & (ab > a["carriage"])
        other = 1 - k
        if other in near:  # zebra crossings in front of the nearest junction
            c = near[other]
            d = np.abs(s - c["c"])
            band = (d > c["road_half"] + 0.6) & (d < c["road_half"] + 3.6)
            lines |= mine & band & (ab < a["carriage"] - 0.3) & ((o % 1.2) < 0.6)
    tag[lines] = Tag.ROAD_LINES
    return tag, yellow, parking


def ground_albedo(town, x, y, tag, yellow, parking) -> np.ndarray:
    """(M, 3) colours of ground points with procedural wear and texture."""
    n = _hash2(np.floor(x * 6), np.floor(y * 6))
    coarse = _hash2(np.floor(x / 3), np.floor(y / 3))
    rgb = np.empty((*x.shape, 3), np.float32)
    asphalt = town.asphalt * (0.85 + 0.2 * n + 0.12 * coarse)
    rgb[:] = np.stack([asphalt, asphalt, asphalt * 1.04], -1)
    pk = parking
    rgb[pk] *= 1.12
    sw = tag == Tag.SIDEWALKS
    tiles = ((np.abs(x) % 1.5) < 0.06) | ((np.abs(y) % 1.5) < 0.06)
    g = np.where(tiles, 0.42, 0.58 + 0.06 * n)
    rgb[sw] = np.stack([g, g * 0.98, g * 0.95], -1)[sw]
    ln = tag == Tag.ROAD_LINES
    rgb[ln] = (0.86, 0.86, 0.84)
    rgb[ln & yellow] = (0.88, 0.72, 0.18)
    gr = tag == Tag.TERRAIN
    grass = np.asarray(town.grass, np.float32) * (
        0.75 + 0.5 * n[..., None] * 0.6 + 0.3 * coarse[..., None]
    )
    rgb[gr] = grass[gr]
    return rgb
