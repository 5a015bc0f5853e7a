"""StreetHazards loader: decoding, splits, towns, names and every error path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segood.data import IGNORE_INDEX, StreetHazards, build_dataset
from segood.errors import SegoodError
from tests.conftest import write_gray, write_rgb

IMAGES = "test/images/test"
LABELS = "test/annotations/test"


def test_class_attributes():
    assert len(StreetHazards.CLASSES) == len(StreetHazards.PALETTE) == 14
    assert StreetHazards.CLASSES[13] == "anomaly" and StreetHazards.CLASSES[0] == "unlabeled"
    assert StreetHazards.PALETTE[13] == (60, 250, 240)
    assert StreetHazards.num_classes == 13
    assert StreetHazards.anomaly_ids == (13,)
    assert StreetHazards.background_id == 0


def test_splits_counts_and_names(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path, n_train=5, n_val=2, n_test=3)
    counts = {s: len(StreetHazards(root, s)) for s in ("train", "validation", "test")}
    assert counts == {"train": 5, "validation": 2, "test": 3}
    assert len(StreetHazards(root, "val")) == 2  # alias
    names = [p.name for p in StreetHazards(root, "train").pairs]
    assert names == ["t1/0", "t1/1", "t1/2", "t2/0", "t2/1"]
    assert len(set(names)) == len(names)


def test_towns_are_listed_not_hard_coded(tmp_path, make_streethazards):
    towns = {"test": ("harbour", "t9")}
    root = make_streethazards(tmp_path, n_test=4, towns=towns)
    ds = StreetHazards(root, "test")
    assert sorted({item.split("/")[0] for item in (p.name for p in ds.pairs)}) == ["harbour", "t9"]


def test_natural_order(tmp_path):
    for i in (10, 2, 1):
        write_rgb(tmp_path / IMAGES / "t5" / f"{i}.png", np.zeros((4, 6, 3), np.uint8))
        write_gray(tmp_path / LABELS / "t5" / f"{i}.png", np.ones((4, 6), np.uint8))
    assert [p.name for p in StreetHazards(tmp_path, "test").pairs] == ["t5/1", "t5/2", "t5/10"]


def test_item_decoding_rgb_shift_and_ignore(tmp_path):
    image = np.zeros((4, 6, 3), np.uint8)
    image[..., 0] = 200  # pure red in RGB
    raw = np.array([[0, 1, 7, 13, 14, 14]] * 4, np.uint8)
    write_rgb(tmp_path / IMAGES / "t5" / "300.png", image)
    write_gray(tmp_path / LABELS / "t5" / "300.png", raw)
    item = StreetHazards(tmp_path, "test")[0]
    assert item["image"].dtype == np.uint8 and item["image"].shape == (4, 6, 3)
    assert (item["image"][..., 0] == 200).all() and (item["image"][..., 1:] == 0).all()
    assert item["label"].dtype == np.int64
    assert item["label"][0].tolist() == [IGNORE_INDEX, 0, 6, 12, 13, 13]
    assert item["name"] == "t5/300"
    assert item["image_path"].endswith("test/images/test/t5/300.png")
    assert item["label_path"].endswith("test/annotations/test/t5/300.png")
    ds = StreetHazards(tmp_path, "test", ignore_index=-1)
    label = ds[0]["label"]
    assert label[0, 0] == -1
    assert ds.is_anomaly(label)[0].tolist() == [False] * 4 + [True] * 2


def test_anomaly_only_in_test(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path)
    for split in ("train", "validation"):
        ds = StreetHazards(root, split)
        assert not any(ds.is_anomaly(ds[i]["label"]).any() for i in range(len(ds)))
    ds = StreetHazards(root, "test")
    assert all(ds.is_anomaly(ds[i]["label"]).any() for i in range(len(ds)))
    assert all(ds[i]["label"].min() >= 0 and ds[i]["label"].max() <= 13 for i in range(len(ds)))


def test_transform_output(tmp_path, make_streethazards):
    from segood.data import build_transform

    root = make_streethazards(tmp_path, raw_zero=True)
    item = StreetHazards(root, "train", transform=build_transform("eval"))[0]
    assert tuple(item["image"].shape) == (3, 24, 40)
    assert str(item["label"].dtype) == "torch.int64"
    assert item["label"][0, 0].item() == IGNORE_INDEX


def test_build_dataset(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path)
    assert isinstance(build_dataset("streethazards", root, "test"), StreetHazards)
    with pytest.raises(SegoodError, match="unknown dataset 'mapillary'") as err:
        build_dataset("mapillary", root, "test")
    assert "smiyc-anomaly" in str(err.value) and "cityscapes" in str(err.value)


# --- error paths -------------------------------------------------------------------------


def test_unknown_split(tmp_path, make_streethazards):
    with pytest.raises(SegoodError, match="unknown StreetHazards split 'training'"):
        StreetHazards(make_streethazards(tmp_path), "training")


def test_ignore_index_must_not_be_a_class(tmp_path, make_streethazards):
    with pytest.raises(SegoodError, match="ignore_index=0"):
        StreetHazards(make_streethazards(tmp_path), "test", ignore_index=0)


def test_missing_root_shows_layout(tmp_path):
    with pytest.raises(SegoodError, match="does not exist") as err:
        StreetHazards(tmp_path / "nowhere", "train")
    assert "Expected layout:" in str(err.value)
    assert "annotations/test/<town>/*.png" in str(err.value)


def test_wrong_layout(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path)
    with pytest.raises(SegoodError, match="holds train/ and test/") as err:
        StreetHazards(root / "train", "train")  # one level too deep
    assert "Expected layout:" in str(err.value)


def test_files_outside_towns_are_not_dropped(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path)
    write_gray(root / LABELS / "loose.png", np.ones((2, 2), np.uint8))
    with pytest.raises(SegoodError, match="unexpected file") as err:
        StreetHazards(root, "test")
    assert "loose.png" in str(err.value)


@pytest.mark.parametrize("side", ["images", "annotations"])
def test_missing_counterpart(tmp_path, make_streethazards, side):
    root = make_streethazards(tmp_path)
    victim = root / f"test/{side}/test/t5/1.png"
    victim.unlink()
    other = "annotations" if side == "images" else "images"
    with pytest.raises(SegoodError, match="without") as err:
        StreetHazards(root, "test")
    assert str(root / f"test/{other}/test/t5/1.png") in str(err.value)
    assert "Expected layout:" in str(err.value)


def test_empty_split(tmp_path):
    (tmp_path / IMAGES).mkdir(parents=True)
    (tmp_path / LABELS).mkdir(parents=True)
    with pytest.raises(SegoodError, match=r"'test' .* has no images") as err:
        StreetHazards(tmp_path, "test")
    assert "Expected layout:" in str(err.value)


def test_corrupt_png_names_the_file(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path)
    victim = root / LABELS / "t5" / "0.png"
    victim.write_bytes(victim.read_bytes()[:20])
    ds = StreetHazards(root, "test")
    with pytest.raises(SegoodError, match="cannot decode") as err:
        ds[0]
    assert str(victim) in str(err.value)


def test_colour_label_is_refused(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path)
    write_rgb(root / LABELS / "t5" / "0.png", np.ones((24, 40, 3), np.uint8))
    with pytest.raises(SegoodError, match="not a single-channel"):
        StreetHazards(root, "test")[0]


def test_size_mismatch(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path)
    write_gray(root / LABELS / "t5" / "0.png", np.ones((10, 10), np.uint8))
    with pytest.raises(SegoodError, match="must match"):
        StreetHazards(root, "test")[0]


def test_label_value_out_of_range(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path)
    write_gray(root / LABELS / "t5" / "0.png", np.full((24, 40), 15, np.uint8))
    with pytest.raises(SegoodError, match="raw label value 15") as err:
        StreetHazards(root, "test")[0]
    assert str(Path(root / LABELS / "t5" / "0.png")) in str(err.value)
