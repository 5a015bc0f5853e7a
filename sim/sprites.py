"""RGBA sprites of the props reserved for outlier exposure, for `segood.data.paste.PasteCutouts`.

Each sprite is one prop of `sim.server.props.library("outlier")` (never a test-anomaly prop),
ray-cast with the loopback server's renderer alone on a transparent background: a random size
variant, random saturated colours, yaw, camera elevation and sun (direction, colour, ambient
level). It is rendered at twice the size and area-downsampled with premultiplied alpha, so the
alpha channel (the object mask) has anti-aliased edges. Sprite i depends only on (seed, i).

    python tools/make_outlier_sprites.py --out demo_out/outlier_sprites --count 200 --size 96
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
from pathlib import Path

import cv2
import numpy as np

from sim.server import props
from sim.server.render.camera import PerspectiveCamera
from sim.server.render.renderer import _albedo, _trace

FOV = 40.0
SUPERSAMPLE = 2


def _palette(rng: np.random.Generator, n: int = 10) -> tuple[tuple[float, float, float], ...]:
    """n random saturated colours (any hue)."""
    return tuple(
        colorsys.hsv_to_rgb(
            float(rng.random()), float(rng.uniform(0.5, 1)), float(rng.uniform(0.55, 1))
        )
        for _ in range(n)
    )


def render_sprite(spec: props.PropSpec, size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size, 4) uint8 RGBA image of `spec` (alpha = coverage) under random view/light."""
    spec = dataclasses.replace(spec, palette=_palette(rng))
    prims = props.build(spec, 1, 0.0, 0.0, 0.0, float(rng.uniform(0, 360)))
    corners = prims.corners()
    lo, hi = corners.reshape(-1, 3).min(0), corners.reshape(-1, 3).max(0)
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(hi - lo) / 2)
    elevation = math.radians(float(rng.uniform(0, 30)))
    dist = radius / math.sin(math.radians(FOV / 2)) * 1.02
    side = size * SUPERSAMPLE
    cam = PerspectiveCamera.from_pose(
        centre[0] - dist * math.cos(elevation),
        centre[1],
        centre[2] + dist * math.sin(elevation),
        -math.degrees(elevation),
        0.0,
        0.0,
        side,
        side,
        FOV,
    )
    dirs = cam.directions()
    origin = cam.origin.astype(np.float32)
    hits = _trace(prims, corners, cam, origin, dirs, np.full((side, side), np.inf, np.float32),
                  np.inf, True)  # fmt: skip
    pid = hits.pid.reshape(-1)
    obj = np.nonzero(pid >= 0)[0]
    rgb = np.zeros((side * side, 3), np.float32)
    if len(obj):
        po = pid[obj]
        nl = hits.nl.reshape(-1, 3)[obj]
        normals = np.einsum("mij,mj->mi", prims.rot[po].astype(np.float32), nl)
        albedo, _ = _albedo(prims, po, nl, hits.lp.reshape(-1, 3)[obj])
        az, alt = rng.uniform(0, 2 * math.pi), math.radians(float(rng.uniform(15, 75)))
        sun = np.array([math.cos(alt) * math.cos(az), math.cos(alt) * math.sin(az), math.sin(alt)])
        warm = float(rng.uniform(0, 1))
        sun_color = np.array([1.0, 0.93 - 0.2 * warm, 0.85 - 0.35 * warm]) * rng.uniform(0.6, 1.1)
        ambient = np.array([0.55, 0.62, 0.75]) * rng.uniform(0.35, 0.8)
        ndl = np.clip(normals @ sun.astype(np.float32), 0, None)
        amb = ambient[None, :] * (0.55 + 0.45 * normals[:, 2:3])
        rgb[obj] = albedo * (amb + sun_color[None, :] * ndl[:, None])
    alpha = (pid >= 0).astype(np.float32).reshape(side, side)
    premult = np.clip(rgb.reshape(side, side, 3), 0, 1) * alpha[..., None]
    small = (size, size)
    a = cv2.resize(alpha, small, interpolation=cv2.INTER_AREA)
    c = cv2.resize(premult, small, interpolation=cv2.INTER_AREA)
    c = np.where(a[..., None] > 0, c / np.maximum(a[..., None], 1e-6), 0)
    out = np.dstack([c, a])
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def make_sprites(out: str | Path, count: int = 200, size: int = 96, seed: int = 0) -> list[Path]:
    """Write `count` sprites `<shape>_<size>_<i>.png` (RGBA) into `out`; existing files are kept
    (a rerun completes an interrupted one). Returns the sprite paths."""
    from segood.io import atomic_write_path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    library = sorted(props.library("outlier").items())
    paths = []
    for i in range(count):
        rng = np.random.default_rng((seed, i))
        blueprint, spec = library[int(rng.integers(len(library)))]
        path = out / f"{blueprint.removeprefix(props.PREFIX)}_{i:05d}.png"
        paths.append(path)
        if path.is_file():
            continue
        rgba = render_sprite(spec, size, rng)
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        if not ok:
            raise OSError(f"cannot encode PNG for {path}")
        atomic_write_path(path, encoded.tofile)
    return paths
