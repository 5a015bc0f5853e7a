import json

import cv2
import numpy as np

from sim import writer


def _frame(out, stem, town="Town05", split="test"):
    paths = writer.frame_paths(out, split, town, stem)
    rgb = np.zeros((8, 12, 3), np.uint8)
    rgb[..., 0] = 200  # red
    ann = np.full((8, 12), 8, np.uint8)
    writer.write_frame(paths, rgb, ann, {"stem": stem})
    return paths


def test_layout_and_contents(tmp_path):
    p = _frame(tmp_path, "000003")
    assert p.image == tmp_path / "test/images/test/Town05/000003.png"
    assert p.annotation == tmp_path / "test/annotations/test/Town05/000003.png"
    assert p.metadata == tmp_path / "test/metadata/test/Town05/000003.json"
    assert writer.is_done(p)
    assert cv2.imread(str(p.image))[0, 0].tolist() == [0, 0, 200]  # stored as RGB
    ann = cv2.imread(str(p.annotation), cv2.IMREAD_UNCHANGED)
    assert ann.ndim == 2 and ann.dtype == np.uint8 and ann.max() == 8
    assert json.loads(p.metadata.read_text()) == {"stem": "000003"}
    assert not [f for f in tmp_path.rglob(".*")]  # no temporaries left
    t = writer.frame_paths(tmp_path, "train", "Town01", "000000")
    assert "train/images/training/Town01" in str(t.image)
    v = writer.frame_paths(tmp_path, "validation", "Town04", "000000")
    assert "train/annotations/validation/Town04" in str(v.annotation)


def test_clean_removes_temporaries_and_uncommitted_of_own_shard(tmp_path):
    done = _frame(tmp_path, "000000")
    half = _frame(tmp_path, "000002")
    half.metadata.unlink()  # killed before the commit marker
    other = _frame(tmp_path, "000001")
    other.metadata.unlink()  # belongs to shard 1/2
    tmp = done.image.parent / ".000004.png.tmp-123"
    tmp.write_bytes(b"partial")
    removed = writer.clean(tmp_path, "test", lambda i: i % 2 == 0)
    assert not half.image.exists() and not half.annotation.exists()
    assert not tmp.exists()
    assert other.image.exists()  # another shard's frame is left alone
    assert writer.is_done(done)
    assert len(removed) == 3


def test_manifest_roundtrip(tmp_path):
    writer.update_manifest(tmp_path, "train", {"frames": 3})
    writer.update_manifest(tmp_path, "test", {"frames": 2})
    assert writer.read_manifest(tmp_path)["splits"] == {
        "train": {"frames": 3},
        "test": {"frames": 2},
    }
