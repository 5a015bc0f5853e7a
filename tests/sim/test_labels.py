import numpy as np
import pytest

from sim import labels
from sim.tags import NUM_TAGS, Tag


def test_every_carla_tag_has_a_class():
    assert set(labels.TAG_TO_CLASS) == set(Tag)
    assert len(Tag) == NUM_TAGS
    assert all(0 <= c <= 12 for c in labels.TAG_TO_CLASS.values())  # 13 = anomaly only via ids


@pytest.mark.parametrize(
    ("tag", "cls"),
    [
        (Tag.GROUND, labels.ROAD),
        (Tag.BRIDGE, labels.BUILDING),
        (Tag.TERRAIN, labels.VEGETATION),
        (Tag.SKY, labels.UNLABELED),
        (Tag.UNLABELED, labels.UNLABELED),
        (Tag.ROADS, labels.ROAD),
        (Tag.ROAD_LINES, labels.ROAD_LINE),
        (Tag.SIDEWALKS, labels.SIDEWALK),
        (Tag.TRAFFIC_LIGHT, labels.TRAFFIC_SIGN),
        (Tag.TRAFFIC_SIGNS, labels.TRAFFIC_SIGN),
        (Tag.GUARD_RAIL, labels.FENCE),
        (Tag.TRUCK, labels.CAR),
        (Tag.BICYCLE, labels.CAR),
        (Tag.RIDER, labels.PEDESTRIAN),
        (Tag.STATIC, labels.OTHER),
        (Tag.WATER, labels.OTHER),
        (Tag.WALLS, labels.WALL),
        (Tag.POLES, labels.POLE),
    ],
)
def test_pinned_judgement_calls(tag, cls):
    assert labels.LUT[int(tag)] == cls


def test_unknown_future_tags_are_unlabeled():
    assert labels.LUT[200] == labels.UNLABELED


def test_class_names_match_streethazards_reader():
    from segood.data import StreetHazards

    assert labels.CLASS_NAMES == StreetHazards.CLASSES


def test_anomaly_mask_overrides_the_tag_class():
    tags = np.array([[Tag.ROADS, Tag.STATIC], [Tag.STATIC, Tag.SKY]], np.uint8)
    anomaly = np.array([[False, True], [True, False]])
    cls = labels.to_classes(tags, anomaly)
    assert cls.tolist() == [[labels.ROAD, labels.ANOMALY], [labels.ANOMALY, labels.UNLABELED]]
    assert labels.to_classes(tags).tolist() == [[7, 3], [3, 0]]
    assert labels.instance_code(70000) == 70000 - 65536  # 16 bits: ids wrap


def test_annotation_values_are_class_plus_one():
    ann = labels.to_annotation(np.arange(14, dtype=np.uint8))
    assert ann.dtype == np.uint8 and ann.min() == 1 and ann.max() == 14


def test_decode_camera_images():
    bgra = np.zeros((1, 2, 4), np.uint8)
    bgra[0, 0] = (0x12, 0x34, Tag.CAR, 255)  # B, G, R, A
    assert labels.decode_semantic(bgra)[0, 0] == Tag.CAR
    assert labels.decode_instance(bgra)[0, 0] == 0x1234
