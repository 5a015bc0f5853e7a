"""Ray sets: a perspective camera (CARLA convention: x forward, y right, z up) and the
orthographic view from the sun that the shadow map is rendered with.

Both expose `window(corners)`, the pixel rectangle a primitive's box can cover (None when it
is off-screen or behind), and `rays(v0, v1, u0, u1)`, the origins and directions there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.server.render.primitives import rotation

NEAR = 0.05


@dataclass
class PerspectiveCamera:
    origin: np.ndarray  # (3,)
    rot: np.ndarray  # (3, 3): columns forward, right, up
    width: int
    height: int
    fov: float  # horizontal, degrees

    @staticmethod
    def from_pose(x, y, z, pitch, yaw, roll, width, height, fov) -> PerspectiveCamera:
        return PerspectiveCamera(
            np.array([x, y, z], np.float64),
            rotation(yaw, pitch, roll),
            int(width),
            int(height),
            float(fov),
        )

    @property
    def focal(self) -> float:
        return self.width / 2.0 / np.tan(np.radians(self.fov) / 2.0)

    def directions(self) -> np.ndarray:
        """(H, W, 3) unit ray directions through pixel centres."""
        f = self.focal
        u = (np.arange(self.width, dtype=np.float32) + 0.5 - self.width / 2) / f
        v = (np.arange(self.height, dtype=np.float32) + 0.5 - self.height / 2) / f
        fwd, right, up = (self.rot[:, i].astype(np.float32) for i in range(3))
        d = fwd[None, None, :] + u[None, :, None] * right - v[:, None, None] * up
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def project(self, pts: np.ndarray):
        """(u, v, depth) of world points (..., 3)."""
        rel = pts - self.origin
        depth = rel @ self.rot[:, 0]
        x = rel @ self.rot[:, 1]
        y = rel @ self.rot[:, 2]
        safe = np.where(depth > NEAR, depth, NEAR)
        return (
            self.width / 2 + self.focal * x / safe,
            self.height / 2 - self.focal * y / safe,
            depth,
        )

    def windows(self, corners: np.ndarray, far: float) -> np.ndarray:
        """(N, 4) int windows v0, v1, u0, u1 for (N, 8, 3) box corners; empty: v1 <= v0.

        Boxes are clipped against the near plane (corners in front plus the points where box
        edges cross it), so an object beside or behind the camera gets a tight window.
        """
        rel = corners - self.origin
        depth = rel @ self.rot[:, 0]
        x = rel @ self.rot[:, 1]
        y = rel @ self.rot[:, 2]
        a, b = _EDGES[:, 0], _EDGES[:, 1]
        da, db = depth[:, a], depth[:, b]
        cross = (da - NEAR) * (db - NEAR) < 0
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = np.where(cross, (NEAR - da) / (db - da), 0.0)
        ex = x[:, a] + lam * (x[:, b] - x[:, a])
        ey = y[:, a] + lam * (y[:, b] - y[:, a])
        px = np.concatenate([np.where(depth > NEAR, x, np.nan), np.where(cross, ex, np.nan)], 1)
        py = np.concatenate([np.where(depth > NEAR, y, np.nan), np.where(cross, ey, np.nan)], 1)
        pd = np.concatenate([depth, np.full(cross.shape, NEAR)], 1)
        pd = np.maximum(pd, NEAR)
        f = self.focal
        u = self.width / 2 + f * px / pd
        v = self.height / 2 - f * py / pd
        valid = ~np.isnan(u).all(1) & (depth.min(1) <= far)
        big = 1e9
        u0 = np.floor(np.nanmin(np.where(np.isnan(u), big, u), 1))
        u1 = np.ceil(np.nanmax(np.where(np.isnan(u), -big, u), 1)) + 1
        v0 = np.floor(np.nanmin(np.where(np.isnan(v), big, v), 1))
        v1 = np.ceil(np.nanmax(np.where(np.isnan(v), -big, v), 1)) + 1
        out = np.stack(
            [
                np.clip(v0, 0, self.height),
                np.clip(v1, 0, self.height),
                np.clip(u0, 0, self.width),
                np.clip(u1, 0, self.width),
            ],
            1,
        )
        out = out.astype(np.int64)
        out[~valid] = 0
        return out


# the 12 edges of a box whose corners are ordered as in Primitives.corners (x, y, z bits)
_EDGES = np.array([(i, i | bit) for i in range(8) for bit in (1, 2, 4) if not i & bit])


@dataclass
class SunView:
    """Orthographic grid of rays travelling along -sun over a square around `center`."""

    center: np.ndarray  # (3,) on the ground
    sun: np.ndarray  # (3,) unit vector towards the sun
    half: float  # half side of the square, metres
    size: int  # texels per side
    lift: float = 300.0

    def __post_init__(self) -> None:
        s = self.sun
        helper = np.array([0.0, 0.0, 1.0]) if abs(s[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
        self.e1 = np.cross(helper, s)
        self.e1 /= np.linalg.norm(self.e1)
        self.e2 = np.cross(s, self.e1)
        self.texel = 2 * self.half / self.size
        self.plane_origin = self.center + s * self.lift

    def coords(self, pts: np.ndarray):
        """(u, v, depth along -sun from the plane) of world points (..., 3)."""
        rel = pts - self.plane_origin
        return (
            rel @ self.e1 / self.texel + self.size / 2,
            rel @ self.e2 / self.texel + self.size / 2,
            -(rel @ self.sun),
        )

    def windows(self, corners: np.ndarray, far: float = np.inf) -> np.ndarray:
        u, v, _ = self.coords(corners)
        out = np.stack(
            [np.floor(v.min(1)), np.ceil(v.max(1)) + 1, np.floor(u.min(1)), np.ceil(u.max(1)) + 1],
            1,
        )
        return np.clip(out, 0, self.size).astype(np.int64)

    def origins(self) -> np.ndarray:
        i = (np.arange(self.size, dtype=np.float32) + 0.5 - self.size / 2) * self.texel
        return (
            self.plane_origin[None, None, :]
            + i[None, :, None] * self.e1
            + i[:, None, None] * self.e2
        ).astype(np.float32)
