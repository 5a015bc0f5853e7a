"""One geometry pass per camera pose, three outputs: RGB, CARLA semantic tag, instance id.

Primitives are culled and bounded on screen by their projected boxes, then ray-cast only inside
those windows (a z-buffer keeps the nearest hit). The ground plane and sky fill the rest. A
shadow map rendered from the sun gives cast shadows; the weather (`Light`) gives sun and sky
light, clouds, wet roads and puddles, fog, rain and night (street lamps, lit windows,
headlights). Tags and instance ids come from the same hits as the colours, so the three
cameras agree pixel for pixel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sim.server.render import intersect, shading
from sim.server.render.camera import PerspectiveCamera, SunView
from sim.server.render.ground import ground_albedo, ground_tags
from sim.server.render.primitives import (
    CHECKER,
    NOISY,
    SLATS,
    SPOTS,
    STRIPES,
    WINDOWS,
    Primitives,
)
from sim.tags import Tag

FAR = 260.0  # primitives farther than this are not drawn (fog and haze hide them)
GROUND_FAR = 3000.0


@dataclass
class RenderResult:
    rgb: np.ndarray  # (H, W, 3) uint8
    tag: np.ndarray  # (H, W) uint8 CARLA tags
    inst: np.ndarray  # (H, W) uint16 instance ids (actor ids for spawned actors)
    seconds: float


@dataclass
class _Hits:
    t: np.ndarray
    pid: np.ndarray
    nl: np.ndarray | None
    lp: np.ndarray | None


def _trace(
    prims: Primitives,
    corners: np.ndarray,
    view,
    origins,
    dirs,
    t0: np.ndarray,
    far: float,
    full: bool,
) -> _Hits:
    """Nearest primitive hit per ray; `origins`/`dirs` are (H, W, 3) or (3,)."""
    t = t0.copy()
    pid = np.full(t.shape, -1, np.int32)
    nl = np.zeros((*t.shape, 3), np.float32) if full else None
    lp = np.zeros((*t.shape, 3), np.float32) if full else None
    win = view.windows(corners, far)
    keep = np.nonzero((win[:, 1] > win[:, 0]) & (win[:, 3] > win[:, 2]))[0]
    if dirs.ndim == 3:
        dcomp = [np.ascontiguousarray(dirs[..., k]) for k in range(3)]
    if origins.ndim == 3:
        ocomp = [np.ascontiguousarray(origins[..., k]) for k in range(3)]
    rot = prims.rot.astype(np.float32)
    center = prims.center.astype(np.float32)
    size = prims.size.astype(np.float32)
    for i in keep:
        v0, v1, u0, u1 = win[i]
        r = rot[i]
        if origins.ndim == 3:
            ox, oy, oz = (c[v0:v1, u0:u1] - center[i][k] for k, c in enumerate(ocomp))
            ol = [ox * r[0, k] + oy * r[1, k] + oz * r[2, k] for k in range(3)]
        else:
            ol = list((origins - center[i]) @ r)
        if dirs.ndim == 3:
            dx, dy, dz = (c[v0:v1, u0:u1] for c in dcomp)
            dl = [dx * r[0, k] + dy * r[1, k] + dz * r[2, k] for k in range(3)]
        else:
            dl = list(dirs @ r)
        ti, ni = intersect.BY_KIND[prims.kind[i]](ol, dl, size[i], full)
        tw = t[v0:v1, u0:u1]
        m = ti < tw
        if not m.any():
            continue
        tw[m] = ti[m]
        pid[v0:v1, u0:u1][m] = i
        if full:
            tm = ti[m]
            nl[v0:v1, u0:u1][m] = np.stack([c[m] for c in ni], -1)
            lp[v0:v1, u0:u1][m] = np.stack(
                [
                    (ol[k] + tm * dl[k][m]) if np.ndim(ol[k]) == 0 else (ol[k][m] + tm * dl[k][m])
                    for k in range(3)
                ],
                -1,
            )
    return _Hits(t, pid, nl, lp)


def _hash3(p: np.ndarray) -> np.ndarray:
    v = np.sin(p[:, 0] * 12.9898 + p[:, 1] * 78.233 + p[:, 2] * 37.719) * 43758.5453
    return v - np.floor(v)


def _frac(x):
    return x - np.floor(x)


def _albedo(prims: Primitives, pid, nl, lp):
    """(M, 3) albedo and (M,) night emission of primitive hits, from their patterns."""
    base = prims.color[pid].astype(np.float32)
    pat = prims.pattern[pid]
    s = prims.size[pid].astype(np.float32)
    emit = prims.emissive[pid].astype(np.float32)
    alt = 1.0 - base
    fx = np.abs(nl[:, 0]) > 0.5
    side = fx | (np.abs(nl[:, 1]) > 0.5)
    h = np.where(fx, lp[:, 1] + s[:, 1], lp[:, 0] + s[:, 0])
    z = lp[:, 2] + s[:, 2]
    out = base.copy()
    m = pat == WINDOWS
    if m.any():
        big = s[:, 2] > 1.5
        win = (
            side
            & big
            & (_frac(h / 2.8) > 0.22)
            & (_frac(h / 2.8) < 0.78)
            & (_frac(z / 3.3) > 0.3)
            & (_frac(z / 3.3) < 0.8)
            & (z > 1.2)
            & (z < 2 * s[:, 2] - 0.6)
        )
        win |= side & ~big
        roof = (nl[:, 2] > 0.5) & big
        out[m & roof] *= 0.72
        glass = m & win
        out[glass] = (0.1, 0.12, 0.16)
        cell = np.stack([np.floor(h / 2.8), np.floor(z / 3.3), pid * 0.37], 1)
        lit = glass & big & (_hash3(cell) > 0.55)
        emit = np.where(lit, 0.9, emit)
    m = pat == SLATS
    if m.any():
        stripe = _frac(np.where(side, h, lp[:, 0]) / 0.35) < 0.5
        out[m & stripe] *= 0.68
    m = pat == STRIPES
    out[m] = np.where((_frac(lp[:, 2] / 0.35) < 0.5)[:, None], base, alt)[m]
    m = pat == CHECKER
    cb = (np.floor(lp[:, 0] / 0.4) + np.floor(lp[:, 1] / 0.4) + np.floor(lp[:, 2] / 0.4)) % 2 == 0
    out[m] = np.where(cb[:, None], base, alt)[m]
    m = pat == SPOTS
    sp = np.sin(lp[:, 0] * 9) * np.sin(lp[:, 1] * 9) * np.sin(lp[:, 2] * 9) > 0.2
    out[m] = np.where(sp[:, None], alt, base)[m]
    m = pat == NOISY
    if m.any():
        out[m] *= (0.65 + 0.6 * _hash3(np.floor(lp[m] * 5)))[:, None]
    return out, emit


def _shadow(prims, corners, light, cam: PerspectiveCamera, pts, size: int) -> np.ndarray:
    """(M,) 1 where world points see the sun, 0 in cast shadow."""
    fwd = cam.rot[:, 0].copy()
    fwd[2] = 0
    fwd /= max(np.linalg.norm(fwd), 1e-6)
    centre = cam.origin + fwd * 45.0
    centre[2] = 0
    view = SunView(centre, light.sun, 75.0, size)
    d = (-light.sun).astype(np.float32)
    smap = _trace(
        prims,
        corners,
        view,
        view.origins(),
        d,
        np.full((size, size), np.inf, np.float32),
        np.inf,
        False,
    ).t
    u, v, depth = view.coords(pts)
    ui, vi = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    inside = (ui >= 0) & (ui < size) & (vi >= 0) & (vi < size)
    occ = np.full(len(pts), np.inf, np.float32)
    occ[inside] = smap[vi[inside], ui[inside]]
    return (depth <= occ + 0.25 + view.texel).astype(np.float32)


def _sky_image(cam: PerspectiveCamera, light, mirror: bool, factor: int = 4) -> np.ndarray:
    """(H*W, 3) sky colours per pixel (mirrored about the ground for reflections), computed at
    1/factor resolution and upsampled: the sky is smooth, and this is the costly shader."""
    import cv2

    lw, lh = max(cam.width // factor, 2), max(cam.height // factor, 2)
    small = PerspectiveCamera(cam.origin, cam.rot, lw, lh, cam.fov)
    d = small.directions().reshape(-1, 3)
    if mirror:
        d = d * np.array([1, 1, -1], np.float32)
    img = shading.sky(d, light).reshape(lh, lw, 3)
    big = cv2.resize(img, (cam.width, cam.height), interpolation=cv2.INTER_LINEAR)
    return big.reshape(-1, 3)


def render_views(
    town, dynamic: Primitives, cam: PerspectiveCamera, weather: dict[str, float], seed: int = 0
) -> RenderResult:
    start = time.perf_counter()
    prims = Primitives.concat([town.statics, dynamic])
    corners = np.concatenate([town.corners, dynamic.corners()]) if len(dynamic) else town.corners
    light = shading.Light.from_weather(weather)
    dirs = cam.directions()
    h, w = dirs.shape[:2]
    origin = cam.origin.astype(np.float32)
    hits = _trace(prims, corners, cam, origin, dirs, _ground_distance(dirs, origin), FAR, True)
    s = _surfaces(town, prims, hits, origin, dirs.reshape(-1, 3))
    col = _sunlit(s, prims, corners, light, cam, w * h)
    _wet_reflections(col, s, light, cam)
    night = 1.0 - light.daylight
    if night > 0.05:
        _night_lights(col, s, town, night, cam, origin)
    rgb = np.zeros((h * w, 3), np.float32)
    rgb[s.surf] = shading.apply_fog(col, s.t[s.surf], light)
    skyc = _sky_image(cam, light, False)[s.sky]
    rgb[s.sky] = shading.apply_fog(
        skyc, np.full(len(s.sky), 1e9 if light.fog_k > 0.01 else 0.0, np.float32), light
    )
    out = rgb.reshape(h, w, 3)
    if light.rain > 0:
        out = out * (1 - 0.12 * light.rain)
        out = shading.rain_streaks(out, light.rain, seed)
    out8 = (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
    return RenderResult(
        out8, s.tag.reshape(h, w), s.inst.reshape(h, w), time.perf_counter() - start
    )


def _ground_distance(dirs: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """(H, W) distance along each ray to the ground plane z = 0 (inf: none within GROUND_FAR)."""
    with np.errstate(divide="ignore"):
        tg = np.where(dirs[..., 2] < -1e-6, -origin[2] / dirs[..., 2], np.inf).astype(np.float32)
    return np.where(tg < GROUND_FAR, tg, np.inf).astype(np.float32)


@dataclass
class _Surfaces:
    """Flat pixel indices of what each ray hit, and the surfaces' points and materials.

    `surf` = objects (the first `n_obj`) then ground; `pts`, `normals`, `albedo`, `emit` are
    per `surf` entry; `gx`, `gy`, `gtag` per ground entry; `tag`, `inst`, `t`, `d` per pixel.
    """

    obj: np.ndarray
    gnd: np.ndarray
    sky: np.ndarray
    surf: np.ndarray
    n_obj: int
    t: np.ndarray
    d: np.ndarray
    tag: np.ndarray
    inst: np.ndarray
    pts: np.ndarray
    normals: np.ndarray
    albedo: np.ndarray
    emit: np.ndarray
    gx: np.ndarray
    gy: np.ndarray
    gtag: np.ndarray


def _surfaces(town, prims: Primitives, hits: _Hits, origin: np.ndarray, d: np.ndarray):
    """Tags, instance ids, normals and albedo of every hit (primitives, then ground)."""
    t = hits.t.reshape(-1)
    pid = hits.pid.reshape(-1)
    tag = np.full(len(t), Tag.SKY, np.uint8)
    inst = np.zeros(len(t), np.uint16)
    obj = np.nonzero(pid >= 0)[0]
    gnd = np.nonzero((pid < 0) & np.isfinite(t))[0]
    sky = np.nonzero((pid < 0) & ~np.isfinite(t))[0]
    tag[obj] = prims.tag[pid[obj]]
    inst[obj] = prims.inst[pid[obj]]
    surf = np.concatenate([obj, gnd])
    pts = origin + t[surf, None] * d[surf]
    normals = np.zeros((len(surf), 3), np.float32)
    albedo = np.zeros((len(surf), 3), np.float32)
    emit = np.zeros(len(surf), np.float32)
    no = len(obj)
    if no:
        po = pid[obj]
        nl = hits.nl.reshape(-1, 3)[obj]
        normals[:no] = np.einsum("mij,mj->mi", prims.rot[po].astype(np.float32), nl)
        albedo[:no], emit[:no] = _albedo(prims, po, nl, hits.lp.reshape(-1, 3)[obj])
    gx, gy = pts[no:, 0], pts[no:, 1]
    gtag, yellow, parking = ground_tags(town, gx, gy)
    tag[gnd] = gtag
    normals[no:] = (0, 0, 1)
    albedo[no:] = ground_albedo(town, gx, gy, gtag, yellow, parking)
    return _Surfaces(
        obj, gnd, sky, surf, no, t, d, tag, inst, pts, normals, albedo, emit, gx, gy, gtag
    )


def _wet_ground(s: _Surfaces, light) -> np.ndarray:
    """(G,) how wet each ground hit is: paved surfaces take the weather's wetness."""
    return light.wet * np.isin(s.gtag, (Tag.ROADS, Tag.ROAD_LINES, Tag.SIDEWALKS))


def _sunlit(s: _Surfaces, prims, corners, light, cam: PerspectiveCamera, pixels: int):
    """(M, 3) colour of every surface under ambient light and the sun, with cast shadows;
    wet ground is darker."""
    s.albedo[s.n_obj :] *= (1 - 0.35 * _wet_ground(s, light))[:, None]
    ndl = np.clip(s.normals @ light.sun.astype(np.float32), 0, None)
    lit = np.ones(len(s.surf), np.float32)
    if light.sun_color.sum() > 0.03 and len(s.surf):
        lit = _shadow(prims, corners, light, cam, s.pts, 256 if pixels <= 400 * 300 else 640)
    amb = light.ambient[None, :] * (0.55 + 0.45 * s.normals[:, 2:3])
    return s.albedo * (amb + light.sun_color[None, :] * (ndl * lit)[:, None])


def _wet_reflections(col: np.ndarray, s: _Surfaces, light, cam: PerspectiveCamera) -> None:
    """Wet roads and puddles reflect the sky (in place)."""
    if light.wet > 0.05 or light.puddles > 0.05:
        no = s.n_obj
        puddle = shading.value_noise(s.gx / 3.0, s.gy / 3.0) > (1 - 0.45 * light.puddles)
        k = (0.18 * _wet_ground(s, light) + 0.45 * puddle * (s.gtag != Tag.TERRAIN))[:, None]
        col[no:] = col[no:] * (1 - k) + _sky_image(cam, light, True)[s.gnd] * k * 0.8


def _night_lights(col, s: _Surfaces, town, night: float, cam: PerspectiveCamera, origin) -> None:
    """At night (in place): lit windows and lamps glow, the nearest street lamps light the
    scene around them, and the (invisible) ego vehicle's headlights light the road ahead."""
    glow = np.array([1.0, 0.82, 0.55], np.float32)
    col += (s.emit * night)[:, None] * glow * 1.1
    lamps = town.lamps
    if len(lamps):
        dist = np.linalg.norm(lamps[:, :2] - origin[:2], axis=1)
        near = lamps[np.argsort(dist)[:10]]
        acc = np.zeros(len(s.surf), np.float32)
        for lp in near.astype(np.float32):
            v = lp - s.pts
            d2 = (v * v).sum(1)
            acc += np.clip((s.normals * v).sum(1) / np.sqrt(d2 + 1e-6), 0, None) / (1 + d2 / 6)
        col += s.albedo * (acc * 4.0 * night)[:, None] * glow
    fwd = cam.rot[:, 0].astype(np.float32)
    ds = s.d[s.surf]
    cone = np.clip(((ds @ fwd) - 0.82) / 0.12, 0, 1) * (ds[:, 2] < 0.12)
    head = cone * np.clip(-(s.normals * ds).sum(1), 0, None) / (1 + (s.t[s.surf] / 12.0) ** 2)
    col += s.albedo * (head * 1.6 * night)[:, None] * np.array([1.0, 0.97, 0.9], np.float32)
