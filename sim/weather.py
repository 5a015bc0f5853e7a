"""Weather and time of day: CARLA presets and random draws (pure, seeded).

A weather is a dict of the 14 carla.WeatherParameters fields. `sample_weather(rng)` draws a
named preset (with a random sun azimuth) or a random sky: sun altitude and azimuth, clouds,
rain with wet roads and puddles, fog, occasional dust, and night (negative sun altitude).
"""

from __future__ import annotations

import numpy as np

FIELDS = (
    "cloudiness",
    "precipitation",
    "precipitation_deposits",
    "wind_intensity",
    "sun_azimuth_angle",
    "sun_altitude_angle",
    "fog_density",
    "fog_distance",
    "fog_falloff",
    "wetness",
    "scattering_intensity",
    "mie_scattering_scale",
    "rayleigh_scattering_scale",
    "dust_storm",
)


def _w(cloud, rain, deposits, wind, alt, fog=0.0, fog_dist=0.0, wet=0.0, dust=0.0, az=45.0):
    return {
        "cloudiness": cloud,
        "precipitation": rain,
        "precipitation_deposits": deposits,
        "wind_intensity": wind,
        "sun_azimuth_angle": az,
        "sun_altitude_angle": alt,
        "fog_density": fog,
        "fog_distance": fog_dist,
        "fog_falloff": 0.2,
        "wetness": wet,
        "scattering_intensity": 1.0,
        "mie_scattering_scale": 0.03,
        "rayleigh_scattering_scale": 0.0331,
        "dust_storm": dust,
    }


# Close to CARLA 0.9.16's presets of the same names.
PRESETS: dict[str, dict[str, float]] = {
    "ClearNoon": _w(5, 0, 0, 10, 45),
    "CloudyNoon": _w(60, 0, 0, 10, 45, fog=3, fog_dist=0.75),
    "WetNoon": _w(5, 0, 50, 10, 45, wet=50),
    "WetCloudyNoon": _w(60, 0, 50, 10, 45, wet=50),
    "SoftRainNoon": _w(20, 30, 50, 30, 45, fog=3, wet=50),
    "MidRainyNoon": _w(60, 60, 60, 60, 45, fog=3, wet=60),
    "HardRainNoon": _w(100, 100, 90, 100, 45, fog=7, fog_dist=0.75, wet=100),
    "ClearSunset": _w(5, 0, 0, 10, 15),
    "CloudySunset": _w(60, 0, 0, 10, 15, fog=3),
    "WetSunset": _w(5, 0, 50, 10, 15, wet=50),
    "HardRainSunset": _w(100, 100, 90, 100, 15, fog=7, wet=100),
    "ClearNight": _w(5, 0, 0, 10, -90, fog=60, fog_dist=75),
    "CloudyNight": _w(60, 0, 0, 10, -90, fog=60, fog_dist=0.75),
    "WetNight": _w(5, 0, 50, 10, -90, fog=60, fog_dist=75, wet=60),
    "HardRainNight": _w(100, 100, 90, 100, -90, fog=100, fog_dist=0.75, wet=100),
    "DustStorm": _w(100, 0, 0, 100, 45, dust=100),
}


def validate(w: dict[str, float]) -> dict[str, float]:
    missing = [f for f in FIELDS if f not in w]
    if missing:
        raise ValueError(f"weather lacks {missing}")
    return {f: float(w[f]) for f in FIELDS}


def sample_weather(
    rng: np.random.Generator, preset_prob: float = 0.35, night_prob: float = 0.15
) -> tuple[str, dict[str, float]]:
    """(name, weather): a preset with a random sun azimuth, or a random sky ("Random")."""
    az = float(rng.uniform(0, 360))
    if rng.random() < preset_prob:
        names = sorted(PRESETS)
        name = names[int(rng.integers(len(names)))]
        return name, {**PRESETS[name], "sun_azimuth_angle": az}
    night = rng.random() < night_prob
    alt = float(rng.uniform(-60, -8)) if night else float(rng.uniform(5, 85))
    cloud = float(np.clip(rng.beta(0.8, 1.2) * 100, 0, 100))
    rain = float(rng.uniform(10, 100)) if rng.random() < 0.25 else 0.0
    wet = float(max(rain, rng.uniform(0, 60) if rng.random() < 0.2 else 0.0))
    deposits = float(rain * rng.uniform(0.3, 1.0)) if rain else 0.0
    fog = float(rng.uniform(5, 60)) if rng.random() < 0.2 else 0.0
    fog_dist = float(rng.uniform(0, 30)) if fog else 0.0
    dust = float(rng.uniform(10, 60)) if rng.random() < 0.04 else 0.0
    w = _w(
        max(cloud, rain),
        rain,
        deposits,
        float(rng.uniform(0, 100)),
        alt,
        fog,
        fog_dist,
        wet,
        dust,
        az,
    )
    return ("RandomNight" if night else "Random"), w
