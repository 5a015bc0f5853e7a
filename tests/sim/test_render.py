"""The renderer: one pass, three consistent outputs; weather changes only the RGB."""

import numpy as np

from sim.server import props
from sim.server.render.camera import PerspectiveCamera
from sim.server.render.primitives import SceneBuilder
from sim.server.render.renderer import render_views
from sim.server.town import FIRST_STATIC_ID, make_town
from sim.tags import Tag
from sim.weather import PRESETS


def _setup():
    town = make_town("Town05")
    sp = town.spawn_points[len(town.spawn_points) // 3]
    h = np.radians(sp.yaw)
    spec = props.library()["static.prop.giantball_l"]
    prop = props.build(spec, 77, sp.x + 9 * np.cos(h), sp.y + 9 * np.sin(h), 0.0, 0.0)
    cam = PerspectiveCamera.from_pose(sp.x, sp.y, 1.8, -3.0, sp.yaw, 0.0, 160, 90, 90)
    return town, prop, cam


def test_three_outputs_agree():
    town, prop, cam = _setup()
    r = render_views(town, prop, cam, PRESETS["ClearNoon"], seed=1)
    assert r.rgb.shape == (90, 160, 3) and r.tag.shape == r.inst.shape == (90, 160)
    mask = r.inst == 77
    assert mask.sum() > 50  # the prop straight ahead is seen
    assert (r.tag[mask] == Tag.STATIC).all()
    assert r.tag[0, 80] == Tag.SKY and r.inst[0, 80] == 0
    assert r.tag[-1, 80] in (Tag.ROADS, Tag.ROAD_LINES)
    objects = (r.inst != 0) & ~mask
    assert (r.inst[objects] >= FIRST_STATIC_ID).all()  # town objects never look like actors
    assert (
        len(
            set(np.unique(r.tag))
            & {
                Tag.BUILDINGS,
                Tag.VEGETATION,
                Tag.POLES,
                Tag.CAR,
                Tag.TRUCK,
                Tag.SIDEWALKS,
                Tag.WALLS,
            }
        )
        >= 3
    )


def test_weather_changes_rgb_not_labels():
    town, prop, cam = _setup()
    noon = render_views(town, prop, cam, PRESETS["ClearNoon"], seed=1)
    for name in ("HardRainNight", "ClearSunset", "DustStorm"):
        other = render_views(town, prop, cam, PRESETS[name], seed=1)
        assert (other.tag == noon.tag).all() and (other.inst == noon.inst).all()
        assert np.abs(other.rgb.astype(int) - noon.rgb).mean() > 10
    night = render_views(town, prop, cam, PRESETS["ClearNight"], seed=1)
    assert night.rgb.mean() < noon.rgb.mean() * 0.6


def test_empty_dynamic_scene_renders():
    town, _, cam = _setup()
    r = render_views(town, SceneBuilder().build(), cam, PRESETS["CloudyNoon"])
    assert (r.inst != 77).all()
