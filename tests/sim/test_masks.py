"""Anomaly masks: projected footprints (checked by hand and against the loopback renderer) and
the agreement of instance id, footprint and semantic tag."""

import numpy as np
import pytest

from sim import masks
from sim.placement import Pose
from sim.server import props
from sim.server.render.camera import PerspectiveCamera
from sim.server.render.renderer import render_views
from sim.server.town import make_town
from sim.tags import Tag
from sim.weather import PRESETS

AHEAD = Pose(0.0, 0.0, 0.0, 0.0, 0.0)  # at the origin, looking along +x


def test_footprint_of_a_box_ahead_by_hand():
    # a 2 m cube centred 10 m ahead: its near face (depth 9) spans 50 +- 50/9 pixels
    # (f = 50 for 100 px at 90 degrees); pixel centres i + 0.5 inside [44.44, 55.56]: i = 44..55
    corners = masks.box_corners((10.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.0)
    mask = masks.footprint(corners, AHEAD, 90.0, 100, 100, pad=0)
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (44, 55, 44, 55)
    assert mask.sum() == 12 * 12
    padded = masks.footprint(corners, AHEAD, 90.0, 100, 100, pad=2)
    assert padded.sum() == 16 * 16


def test_a_box_reaching_behind_the_camera_is_not_projected():
    corners = masks.box_corners((0.5, 0.0, 0.0), (1.0, 1.0, 1.0), 0.0)
    assert masks.footprint(corners, AHEAD, 90.0, 8, 6).all()


def test_box_corners_turn_with_yaw():
    c = masks.box_corners((5.0, 0.0, 0.0), (2.0, 0.5, 1.0), 90.0, (0.0, 0.0, 1.0))
    np.testing.assert_allclose(c.min(0), [4.5, -2.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(c.max(0), [5.5, 2.0, 2.0], atol=1e-12)


def test_pixels_must_agree_on_id_footprint_and_tag():
    corners = masks.box_corners((10.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.0)
    inst = np.zeros((100, 100), np.uint16)
    tags = np.full((100, 100), Tag.ROADS, np.uint8)
    inst[45:55, 45:55] = 7  # the prop: inside its footprint, tagged Static
    tags[45:55, 45:55] = Tag.STATIC
    tags[45, 45] = Tag.BUILDINGS  # one pixel with the prop's id but another object's tag
    inst[5:8, 5:9] = 7  # an engine id equal to the prop's code, far from the prop
    inst[60:62, 45:55] = 7 + 65536 * 0  # (same code) just outside the padded footprint
    view = masks.PropView(7, corners, (Tag.STATIC,))
    anomaly, stats = masks.prop_masks(inst, tags, [view], AHEAD, 90.0)
    assert stats == {7: (99, 12 + 20 + 1)}
    assert anomaly.sum() == 99 and not anomaly[5:8, 5:9].any() and not anomaly[45, 45]
    # tags not reported by the server: only id and footprint must agree
    _, stats = masks.prop_masks(inst, tags, [masks.PropView(7, corners, ())], AHEAD, 90.0)
    assert stats == {7: (100, 32)}
    # a wrapped actor id shows the same 16-bit code
    _, stats = masks.prop_masks(inst, tags, [masks.PropView(7 + 65536, corners, ())], AHEAD, 90.0)
    assert stats[7 + 65536] == (100, 32)


@pytest.mark.parametrize("blueprint", ["static.prop.dumbbell_l", "static.prop.sofa_m"])
def test_the_loopback_renderer_draws_a_prop_inside_its_footprint(blueprint):
    town = make_town("Town05")
    sp = town.spawn_points[len(town.spawn_points) // 3]
    h = np.radians(sp.yaw)
    spec = props.library()[blueprint]
    x, y, yaw = sp.x + 9 * np.cos(h), sp.y + 9 * np.sin(h), 33.0
    prims = props.build(spec, 77, x, y, 0.0, yaw)
    pose = Pose(sp.x, sp.y, 1.8, -3.0, sp.yaw)
    cam = PerspectiveCamera.from_pose(sp.x, sp.y, 1.8, -3.0, sp.yaw, 0.0, 160, 90, 90)
    r = render_views(town, prims, cam, PRESETS["ClearNoon"], seed=1)
    ex = spec.extent  # the box the loopback server reports as the actor's bounding box
    corners = masks.box_corners((x, y, 0.0), ex, yaw, (0.0, 0.0, ex[2]))
    drawn = r.inst == 77
    assert drawn.sum() > 50
    assert not (drawn & ~masks.footprint(corners, pose, 90.0, 160, 90, pad=1)).any()
    tight = masks.footprint(corners, pose, 90.0, 160, 90, pad=0)
    assert drawn.sum() > 0.3 * tight.sum()  # the box is not absurdly loose either
