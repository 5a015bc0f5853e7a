"""The generator end to end against the loopback server, each side in its own process."""

import json
import shutil

import cv2
import numpy as np
import pytest

from segood.data import StreetHazards
from tests.sim.helpers import frames, generate, status

pytestmark = pytest.mark.slow


def test_train_and_test_splits_are_read_by_streethazards(server_port, tmp_path):
    out = tmp_path / "caos"
    generate(server_port, out, "--split", "train", "--frames", "3", "--towns", "Town01,Town02")
    generate(server_port, out, "--split", "test", "--frames", "4", "--anomalies", "2")
    train = StreetHazards(out, "train")
    test = StreetHazards(out, "test")
    assert len(train) == 3 and len(test) == 4
    for ds, split in ((train, "train"), (test, "test")):
        for item in (ds[i] for i in range(len(ds))):
            label = cv2.imread(str(item["label_path"]), cv2.IMREAD_UNCHANGED)
            assert label.dtype == np.uint8 and label.ndim == 2 and label.shape == (64, 96)
            assert label.min() >= 1 and label.max() <= 14
            if split != "test":
                assert not (label == 14).any()  # anomalies only in test
            image = cv2.imread(str(item["image_path"]))
            assert image.shape == (64, 96, 3)
    metas = [json.loads(p.read_text()) for p in sorted(out.rglob("metadata/test/*/*.json"))]
    assert [m["town"] for m in metas] == ["Town05", "Town05", "Town06", "Town06"]
    assert sum(m["anomaly_pixels"] > 0 for m in metas) >= 3
    for m in metas:
        assert {"weather", "camera", "props", "class_pixels"} <= set(m)
        assert sum(p["pixels"] for p in m["props"]) == m["anomaly_pixels"]
    for p in out.rglob("metadata/training/*/*.json"):
        assert json.loads(p.read_text())["props"] == []
    assert status(server_port)["actors"] == []  # everything spawned was destroyed
    assert not status(server_port)["synchronous"]


def test_shards_merge_by_copying(server_port, tmp_path):
    a, b, whole = tmp_path / "a", tmp_path / "b", tmp_path / "whole"
    args = ("--split", "validation", "--frames", "5", "--seed", "3")
    generate(server_port, a, *args, "--shard", "0/2")
    generate(server_port, b, *args, "--shard", "1/2")
    generate(server_port, whole, *args)
    assert len(frames(a)) == 3 and len(frames(b)) == 2
    assert not set(frames(a)) & set(frames(b))
    merged = tmp_path / "merged"
    shutil.copytree(a, merged)
    shutil.copytree(b, merged, dirs_exist_ok=True)
    assert frames(merged) == frames(whole)
    assert len(StreetHazards(merged, "validation")) == 5
    for name in frames(whole):  # same seeds: same towns, cameras and weather
        ma, mw = (json.loads((d / name).read_text()) for d in (merged, whole))
        assert ma["camera"] == mw["camera"] and ma["weather"] == mw["weather"]


def _refused(port, out, *args, says=()):
    r = generate(port, out, *args, check=False)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")  # as every tool, r.stderr
    for text in says:
        assert text in lines[0], lines[0]
    return lines[0]


def test_bad_arguments_are_one_clear_line(server_port, tmp_path):
    out = tmp_path / "ds"
    _refused(server_port, out, "--split", "train", "--frames", "2", "--anomalies", "1",
             says=["only in the test split"])  # fmt: skip
    _refused(server_port, out, "--split", "train", "--frames", "2", "--towns", "Town99",
             says=["Town99", "Town01"])  # fmt: skip
    _refused(server_port, out, "--split", "train", "--frames", "2", "--towns", "Town12",
             says=["Town12: a large map"])  # fmt: skip
    _refused(server_port, out, "--split", "test", "--frames", "0", says=["--frames must be >= 1"])
    assert not out.exists()  # nothing written before everything is checked (issue 14.4)
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "file" / "ds"):  # issue 14.3
        _refused(server_port, bad, "--split", "train", "--frames", "1", says=[str(bad), "file"])
    generate(server_port, out, "--split", "validation", "--frames", "2")
    _refused(server_port, out, "--split", "validation", "--frames", "2", "--seed", "5",
             says=["other arguments", "'seed': (0, 5)"])  # fmt: skip
    _refused(server_port, out, "--split", "validation", "--frames", "1",
             says=["already holds 2 frames", "--frames 2"])  # fmt: skip
    _refused(server_port, out, "--split", "test", "--frames", "1", "--towns", "Town04",
             says=["Town04", "both"])  # fmt: skip
