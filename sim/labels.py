"""CARLA tags -> StreetHazards classes: the one lookup table, and decoding of camera images.

StreetHazards (CAOS) uses the tag set of CARLA 0.9.0-0.9.5: 0 unlabeled, 1 building, 2 fence,
3 other, 4 pedestrian, 5 pole, 6 road line, 7 road, 8 sidewalk, 9 vegetation, 10 car, 11 wall,
12 traffic sign, plus 13 anomaly. CARLA 0.9.14+ has 29 tags; `TAG_TO_CLASS` folds them back.
Judgement calls (pinned by tests): Sky -> unlabeled (old CARLA tagged the sky 0), Terrain ->
vegetation, Ground -> road, Bridge -> building, GuardRail -> fence, TrafficLight -> traffic
sign, Static/Dynamic/Other/Water/RailTrack -> other. Annotation files store class id + 1.
Which pixels are anomalies is decided by sim.masks (instance id and footprint must agree).
"""

from __future__ import annotations

import numpy as np

from sim.tags import Tag

UNLABELED, BUILDING, FENCE, OTHER, PEDESTRIAN, POLE, ROAD_LINE, ROAD = 0, 1, 2, 3, 4, 5, 6, 7
SIDEWALK, VEGETATION, CAR, WALL, TRAFFIC_SIGN, ANOMALY = 8, 9, 10, 11, 12, 13
CLASS_NAMES = (
    "unlabeled",
    "building",
    "fence",
    "other",
    "pedestrian",
    "pole",
    "road line",
    "road",
    "sidewalk",
    "vegetation",
    "car",
    "wall",
    "traffic sign",
    "anomaly",
)

TAG_TO_CLASS: dict[Tag, int] = {
    Tag.UNLABELED: UNLABELED,
    Tag.SKY: UNLABELED,
    Tag.ROADS: ROAD,
    Tag.GROUND: ROAD,
    Tag.ROAD_LINES: ROAD_LINE,
    Tag.SIDEWALKS: SIDEWALK,
    Tag.BUILDINGS: BUILDING,
    Tag.BRIDGE: BUILDING,
    Tag.WALLS: WALL,
    Tag.FENCES: FENCE,
    Tag.GUARD_RAIL: FENCE,
    Tag.POLES: POLE,
    Tag.TRAFFIC_LIGHT: TRAFFIC_SIGN,
    Tag.TRAFFIC_SIGNS: TRAFFIC_SIGN,
    Tag.VEGETATION: VEGETATION,
    Tag.TERRAIN: VEGETATION,
    Tag.PEDESTRIANS: PEDESTRIAN,
    Tag.RIDER: PEDESTRIAN,
    Tag.CAR: CAR,
    Tag.TRUCK: CAR,
    Tag.BUS: CAR,
    Tag.TRAIN: CAR,
    Tag.MOTORCYCLE: CAR,
    Tag.BICYCLE: CAR,
    Tag.STATIC: OTHER,
    Tag.DYNAMIC: OTHER,
    Tag.OTHER: OTHER,
    Tag.WATER: OTHER,
    Tag.RAIL_TRACK: OTHER,
}

LUT = np.zeros(256, np.uint8)  # tags CARLA may add later read as unlabeled
for _tag, _cls in TAG_TO_CLASS.items():
    LUT[int(_tag)] = _cls


def decode_semantic(bgra: np.ndarray) -> np.ndarray:
    """(H, W) CARLA tags from a semantic camera's BGRA image (the tag is the red channel)."""
    return bgra[..., 2]


def decode_instance(bgra: np.ndarray) -> np.ndarray:
    """(H, W) 16-bit instance ids from an instance camera's BGRA image: G | B << 8."""
    return bgra[..., 1].astype(np.uint16) | (bgra[..., 0].astype(np.uint16) << 8)


def instance_code(actor_id: int) -> int:
    """The value an actor id takes in the instance image (16 bits, it wraps)."""
    return int(actor_id) & 0xFFFF


def to_classes(tags: np.ndarray, anomaly: np.ndarray | None = None) -> np.ndarray:
    """(H, W) StreetHazards class ids: the table, then ANOMALY where `anomaly` is set (the
    pixels sim.masks attributes to an inserted prop)."""
    classes = LUT[tags]
    if anomaly is not None:
        classes = np.where(anomaly, np.uint8(ANOMALY), classes)
    return classes


def to_annotation(classes: np.ndarray) -> np.ndarray:
    """Raw annotation values (class id + 1, 1..14) as StreetHazards stores them."""
    return (classes.astype(np.uint8) + 1).astype(np.uint8)
