"""Lighting from the weather: sun direction and colour, sky, clouds, fog, rain and night.

All functions are pure and vectorized; `Light` condenses CARLA's WeatherParameters into the
few numbers the shader needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _hash(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    v = np.sin(x * 127.1 + y * 311.7) * 43758.5453
    return v - np.floor(v)


def value_noise(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smooth lattice noise in [0, 1]."""
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = u - iu, v - iv
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    a, b = _hash(iu, iv), _hash(iu + 1, iv)
    c, d = _hash(iu, iv + 1), _hash(iu + 1, iv + 1)
    return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv


@dataclass(frozen=True)
class Light:
    sun: np.ndarray  # unit vector towards the sun
    sun_color: np.ndarray  # (3,) direct light, 0 at night
    ambient: np.ndarray  # (3,) sky light
    daylight: float  # 0 night .. 1 noon
    cloud: float  # 0..1
    rain: float  # 0..1
    wet: float  # 0..1
    puddles: float  # 0..1
    fog_k: float  # extinction per metre past fog_start
    fog_start: float
    fog_color: np.ndarray
    night: bool

    @staticmethod
    def from_weather(w: dict[str, float]) -> Light:
        alt = float(np.clip(w["sun_altitude_angle"], -90, 90))
        az = np.radians(w["sun_azimuth_angle"])
        ea = np.radians(max(alt, 2.0))
        sun = np.array([np.cos(ea) * np.cos(az), np.cos(ea) * np.sin(az), np.sin(ea)])
        cloud = float(np.clip(w["cloudiness"], 0, 100)) / 100
        rain = float(np.clip(w["precipitation"], 0, 100)) / 100
        dust = float(np.clip(w["dust_storm"], 0, 100)) / 100
        day = float(np.clip((alt + 4) / 20, 0, 1))  # smooth dusk
        warm = float(np.clip(1 - alt / 25, 0, 1))  # low sun is orange
        sun_color = np.array([1.0, 0.93 - 0.25 * warm, 0.85 - 0.45 * warm])
        direct = day * (1 - 0.85 * cloud) * (1 - 0.4 * rain) * (1 - 0.6 * dust)
        sky = np.array([0.55, 0.62, 0.75]) * (0.55 + 0.35 * cloud)
        ambient = sky * day + np.array([0.035, 0.04, 0.07]) * (1 - day)
        fog_density = float(np.clip(w["fog_density"], 0, 100)) / 100
        fog_k = 0.0015 + 0.08 * fog_density**1.5 + 0.05 * dust + 0.004 * rain
        fog_color = np.array([0.72, 0.74, 0.78]) * (1 - dust) + np.array([0.62, 0.5, 0.32]) * dust
        fog_color = fog_color * (0.12 + 0.88 * day)
        f32 = np.float32
        return Light(
            sun.astype(f32),
            (sun_color * direct * 0.95).astype(f32),
            ambient.astype(f32),
            day,
            cloud,
            rain,
            float(np.clip(max(w["wetness"] / 100, rain), 0, 1)),
            float(np.clip(w["precipitation_deposits"], 0, 100)) / 100,
            fog_k,
            max(float(w["fog_distance"]), 0.0),
            fog_color.astype(f32),
            alt < -2,
        )


def sky(d: np.ndarray, light: Light) -> np.ndarray:
    """(M, 3) sky colour seen along unit directions d (M, 3)."""
    up = np.clip(d[:, 2], 0, 1)[:, None]
    day = light.daylight
    warm = np.clip(1 - light.sun[2] / 0.4, 0, 1) * day
    zenith = np.array([0.22, 0.42, 0.8]) * day + np.array([0.01, 0.015, 0.04]) * (1 - day)
    horizon = np.array([0.72, 0.8, 0.92]) * (1 - warm) + np.array([0.95, 0.62, 0.38]) * warm
    horizon = horizon * day + np.array([0.03, 0.035, 0.06]) * (1 - day)
    col = horizon + (zenith - horizon) * np.sqrt(up)
    grey = np.array([0.62, 0.64, 0.67]) * (0.15 + 0.85 * day) * (1 - 0.35 * light.rain)
    col = col * (1 - 0.85 * light.cloud) + grey * 0.85 * light.cloud
    # clouds: noise on a plane 1 km up
    with np.errstate(divide="ignore", invalid="ignore"):
        pu = d[:, 0] / np.maximum(d[:, 2], 0.03) * 3
        pv = d[:, 1] / np.maximum(d[:, 2], 0.03) * 3
    n = (
        0.6 * value_noise(pu, pv)
        + 0.3 * value_noise(pu * 2.7, pv * 2.7)
        + 0.1 * value_noise(pu * 7, pv * 7)
    )
    cover = np.clip((n - (0.75 - 0.6 * light.cloud)) * 4, 0, 1)[:, None] * np.clip(up * 6, 0, 1)
    cloud_col = np.array([0.92, 0.92, 0.95]) * (0.1 + 0.9 * day) * (1 - 0.4 * light.cloud)
    col = col * (1 - cover * 0.9) + cloud_col * cover * 0.9
    # the sun disc and its glow
    if not light.night:
        cs = np.clip(d @ light.sun, 0, 1)[:, None]
        vis = (1 - light.cloud) * day
        col = col + light.sun_color / 0.95 * vis * (0.25 * cs**64 + 3.0 * (cs > 0.9995))
    if light.night:  # a few stars
        star = (_hash(np.floor(pu * 40), np.floor(pv * 40)) > 0.997) & (light.cloud < 0.5)
        col = col + star[:, None] * 0.5 * (d[:, 2:3] > 0.1)
    return col.astype(np.float32)


def apply_fog(rgb: np.ndarray, dist: np.ndarray, light: Light) -> np.ndarray:
    f = 1 - np.exp(-light.fog_k * np.maximum(dist - light.fog_start, 0))
    return rgb * (1 - f[:, None]) + light.fog_color * f[:, None]


def rain_streaks(rgb: np.ndarray, amount: float, seed: int) -> np.ndarray:
    """Overlay motion-blurred raindrops (RGB only: CARLA's label cameras do not see rain)."""
    import cv2

    if amount <= 0.01:
        return rgb
    h, w = rgb.shape[:2]
    rng = np.random.default_rng(seed)
    n = int(amount * w * h / 600)
    overlay = np.zeros((h, w), np.float32)
    xs, ys = rng.uniform(0, w, n), rng.uniform(0, h, n)
    length = rng.uniform(0.03, 0.09, n) * h
    slant = rng.normal(0.15, 0.05)
    for x, y, ln in zip(xs.astype(int), ys.astype(int), length, strict=True):
        cv2.line(overlay, (x, y), (int(x + slant * ln), int(y + ln)), 1.0, 1)
    a = (overlay * 0.22)[..., None]
    return rgb * (1 - a) + 0.8 * a
