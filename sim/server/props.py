"""The anomaly prop library: composite shapes, sizes and colours unlike anything in a town.

Each blueprint `static.prop.<shape>_<size>` builds its primitives around a transform whose
location is the prop's bottom centre (as CARLA props are pivoted). Shapes mix tilted boxes,
spheres, lying cylinders and rings in saturated colours with stripes, checks and spots, so they
look like no building, vehicle, pedestrian, pole or tree.

The library is split by shape into two disjoint parts (the server spawns any of them by name):
- the test part (`TEST_SHAPES`, 12 shapes): the only props `sim.generate` places as anomalies;
- the outlier-exposure part (`OUTLIER_SHAPES`, 6 shapes): reserved for training with pasted
  outliers (`tools/make_outlier_sprites.py` renders them as RGBA sprites), never used for the
  test anomalies, so a model fine-tuned on them is evaluated on objects it has not seen.
The partition is fixed by name: two shapes of each family (mostly ellipsoids, mostly boxes,
mixed and cylinders), so outlier training sees every primitive kind and pattern, while each
test shape stays a new object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from sim.server.render.primitives import (
    BOX,
    CHECKER,
    CYLINDER,
    ELLIPSOID,
    PLAIN,
    SPOTS,
    STRIPES,
    Primitives,
    SceneBuilder,
)
from sim.tags import Tag

COLORS = [
    (0.95, 0.1, 0.8), (0.1, 0.95, 0.95), (1.0, 0.45, 0.0), (0.55, 1.0, 0.1),
    (0.55, 0.1, 0.95), (1.0, 0.95, 0.1), (1.0, 0.25, 0.35), (0.1, 0.45, 1.0),
]  # fmt: skip
SIZES = {"s": 0.6, "m": 1.0, "l": 1.6}

# part = (kind, local centre (x, y, z above ground), size, (yaw, pitch, roll), pattern, colour k)
Part = tuple[int, tuple, tuple, tuple, int, int]
_FLAT = (0, 0, 0)  # no rotation

SHAPES: dict[str, tuple[Part, ...]] = {
    "giantball": ((ELLIPSOID, (0, 0, 0.55), (0.55, 0.55, 0.55), _FLAT, CHECKER, 0),),
    "snowman": (
        (ELLIPSOID, (0, 0, 0.4), (0.4, 0.4, 0.4), _FLAT, PLAIN, 0),
        (ELLIPSOID, (0, 0, 1.0), (0.3, 0.3, 0.3), _FLAT, SPOTS, 1),
        (ELLIPSOID, (0, 0, 1.42), (0.18, 0.18, 0.18), _FLAT, PLAIN, 2),
    ),
    "tiltedcrate": ((BOX, (0, 0, 0.55), (0.45, 0.45, 0.45), (30, 25, 20), STRIPES, 0),),
    "cratestack": (
        (BOX, (0, 0, 0.3), (0.5, 0.4, 0.3), _FLAT, CHECKER, 0),
        (BOX, (0.1, 0, 0.85), (0.35, 0.3, 0.25), (25, 0, 0), STRIPES, 1),
        (BOX, (0, 0.05, 1.3), (0.2, 0.2, 0.2), (50, 10, 15), PLAIN, 2),
    ),
    "lyingbarrel": ((CYLINDER, (0, 0, 0.4), (0.4, 0.4, 0.7), (0, 0, 90), STRIPES, 0),),
    "mushroom": (
        (CYLINDER, (0, 0, 0.45), (0.12, 0.12, 0.45), _FLAT, PLAIN, 3),
        (ELLIPSOID, (0, 0, 0.95), (0.6, 0.6, 0.25), _FLAT, SPOTS, 0),
    ),
    "ballring": tuple(
        (ELLIPSOID, (0.6 * np.cos(a), 0.6 * np.sin(a), 0.22), (0.22,) * 3, _FLAT, PLAIN, i % 3)
        for i, a in enumerate(np.linspace(0, 2 * np.pi, 7)[:-1])
    ),
    "ziggurat": (
        (BOX, (0, 0, 0.2), (0.7, 0.7, 0.2), _FLAT, PLAIN, 0),
        (BOX, (0, 0, 0.6), (0.5, 0.5, 0.2), (15, 0, 0), PLAIN, 1),
        (BOX, (0, 0, 1.0), (0.3, 0.3, 0.2), (30, 0, 0), PLAIN, 2),
    ),
    "egg": ((ELLIPSOID, (0, 0, 0.75), (0.4, 0.4, 0.75), (0, 12, 0), STRIPES, 0),),
    "table": (
        *(
            (CYLINDER, (sx * 0.5, sy * 0.3, 0.35), (0.05, 0.05, 0.35), _FLAT, PLAIN, 1)
            for sx in (-1, 1)
            for sy in (-1, 1)
        ),
        (BOX, (0, 0, 0.74), (0.65, 0.42, 0.04), _FLAT, CHECKER, 0),
    ),
    "sofa": (
        (BOX, (0, 0, 0.25), (0.9, 0.4, 0.25), _FLAT, SPOTS, 0),
        (BOX, (0, -0.32, 0.7), (0.9, 0.1, 0.25), _FLAT, SPOTS, 0),
        (BOX, (-0.85, 0, 0.5), (0.08, 0.4, 0.15), _FLAT, PLAIN, 1),
        (BOX, (0.85, 0, 0.5), (0.08, 0.4, 0.15), _FLAT, PLAIN, 1),
    ),
    "giantdie": ((BOX, (0, 0, 0.5), (0.5, 0.5, 0.5), (20, 0, 0), SPOTS, 0),),
    "dumbbell": (
        (ELLIPSOID, (-0.6, 0, 0.3), (0.3, 0.3, 0.3), _FLAT, PLAIN, 0),
        (ELLIPSOID, (0.6, 0, 0.3), (0.3, 0.3, 0.3), _FLAT, PLAIN, 0),
        (CYLINDER, (0, 0, 0.3), (0.07, 0.07, 0.6), (0, 90, 0), STRIPES, 1),
    ),
    "boulders": (
        (ELLIPSOID, (0, 0, 0.35), (0.6, 0.45, 0.35), (20, 0, 10), SPOTS, 4),
        (ELLIPSOID, (0.45, 0.3, 0.25), (0.35, 0.3, 0.25), (50, 0, 0), SPOTS, 4),
        (ELLIPSOID, (-0.2, 0.4, 0.6), (0.25, 0.25, 0.2), _FLAT, PLAIN, 5),
    ),
    "rubberduck": (
        (ELLIPSOID, (0, 0, 0.4), (0.6, 0.4, 0.35), _FLAT, PLAIN, 5),
        (ELLIPSOID, (0.45, 0, 0.85), (0.22, 0.22, 0.22), _FLAT, PLAIN, 5),
        (BOX, (0.72, 0, 0.82), (0.12, 0.08, 0.04), _FLAT, PLAIN, 2),
    ),
    "fridge": ((BOX, (0, 0, 0.9), (0.35, 0.35, 0.9), (0, 0, 8), STRIPES, 6),),
    "tirestack": tuple(
        (CYLINDER, (0, 0, 0.15 + 0.3 * i), (0.45, 0.45, 0.14), _FLAT, STRIPES, i % 2 + 6)
        for i in range(3)
    ),
    "mattress": ((BOX, (0, 0, 0.35), (1.0, 0.7, 0.12), (10, 0, 25), STRIPES, 7),),
}


# The documented, deterministic split of the library (see the module docstring).
OUTLIER_SHAPES: tuple[str, ...] = (
    "snowman", "boulders",  # ellipsoids
    "cratestack", "mattress",  # boxes
    "table", "tirestack",  # mixed, cylinders
)  # fmt: skip
TEST_SHAPES: tuple[str, ...] = tuple(s for s in SHAPES if s not in OUTLIER_SHAPES)
PREFIX = "static.prop."


def shape_of(blueprint: str) -> str | None:
    """'snowman' for 'static.prop.snowman_m'; None for a blueprint not in this library."""
    if not blueprint.startswith(PREFIX):
        return None
    shape, _, size = blueprint[len(PREFIX) :].rpartition("_")
    return shape if shape in SHAPES and size in SIZES else None


def is_outlier_prop(blueprint: str) -> bool:
    """True for the props reserved for outlier-exposure training (never test anomalies)."""
    return shape_of(blueprint) in OUTLIER_SHAPES


@dataclass(frozen=True)
class PropSpec:
    blueprint: str
    shape: str
    scale: float
    palette: tuple[tuple[float, float, float], ...]

    def parts(self) -> tuple[Part, ...]:
        return SHAPES[self.shape]

    @property
    def extent(self) -> tuple[float, float, float]:
        """Half extents of the prop's local bounding box (x, y about its centre; z)."""
        pts = []
        for kind, c, s, (yaw, pitch, roll), _, _ in self.parts():
            del kind
            r = _rot(yaw, pitch, roll)
            corners = np.array([[a, b, d] for a in (-1, 1) for b in (-1, 1) for d in (-1, 1)])
            pts.append((corners * s) @ r.T + c)
        p = np.concatenate(pts) * self.scale
        ex = np.abs(p[:, :2]).max(0)
        return float(ex[0]), float(ex[1]), float(p[:, 2].max() / 2)


def _rot(yaw, pitch, roll):
    from sim.server.render.primitives import rotation

    return rotation(yaw, pitch, roll)


def _palette(name: str):
    h = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
    order = np.random.default_rng(h).permutation(len(COLORS))
    return (*tuple(COLORS[i] for i in order), (0.6, 0.55, 0.7), (0.98, 0.85, 0.1))


def library(part: str = "all") -> dict[str, PropSpec]:
    """Blueprint -> spec of every prop ("all"), of the test part ("test") or of the part
    reserved for outlier exposure ("outlier")."""
    shapes = {"all": tuple(SHAPES), "test": TEST_SHAPES, "outlier": OUTLIER_SHAPES}.get(part)
    if shapes is None:
        raise ValueError(f"part={part!r} must be 'all', 'test' or 'outlier'")
    out = {}
    for shape in shapes:
        for size, scale in SIZES.items():
            bp = f"static.prop.{shape}_{size}"
            out[bp] = PropSpec(bp, shape, scale, _palette(bp))
    return out


def build(spec: PropSpec, inst: int, x: float, y: float, z: float, yaw: float) -> Primitives:
    """World primitives of one prop standing at (x, y, z) and turned by `yaw` degrees."""
    b = SceneBuilder()
    r_world = _rot(yaw, 0, 0)
    for kind, c, s, (pyaw, ppitch, proll), pattern, k in spec.parts():
        local = np.asarray(c, float) * spec.scale
        centre = r_world @ local + (x, y, z)
        color = spec.palette[k % len(spec.palette)]
        b.add(
            kind,
            tuple(centre),
            tuple(np.asarray(s) * spec.scale),
            Tag.STATIC,
            inst,
            color,
            pattern,
            yaw + pyaw,
            ppitch,
            proll,
        )
    return b.build()
