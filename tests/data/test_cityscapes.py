"""Cityscapes loader: train ids from the official label table, splits, test without labels."""

from __future__ import annotations

import re

import numpy as np
import pytest

from segood.data import Cityscapes, build_dataset
from segood.errors import SegoodError
from tests.data import trees

# Cityscapes label id -> train id, transcribed from the dataset's published table
# (cityscapesScripts helpers/labels.py); every id not listed has train id 255 (ignored).
TRAIN_IDS = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
             24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # fmt: skip


def test_classes_from_the_official_table():
    assert Cityscapes.num_classes == 19 and len(Cityscapes.PALETTE) == 19
    assert Cityscapes.CLASSES[0] == "road" and Cityscapes.CLASSES[18] == "bicycle"
    assert Cityscapes.CLASSES[11] == "person" and Cityscapes.PALETTE[0] == (128, 64, 128)
    assert Cityscapes.anomaly_ids == () and Cityscapes.max_raw_value() == 33


def test_items_map_label_ids_to_train_ids(tmp_path):
    raws = trees.cityscapes(tmp_path)
    ds = build_dataset("cityscapes", tmp_path, "train")
    assert [p.name for p in ds.pairs] == [
        "aachen/aachen_000000_000019", "bochum/bochum_000000_000313",
    ]  # fmt: skip
    for i in range(len(ds)):
        item = ds[i]
        raw = raws[item["name"].split("/")[1]]
        expected = np.full(raw.shape, 255, np.int64)
        for label_id, train_id in TRAIN_IDS.items():
            expected[raw == label_id] = train_id
        np.testing.assert_array_equal(item["label"], expected)
        assert not ds.is_anomaly(item["label"]).any()
    assert len(Cityscapes(tmp_path, "validation")) == 1


def test_test_split_has_no_labels(tmp_path):
    trees.cityscapes(tmp_path)
    ds = Cityscapes(tmp_path, "test")
    assert not ds.has_labels and ds[0]["label"] is None
    with pytest.raises(SegoodError, match="Cityscapes split 'test' is published without labels"):
        ds.is_anomaly(np.zeros(trees.SIZE, np.int64))


def test_errors(tmp_path):
    with pytest.raises(SegoodError, match="does not exist"):
        Cityscapes(tmp_path / "nowhere", "train")
    trees.cityscapes(tmp_path)
    with pytest.raises(SegoodError, match="holds leftImg8bit/ and gtFine/"):
        Cityscapes(tmp_path / "gtFine", "val")
    victim = tmp_path / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"
    trees.write_label(victim, np.full(trees.SIZE, 34, np.uint8))
    message = "raw label value 34; Cityscapes labels hold Cityscapes label ids 0..33"
    with pytest.raises(SegoodError, match=re.escape(message)) as err:
        Cityscapes(tmp_path, "val")[0]
    assert str(victim) in str(err.value)
    (tmp_path / "gtFine/val/frankfurt/stray.txt").write_text("x")
    with pytest.raises(SegoodError, match="unexpected file"):
        Cityscapes(tmp_path, "val")
    with pytest.raises(SegoodError, match="ignore_index=0 is a Cityscapes class id"):
        Cityscapes(tmp_path, "train", ignore_index=0)
