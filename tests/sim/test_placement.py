import math

import numpy as np
import pytest

from sim.placement import Anchor, Pose, candidates, in_view, overlaps, place, project

CAM = Pose(0.0, 0.0, 1.8, 0.0, 0.0)
ANCHORS = [Anchor(float(d), 0.0, 0.0, 3.5) for d in range(7, 38, 2)]


def test_projection_matches_carla_axes():
    u, v, depth = project(CAM, 90, 200, 100, 10.0, 0.0, 1.8)
    assert (u, v, depth) == pytest.approx((100, 50, 10))
    u, _, _ = project(CAM, 90, 200, 100, 10.0, 5.0, 1.8)  # +y is to the right
    assert u > 100
    _, v, _ = project(CAM, 90, 200, 100, 10.0, 0.0, 0.0)  # below the camera: lower in the image
    assert v > 50
    assert not in_view(CAM, 90, 200, 100, -10.0, 0.0, 0.0)  # behind


def test_candidates_on_lane_or_beside_it():
    rng = np.random.default_rng(1)
    pts = candidates(rng, ANCHORS, 300)
    assert any(on for *_, on in pts) and any(not on for *_, on in pts)
    for x, y, _yaw, on_road in pts:
        assert 7 <= x <= 37
        if on_road:
            assert abs(y) <= 0.3 * 3.5 + 1e-9
        else:
            assert 3.5 / 2 + 0.8 - 1e-9 <= abs(y) <= 3.5 / 2 + 4.0 + 1e-9


def test_candidates_follow_the_lane_heading():
    rng = np.random.default_rng(2)
    anchors = [Anchor(0.0, float(d), 90.0, 3.5) for d in range(7, 30)]
    for x, y, _, on_road in candidates(rng, anchors, 100):
        if on_road:
            assert abs(x) <= 1.05 and 7 <= y <= 30


def test_place_in_view_without_overlap():
    rng = np.random.default_rng(3)
    spots = place(rng, ANCHORS, [0.9, 0.9, 1.5, 0.5], CAM, 90, 320, 180)
    found = [s for s in spots if s is not None]
    assert len(found) == 4
    for i, s in enumerate(found):
        assert in_view(CAM, 90, 320, 180, s.x, s.y, 0.3)
        assert not overlaps(s.x, s.y, s.radius, found[:i] + found[i + 1 :], gap=0.29)


def test_place_respects_already_placed_and_gives_up_cleanly():
    rng = np.random.default_rng(4)
    (s,) = place(rng, ANCHORS, [1.0], CAM, 90, 320, 180)
    again = place(rng, ANCHORS, [1.0], CAM, 90, 320, 180, placed=[s])[0]
    assert again is None or math.hypot(again.x - s.x, again.y - s.y) >= 2.3
    assert place(rng, [], [1.0], CAM, 90, 320, 180) == [None]
    behind = [Anchor(-float(d), 0.0, 180.0, 3.5) for d in range(7, 30)]
    assert place(rng, behind, [1.0], CAM, 90, 320, 180) == [None]
