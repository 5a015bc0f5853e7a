"""Scene primitives: boxes, ellipsoids and capped cylinders, each in its own local frame.

A primitive is a centre, a rotation (local -> world), a size (box half extents, ellipsoid
radii, or cylinder radius/radius/half height along local z), a CARLA semantic tag, an instance
id, an albedo colour and a surface pattern. They are stored as a structure of arrays so the
renderer can cull and project all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BOX, ELLIPSOID, CYLINDER = 0, 1, 2

# Surface patterns (albedo modulation in the primitive's local frame).
PLAIN, WINDOWS, SLATS, STRIPES, CHECKER, SPOTS, NOISY = 0, 1, 2, 3, 4, 5, 6


def rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Local -> world rotation for CARLA angles in degrees (yaw about z, pitch about y)."""
    cy, sy = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
    cp, sp = np.cos(np.radians(pitch)), np.sin(np.radians(pitch))
    cr, sr = np.cos(np.radians(roll)), np.sin(np.radians(roll))
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, -sp], [0, 1, 0], [sp, 0, cp]])  # positive pitch lifts the x axis
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    return rz @ ry @ rx


@dataclass
class Primitives:
    kind: np.ndarray  # (N,) uint8
    center: np.ndarray  # (N, 3)
    rot: np.ndarray  # (N, 3, 3) local -> world
    size: np.ndarray  # (N, 3)
    tag: np.ndarray  # (N,) uint8 CARLA semantic tag
    inst: np.ndarray  # (N,) uint16 instance id
    color: np.ndarray  # (N, 3) float albedo in 0..1 (RGB)
    pattern: np.ndarray  # (N,) uint8
    emissive: np.ndarray  # (N,) float, glow at night (lamps)

    def __len__(self) -> int:
        return len(self.kind)

    @staticmethod
    def concat(parts: list[Primitives]) -> Primitives:
        parts = [p for p in parts if len(p)]
        if not parts:
            return SceneBuilder().build()
        return Primitives(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in Primitives.__dataclass_fields__
            )
        )

    def corners(self) -> np.ndarray:
        """(N, 8, 3) world corners of each primitive's local bounding box."""
        signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
        local = signs[None] * self.size[:, None, :]  # (N, 8, 3)
        return np.einsum("nij,nkj->nki", self.rot, local) + self.center[:, None, :]


@dataclass
class SceneBuilder:
    """Collects primitives one by one, then packs them into `Primitives`."""

    rows: list[tuple] = field(default_factory=list)

    def add(
        self,
        kind: int,
        center,
        size,
        tag: int,
        inst: int,
        color,
        pattern: int = PLAIN,
        yaw: float = 0.0,
        pitch: float = 0.0,
        roll: float = 0.0,
        emissive: float = 0.0,
    ) -> None:
        self.rows.append(
            (kind, center, rotation(yaw, pitch, roll), size, tag, inst, color, pattern, emissive)
        )

    def box(self, center, half, tag, inst, color, pattern=PLAIN, yaw=0.0, **kw) -> None:
        self.add(BOX, center, half, tag, inst, color, pattern, yaw, **kw)

    def ellipsoid(self, center, radii, tag, inst, color, pattern=PLAIN, yaw=0.0, **kw) -> None:
        self.add(ELLIPSOID, center, radii, tag, inst, color, pattern, yaw, **kw)

    def cylinder(self, x, y, z0, z1, r, tag, inst, color, pattern=PLAIN, **kw) -> None:
        self.add(
            CYLINDER, (x, y, (z0 + z1) / 2), (r, r, (z1 - z0) / 2), tag, inst, color, pattern, **kw
        )

    def build(self) -> Primitives:
        n = len(self.rows)
        cols = list(zip(*self.rows, strict=True)) if n else [()] * 9
        return Primitives(
            kind=np.array(cols[0], np.uint8).reshape(n),
            center=np.array(cols[1], np.float64).reshape(n, 3),
            rot=np.array(cols[2], np.float64).reshape(n, 3, 3),
            size=np.array(cols[3], np.float64).reshape(n, 3),
            tag=np.array(cols[4], np.uint8).reshape(n),
            inst=np.array(cols[5], np.uint16).reshape(n),
            color=np.array(cols[6], np.float64).reshape(n, 3),
            pattern=np.array(cols[7], np.uint8).reshape(n),
            emissive=np.array(cols[8], np.float64).reshape(n),
        )
