"""Render-time benchmark of the loopback server: one pose, three camera outputs per frame.

    python -m sim.bench_render [--frames 6] [--sizes 1280x720,400x225,320x180]

Times `render_views` (the geometry pass plus RGB, tag and instance outputs) and the BGRA
encoding of the three camera images, over poses and weathers drawn as the generator draws them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sim.server import protocol
from sim.server.render.camera import PerspectiveCamera
from sim.server.render.primitives import SceneBuilder
from sim.server.render.renderer import render_views
from sim.server.town import make_town
from sim.server.views import camera_bgra
from sim.weather import sample_weather


def bench(width: int, height: int, frames: int, town: str = "Town05"):
    """(wall seconds, CPU seconds) per frame."""
    t = make_town(town)
    rng = np.random.default_rng(0)
    empty = SceneBuilder().build()
    times, cpu = [], []
    for i in range(frames):
        sp = t.spawn_points[int(rng.integers(len(t.spawn_points)))]
        cam = PerspectiveCamera.from_pose(sp.x, sp.y, 1.8, -3.0, sp.yaw, 0.0, width, height, 90)
        _, weather = sample_weather(rng)
        start, start_cpu = time.perf_counter(), time.process_time()
        r = render_views(t, empty, cam, weather, seed=i)
        for sensor in (protocol.SENSOR_RGB, protocol.SENSOR_SEMANTIC, protocol.SENSOR_INSTANCE):
            camera_bgra(sensor, r).tobytes()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return times, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--sizes", default="1280x720,400x225,320x180")
    a = p.parse_args()
    for size in a.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        bench(w, h, 1)  # warm-up (town generation, imports)
        wall, cpu = (np.array(v) for v in bench(w, h, a.frames))
        print(
            f"{w}x{h}: three cameras per frame: wall mean {wall.mean():.3f} s (median "
            f"{np.median(wall):.3f}, max {wall.max():.3f}); CPU mean {cpu.mean():.3f} s "
            f"({a.frames} frames)"
        )


if __name__ == "__main__":
    main()
