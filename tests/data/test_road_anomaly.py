"""Road Anomaly loader: frame_list.json, both archive variants, labels, errors."""

from __future__ import annotations

import numpy as np
import pytest

from segood.data import RoadAnomaly, build_dataset
from segood.errors import SegoodError
from tests.data import trees


@pytest.mark.parametrize("suffix", [".jpg", ".webp"])  # RoadAnomaly_jpg.zip, RoadAnomaly.zip
def test_frames_from_frame_list(tmp_path, suffix):
    raws = trees.road_anomaly(tmp_path, suffix=suffix)
    ds = build_dataset("road-anomaly", tmp_path, "test")
    assert isinstance(ds, RoadAnomaly)
    assert [p.name for p in ds.pairs] == list(trees.ROAD_ANOMALY_FRAMES)  # the list's order
    for i in range(len(ds)):
        item = ds[i]
        raw = raws[item["name"]]
        assert item["image_path"].endswith(f"frames/{item['name']}{suffix}")
        assert item["label_path"].endswith(f"frames/{item['name']}.labels/labels_semantic.png")
        np.testing.assert_array_equal(ds.is_anomaly(item["label"]), raw == 2)
        assert not ds.ignore_mask(item["label"]).any()  # no void: every pixel is scored
        assert set(np.unique(raw).tolist()) == {0, 1, 2}


def test_unlisted_files_and_missing_parts(tmp_path):
    trees.road_anomaly(tmp_path)
    frames = tmp_path / "frames"
    trees.write_image(frames / "extra.jpg", np.zeros((*trees.SIZE, 3), np.uint8))
    with pytest.raises(SegoodError, match="unexpected file") as err:
        RoadAnomaly(tmp_path, "test")
    assert "extra.jpg" in str(err.value)
    (frames / "extra.jpg").unlink()
    first = trees.ROAD_ANOMALY_FRAMES[0]
    (frames / f"{first}.labels" / "labels_semantic.png").unlink()
    with pytest.raises(SegoodError, match="image without label") as err:
        RoadAnomaly(tmp_path, "test")
    assert f"{first}.jpg" in str(err.value)
    (frames / f"{first}.jpg").unlink()
    with pytest.raises(SegoodError, match=r"lists 1 frame.* with neither image nor label"):
        RoadAnomaly(tmp_path, "test")


def test_layout_errors(tmp_path):
    with pytest.raises(SegoodError, match="does not exist") as err:
        RoadAnomaly(tmp_path / "nowhere", "test")
    assert "frame_list.json" in str(err.value)
    trees.road_anomaly(tmp_path)
    (tmp_path / "frame_list.json").write_text("{not json")
    with pytest.raises(SegoodError, match=r"cannot read .*frame_list\.json"):
        RoadAnomaly(tmp_path, "test")
    (tmp_path / "frame_list.json").write_text('{"a": 1}')
    with pytest.raises(SegoodError, match="must be a JSON list of image file names"):
        RoadAnomaly(tmp_path, "test")
    (tmp_path / "frame_list.json").unlink()
    with pytest.raises(SegoodError, match=r"frame_list\.json not found") as err:
        RoadAnomaly(tmp_path, "test")
    assert "Expected layout:" in str(err.value)
    with pytest.raises(SegoodError, match="unknown Road Anomaly split 'validation'"):
        RoadAnomaly(tmp_path, "validation")
