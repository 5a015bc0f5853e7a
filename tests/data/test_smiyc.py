"""SegmentMeIfYouCan AnomalyTrack / ObstacleTrack loaders: splits, labels, void, ROI, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segood.data import SmiycAnomalyTrack, SmiycObstacleTrack, build_dataset
from segood.errors import SegoodError
from tests.data import trees


@pytest.fixture
def anomaly_root(tmp_path):
    root = tmp_path / "dataset_AnomalyTrack"
    return root, trees.smiyc_anomaly(root)


@pytest.fixture
def obstacle_root(tmp_path):
    root = tmp_path / "dataset_ObstacleTrack"
    return root, trees.smiyc_obstacle(root)


def names(ds):
    return [p.name for p in ds.pairs]


def test_anomaly_track_splits(anomaly_root):
    root, _ = anomaly_root
    assert names(SmiycAnomalyTrack(root, "validation")) == [
        "validation0000", "validation0001", "validation0002",
    ]  # fmt: skip
    assert names(SmiycAnomalyTrack(root, "val")) == names(SmiycAnomalyTrack(root, "validation"))
    test = SmiycAnomalyTrack(root, "test")
    assert names(test) == ["boat_trailer0001", "cones0003", "zebra0000"]
    assert len(SmiycAnomalyTrack(root, "all")) == 6
    assert SmiycAnomalyTrack(root, "validation").has_labels
    assert not test.has_labels and not SmiycAnomalyTrack(root, "all").has_labels
    assert isinstance(build_dataset("smiyc-anomaly", root, "test"), SmiycAnomalyTrack)


def test_anomaly_track_labels_and_void(anomaly_root):
    root, raws = anomaly_root
    ds = SmiycAnomalyTrack(root, "validation")
    item = ds[1]
    raw = raws["validation0001"]
    assert item["image"].shape == (*trees.SIZE, 3) and item["image"].dtype == np.uint8
    assert item["label_path"].endswith("labels_masks/validation0001_labels_semantic.png")
    assert item["image_path"].endswith("images/validation0001.jpg")
    label = item["label"]
    assert label.dtype == np.int64
    np.testing.assert_array_equal(label == 0, raw == 0)
    np.testing.assert_array_equal(label == 1, raw == 1)
    void = (raw != 0) & (raw != 1)  # 255 and the unnamed value 7
    assert void.any() and (raw == 7).any()
    np.testing.assert_array_equal(ds.ignore_mask(label), void)
    np.testing.assert_array_equal(ds.is_anomaly(label), raw == 1)
    assert ds.is_anomaly(torch.from_numpy(label)).numpy().tolist() == (raw == 1).tolist()
    other = SmiycAnomalyTrack(root, "validation", ignore_index=-1)[1]["label"]
    np.testing.assert_array_equal(other == -1, void)


def test_unlabeled_test_split(anomaly_root):
    from segood.data import build_transform

    root, _ = anomaly_root
    ds = SmiycAnomalyTrack(root, "test", transform=build_transform("eval"))
    item = ds[0]
    assert item["label"] is None and item["label_path"] is None
    assert tuple(item["image"].shape) == (3, *trees.SIZE)
    assert "no labels" in repr(ds)
    for ask in (ds.is_anomaly, ds.ignore_mask):
        with pytest.raises(SegoodError, match=r"split 'test' is published without labels") as err:
            ask(np.asarray(item["label"]))
        assert "'validation'" in str(err.value) and "leaderboard" in str(err.value)


def test_test_split_needs_no_label_folder(anomaly_root):
    root, _ = anomaly_root
    for path in (root / "labels_masks").iterdir():
        path.unlink()
    (root / "labels_masks").rmdir()
    assert len(SmiycAnomalyTrack(root, "test")) == 3
    with pytest.raises(SegoodError, match="labels_masks not found") as err:
        SmiycAnomalyTrack(root, "validation")
    assert "Expected layout:" in str(err.value)


def test_obstacle_track_splits(obstacle_root):
    root, _ = obstacle_root
    # validation_19 and validation_25 are left out as the official split leaves them out
    assert names(SmiycObstacleTrack(root, "validation")) == [
        "validation_1", "validation_2", "validation_20",
    ]  # fmt: skip
    assert names(SmiycObstacleTrack(root, "test")) == [
        "curvy-street_0001", "darkasphalt2_dog_1", "one-way-street_x",
    ]  # fmt: skip
    assert names(SmiycObstacleTrack(root, "night")) == ["driveway_night_1"]
    snow = SmiycObstacleTrack(root, "snowstorm")
    assert names(snow) == ["snowstorm1_00_16_02.578", "snowstorm2_00_02_32.753"]
    assert snow[0]["image"].shape == (*trees.SIZE, 3)
    assert len(SmiycObstacleTrack(root, "all")) == len(trees.OBSTACLE_FRAMES)
    assert [SmiycObstacleTrack(root, s).has_labels for s in SmiycObstacleTrack.splits()] == [
        True, False, False, False, False,
    ]  # fmt: skip


def test_obstacle_track_roi_is_the_labelled_road(obstacle_root):
    root, raws = obstacle_root
    ds = build_dataset("smiyc-obstacle", root, "validation")
    assert ds.CLASSES == ("road", "obstacle")
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        raw = raws[item["name"]]
        seen |= set(np.unique(raw).tolist())
        # official: label 0 road / 1 obstacle / 255 anything else; ROI = label < 255
        roi = (raw == 0) | (raw == 1)
        np.testing.assert_array_equal(ds.ignore_mask(item["label"]), ~roi)
        np.testing.assert_array_equal(ds.is_anomaly(item["label"]), raw == 1)
    assert seen == {0, 1, 7, 255}


# --- error paths -------------------------------------------------------------------------


def test_missing_root_and_parent_folder(tmp_path, anomaly_root):
    with pytest.raises(SegoodError, match="does not exist") as err:
        SmiycAnomalyTrack(tmp_path / "nowhere", "validation")
    assert "labels_masks/" in str(err.value)
    root, _ = anomaly_root
    with pytest.raises(SegoodError, match=r"pass .*dataset_AnomalyTrack, the folder") as err:
        SmiycAnomalyTrack(root.parent, "validation")
    assert "Expected layout:" in str(err.value)
    with pytest.raises(SegoodError, match="6 unexpected file") as err:
        SmiycObstacleTrack(root, "test")  # the other track's folder: no .webp frame
    assert "images/<scene>_<rest>.webp" in str(err.value)


def test_unknown_split(anomaly_root):
    with pytest.raises(SegoodError, match="unknown SegmentMeIfYouCan AnomalyTrack split 'train'"):
        SmiycAnomalyTrack(anomaly_root[0], "train")


def test_stray_files_are_reported(anomaly_root, obstacle_root):
    root, _ = anomaly_root
    (root / "images" / "notes.txt").write_text("x")
    with pytest.raises(SegoodError, match="unexpected file") as err:
        SmiycAnomalyTrack(root, "test")
    assert "notes.txt" in str(err.value)
    oroot, _ = obstacle_root
    trees.write_image(oroot / "images" / "moonbase_1.webp", np.zeros((*trees.SIZE, 3), np.uint8))
    with pytest.raises(SegoodError, match="unexpected file") as err:
        SmiycObstacleTrack(oroot, "test")  # a scene the benchmark does not have
    assert "moonbase_1.webp" in str(err.value)


def test_missing_label_and_orphan_label(anomaly_root):
    root, _ = anomaly_root
    (root / "labels_masks" / "validation0002_labels_semantic.png").unlink()
    trees.write_label(root / "labels_masks" / "validation0042_labels_semantic.png",
                      np.zeros(trees.SIZE, np.uint8))  # fmt: skip
    with pytest.raises(SegoodError, match="inconsistent") as err:
        SmiycAnomalyTrack(root, "validation")
    message = str(err.value)
    assert "image without label" in message and "validation0002.jpg" in message
    assert "label without image" in message and "validation0042_labels_semantic.png" in message
    assert len(SmiycAnomalyTrack(root, "test")) == 3  # labels are not read for the test split


def test_empty_split(tmp_path):
    root = tmp_path / "dataset_ObstacleTrack"
    (root / "images").mkdir(parents=True)
    (root / "labels_masks").mkdir()
    with pytest.raises(SegoodError, match=r"'validation' .* has no images"):
        SmiycObstacleTrack(root, "validation")


def test_colour_rendering_as_label_is_refused(anomaly_root):
    root, _ = anomaly_root
    victim = root / "labels_masks" / "validation0000_labels_semantic.png"
    trees.write_image(victim, np.zeros((*trees.SIZE, 3), np.uint8))
    with pytest.raises(SegoodError, match="not a single-channel") as err:
        SmiycAnomalyTrack(root, "validation")[0]
    assert str(victim) in str(err.value)


def test_size_mismatch(anomaly_root):
    root, _ = anomaly_root
    trees.write_label(root / "labels_masks" / "validation0000_labels_semantic.png",
                      np.zeros((3, 3), np.uint8))  # fmt: skip
    with pytest.raises(SegoodError, match="must match"):
        SmiycAnomalyTrack(root, "validation")[0]
