"""Anomaly masks that two witnesses agree on: the instance id and the prop's own geometry.

The instance camera codes a pixel with the 16-bit id of the actor it shows, but a map object
that has no CARLA actor falls back to an engine id, which can equal a prop's code (and actor ids
wrap at 65,536). So a pixel is a prop's only when its instance code is the prop's *and* it lies
inside the projection of the prop's bounding box (dilated by `PAD` pixels for rasterisation)
*and*, when the server reports the prop's semantic tags, its semantic tag is one of them.
Pixels with the prop's code that fail either test are counted as disagreements (reported per
frame in the metadata) and keep their semantic class.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sim.labels import instance_code
from sim.placement import Pose, project

PAD = 2  # pixels


@dataclass(frozen=True)
class PropView:
    actor_id: int
    corners: np.ndarray  # (8, 3) world corners of its bounding box
    tags: tuple[int, ...]  # the actor's semantic tags (empty: not reported)

    @classmethod
    def of(cls, actor, location: tuple[float, float, float], yaw: float) -> PropView:
        """The view of a spawned carla actor standing at `location`, turned by `yaw` degrees."""
        bb = actor.bounding_box
        corners = box_corners(
            location,
            (bb.extent.x, bb.extent.y, bb.extent.z),
            yaw + bb.rotation.yaw,
            (bb.location.x, bb.location.y, bb.location.z),
        )
        return cls(actor.id, corners, tuple(actor.semantic_tags))


def footprint(corners, cam: Pose, fov: float, width: int, height: int, pad: int = PAD):
    """(H, W) bool: the convex hull of the box's projection, dilated by `pad` pixels.

    A box reaching behind the camera cannot be projected as a polygon; then every pixel counts
    as inside (the instance id and the tags still have to agree).
    """
    points = []
    for x, y, z in np.asarray(corners, np.float64):
        u, v, depth = project(cam, fov, width, height, x, y, z)
        if not depth > 0.05:
            return np.ones((height, width), bool)
        points.append((u, v))
    hull = cv2.convexHull(np.round(np.array(points) - 0.5).astype(np.int32))
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    if pad:
        mask = cv2.dilate(mask, np.ones((2 * pad + 1, 2 * pad + 1), np.uint8))
    return mask.astype(bool)


def prop_masks(inst, tags, views: list[PropView], cam: Pose, fov: float):
    """(anomaly mask (H, W) bool, {actor id: (agreed pixels, disagreeing pixels)})."""
    h, w = inst.shape
    anomaly = np.zeros((h, w), bool)
    stats = {}
    for view in views:
        coded = inst == instance_code(view.actor_id)
        agree = coded & footprint(view.corners, cam, fov, w, h)
        if view.tags:
            agree &= np.isin(tags, view.tags)
        anomaly |= agree
        stats[view.actor_id] = (int(agree.sum()), int((coded & ~agree).sum()))
    return anomaly, stats


def box_corners(location, extent, yaw: float, box_center=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(8, 3) world corners of an actor's local box (centre `box_center`, half `extent`) for an
    actor at `location` turned by `yaw` degrees (props stand upright)."""
    signs = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], np.float64)
    local = signs * np.asarray(extent, np.float64) + np.asarray(box_center, np.float64)
    c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return local @ rot.T + np.asarray(location, np.float64)
