"""Ray intersection with local-frame primitives (pure numpy, vectorized over rays).

Each function takes ray origins `o` and directions `d` already expressed in the primitive's
local frame, as three components each (arrays of one shape, or scalars), and the primitive
size; it returns the ray parameter of the nearest hit in front of the origin (`inf` where the
ray misses) and, when asked, the local normal at the hit as three components. Working on
components rather than (..., 3) arrays avoids numpy's slow reductions over a length-3 axis.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-4
INF = np.float32(np.inf)


def _safe(x):
    return np.where(np.abs(x) < 1e-9, np.float32(1e-9), x)


def box(o, d, s, normals: bool = True):
    tn, tf = [], []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for k in range(3):
            inv = 1.0 / _safe(d[k])
            a = (-s[k] - o[k]) * inv
            b = (s[k] - o[k]) * inv
            tn.append(np.minimum(a, b))
            tf.append(np.maximum(a, b))
    tmin = np.maximum(np.maximum(tn[0], tn[1]), tn[2])
    tmax = np.minimum(np.minimum(tf[0], tf[1]), tf[2])
    t = np.where((tmax >= tmin) & (tmin > EPS), tmin, INF)
    if not normals:
        return t, None
    shape = np.shape(t)
    n = []
    for k in range(3):
        face = tn[k] >= tmin
        n.append(np.broadcast_to(np.where(face, -np.sign(d[k]), 0).astype(np.float32), shape))
    return t, n


def ellipsoid(o, d, s, normals: bool = True):
    ox, oy, oz = o[0] / s[0], o[1] / s[1], o[2] / s[2]
    dx, dy, dz = d[0] / s[0], d[1] / s[1], d[2] / s[2]
    a = dx * dx + dy * dy + dz * dz
    b = ox * dx + oy * dy + oz * dz
    c = ox * ox + oy * oy + oz * oz - 1.0
    disc = b * b - a * c
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b - np.sqrt(disc)) / a
    t = np.where((disc >= 0) & (t > EPS), t, INF)
    if not normals:
        return t, None
    tt = np.where(np.isfinite(t), t, 0.0)
    nx, ny, nz = (ox + tt * dx) / s[0], (oy + tt * dy) / s[1], (oz + tt * dz) / s[2]
    norm = np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-9
    shape = np.shape(t)
    return t, [np.broadcast_to(v / norm, shape).astype(np.float32) for v in (nx, ny, nz)]


def cylinder(o, d, s, normals: bool = True):
    """Capped cylinder along local z: radius s[0], half height s[2]."""
    r, hz = s[0], s[2]
    ox, oy, oz = o
    dx, dy, dz = d
    a = dx * dx + dy * dy
    b = ox * dx + oy * dy
    c = ox * ox + oy * oy - r * r
    disc = b * b - a * c
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ts = (-b - np.sqrt(disc)) / a
        zs = oz + ts * dz
        t_side = np.where((disc >= 0) & (ts > EPS) & (np.abs(zs) <= hz), ts, INF)
        sdz = _safe(dz)
        t_top, t_bot = (hz - oz) / sdz, (-hz - oz) / sdz
        tc = np.minimum(t_top, t_bot)
        tc = np.where(tc > EPS, tc, np.maximum(t_top, t_bot))
        px, py = ox + tc * dx, oy + tc * dy
        t_cap = np.where((tc > EPS) & (px * px + py * py <= r * r), tc, INF)
    t = np.minimum(t_side, t_cap)
    if not normals:
        return t, None
    tt = np.where(np.isfinite(t), t, 0.0)
    side = t_side <= t_cap
    shape = np.shape(t)
    n = [
        np.where(side, (ox + tt * dx) / r, 0.0),
        np.where(side, (oy + tt * dy) / r, 0.0),
        np.where(side, 0.0, np.sign(oz + tt * dz)),
    ]
    return t, [np.broadcast_to(v, shape).astype(np.float32) for v in n]


BY_KIND = (box, ellipsoid, cylinder)
