"""Lost and Found and Fishyscapes Lost & Found loaders: layouts, label encodings, the official
testNoKnown subset, and every error path."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segood.data import FishyscapesLAF, LostAndFound, build_dataset
from segood.errors import SegoodError
from tests.data import trees

# The official SegmentMeIfYouCan definition of LostAndFound-testNoKnown, transcribed here:
# sorted test frames, less these positions (empty labels), less these name prefixes.
OFFICIAL_INVALID = [17, 37, 55, 72, 91, 110, 129, 153, 174, 197, 218, 353, 490, 618, 686, 792, 793]
OFFICIAL_KNOWN = ("15_Rechbergstr_Deckenpfronn", "01_Hanns_Klemm_Str_45_000006",
                  "01_Hanns_Klemm_Str_45_000007", "10_Schlossberg_9_000004")  # fmt: skip
# (scene, sequence, frames): 1203 test frames whose known-object frames avoid the invalid
# positions, so the counts come out as the official ones (1203 -> 1186 -> 1043).
FULL_TEST_PLAN = (
    ("01_Hanns_Klemm_Str_45", 0, 250), ("01_Hanns_Klemm_Str_45", 6, 40),
    ("01_Hanns_Klemm_Str_45", 7, 40), ("02_Hanns_Klemm_Str_44", 0, 250),
    ("04_Maurener_Weg_8", 1, 400), ("10_Schlossberg_9", 4, 33), ("10_Schlossberg_9", 5, 160),
    ("15_Rechbergstr_Deckenpfronn", 0, 30),
)  # fmt: skip


@pytest.fixture(scope="module")
def full_laf(tmp_path_factory):
    """A Lost and Found root with the full 1203-frame test split (2x2 pixels, written fast)."""
    root = tmp_path_factory.mktemp("laf_full")
    frames = sorted(f"{scene}_{seq:06d}_{10 * t:06d}" for scene, seq, n in FULL_TEST_PLAN
                    for t in range(n))  # fmt: skip
    image = cv2.imencode(".png", np.zeros((2, 2, 3), np.uint8))[1].tobytes()
    labelled = cv2.imencode(".png", np.array([[1, 2], [0, 1]], np.uint8))[1].tobytes()
    empty = cv2.imencode(".png", np.zeros((2, 2), np.uint8))[1].tobytes()
    for position, frame in enumerate(frames):
        image_path, label_path = trees.laf_paths(root, "test", frame)
        image_path.parent.mkdir(parents=True, exist_ok=True)
        label_path.parent.mkdir(parents=True, exist_ok=True)
        image_path.write_bytes(image)
        label_path.write_bytes(empty if position in OFFICIAL_INVALID else labelled)
    return root, frames


def test_test_no_known_is_the_official_subset(full_laf):
    root, frames = full_laf
    assert len(frames) == 1203 and len(LostAndFound(root, "test")) == 1203
    ds = LostAndFound(root, "testNoKnown")
    expected = [
        f for i, f in enumerate(frames)
        if i not in OFFICIAL_INVALID and not f.startswith(OFFICIAL_KNOWN)
    ]  # fmt: skip
    assert len(expected) == 1043
    assert sorted(p.name for p in ds.pairs) == expected
    assert len(build_dataset("lostandfound", root, "test-no-known")) == 1043
    dropped = {p.name for p in LostAndFound(root, "test").pairs} - {p.name for p in ds.pairs}
    assert len(dropped) == 17 + 143
    # The positions dropped are the frames with empty labels (all void), as the code says.
    test = LostAndFound(root, "test")
    by_name = {p.name: i for i, p in enumerate(test.pairs)}
    for position in OFFICIAL_INVALID:
        assert test.ignore_mask(test[by_name[frames[position]]]["label"]).all()


def test_test_no_known_needs_the_full_test_split(tmp_path):
    trees.lost_and_found(tmp_path)
    with pytest.raises(SegoodError, match="complete test split of 1203 frames, but 2 were found"):
        LostAndFound(tmp_path, "testNoKnown")


def test_splits_names_and_side_files(tmp_path):
    trees.lost_and_found(tmp_path)
    train = LostAndFound(tmp_path, "train")
    assert [p.name for p in train.pairs] == list(trees.LAF_FRAMES["train"])  # frame names
    assert "/01_Hanns_Klemm_Str_45/" in str(train.pairs[0].image_path)
    assert len(LostAndFound(tmp_path, "test")) == 2  # _color / _instanceIds files are accepted
    assert train.has_labels and LostAndFound.CLASSES == ("road", "obstacle")


def test_label_ids_road_obstacle_void(tmp_path):
    raws = trees.lost_and_found(tmp_path)
    ds = LostAndFound(tmp_path, "test")
    for i in range(len(ds)):
        item = ds[i]
        raw = raws[item["name"]]
        np.testing.assert_array_equal(item["label"] == 0, raw == 1)
        obstacle = (raw >= 2) & (raw <= 200)
        np.testing.assert_array_equal(ds.is_anomaly(item["label"]), obstacle)
        np.testing.assert_array_equal(ds.ignore_mask(item["label"]), (raw == 0) | (raw > 200))
        assert item["image_path"].endswith("_leftImg8bit.png")
        assert item["label_path"].endswith("_gtCoarse_labelIds.png")
    values = set(np.concatenate([r.ravel() for r in raws.values()]).tolist())
    assert {0, 1, 2, 17, 43, 201} <= values


def test_laf_layout_errors(tmp_path):
    with pytest.raises(SegoodError, match="does not exist") as err:
        LostAndFound(tmp_path / "nowhere", "test")
    assert "gtCoarse/" in str(err.value)
    trees.lost_and_found(tmp_path)
    with pytest.raises(SegoodError, match="holds leftImg8bit/ and gtCoarse/"):
        LostAndFound(tmp_path / "leftImg8bit", "test")
    frame = trees.LAF_FRAMES["test"][0]
    image, label = trees.laf_paths(tmp_path, "test", frame)
    (image.parent / "Thumbs.db").write_text("x")
    with pytest.raises(SegoodError, match="unexpected file") as err:
        LostAndFound(tmp_path, "test")
    assert "Thumbs.db" in str(err.value)
    (image.parent / "Thumbs.db").unlink()
    orphan = label.parent / "13_Elly_Beinhorn_Str_000009_000010_gtCoarse_labelIds.png"
    trees.write_label(orphan, np.zeros(trees.SIZE, np.uint8))
    with pytest.raises(SegoodError, match="label without image") as err:
        LostAndFound(tmp_path, "test")
    assert str(orphan) in str(err.value)
    orphan.unlink()
    label.unlink()
    with pytest.raises(SegoodError, match="image without label") as err:
        LostAndFound(tmp_path, "test")
    assert str(image) in str(err.value)
    with pytest.raises(SegoodError, match="unknown Lost and Found split 'val'"):
        LostAndFound(tmp_path, "val")


# --- Fishyscapes Lost & Found --------------------------------------------------------------


def test_fishyscapes_pairs_with_laf_images_from_both_splits(tmp_path):
    raws = trees.fishyscapes(tmp_path)
    ds = build_dataset("fishyscapes-laf", tmp_path, "val")
    assert isinstance(ds, FishyscapesLAF) and ds.split == "validation"
    assert [p.name for p in ds.pairs] == [
        "01_Hanns_Klemm_Str_45_000000_000080", "13_Elly_Beinhorn_Str_000001_000080",
    ]  # fmt: skip
    assert "/leftImg8bit/train/01_Hanns_Klemm_Str_45/" in str(ds.pairs[0].image_path)
    assert "/leftImg8bit/test/13_Elly_Beinhorn_Str/" in str(ds.pairs[1].image_path)
    assert ds.pairs[1].label_path.name == "0000_13_Elly_Beinhorn_Str_000001_000080_labels.png"
    for i in range(len(ds)):
        item = ds[i]
        raw = raws[item["name"]]
        np.testing.assert_array_equal(ds.is_anomaly(item["label"]), raw == 1)
        np.testing.assert_array_equal(ds.ignore_mask(item["label"]), raw > 1)
        np.testing.assert_array_equal(item["label"] == 0, raw == 0)
        assert item["image"].shape == (*trees.SIZE, 3)


def test_fishyscapes_errors(tmp_path):
    with pytest.raises(SegoodError, match="does not exist"):
        FishyscapesLAF(tmp_path / "nowhere", "validation")
    trees.lost_and_found(tmp_path)
    with pytest.raises(SegoodError, match="fishyscapes_lostandfound not found") as err:
        FishyscapesLAF(tmp_path, "validation")
    assert f"fishyscapes_lostandfound.zip in {tmp_path / 'fishyscapes_lostandfound'}/" in str(
        err.value
    )
    assert "Expected layout:" in str(err.value)
    trees.fishyscapes(tmp_path)
    labels = tmp_path / "fishyscapes_lostandfound"
    orphan = labels / "0007_07_Nowhere_Str_000000_000010_labels.png"
    trees.write_label(orphan, np.zeros(trees.SIZE, np.uint8))
    (labels / "readme_labels.png").write_bytes(b"")
    with pytest.raises(SegoodError, match="inconsistent") as err:
        FishyscapesLAF(tmp_path, "validation")
    assert "label without image" in str(err.value) and str(orphan) in str(err.value)
    assert "unexpected file" in str(err.value) and "readme_labels.png" in str(err.value)
    with pytest.raises(SegoodError, match="unknown Fishyscapes Lost & Found split 'test'"):
        FishyscapesLAF(tmp_path, "test")
