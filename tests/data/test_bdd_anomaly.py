"""BDD-Anomaly: the remap table, the split rule, the builder in both layouts, and the loader."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from segood.cli import make_bdd
from segood.data import BDDAnomaly, build_dataset
from segood.data.bdd_anomaly import REMAP_TABLE
from segood.data.make_bdd import build_bdd_anomaly, remap_label, target_split
from segood.errors import SegoodError
from tests.conftest import BDD_DIRS, write_gray


def read_gray(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def source_labels(root: Path, layout: str) -> dict[str, dict[str, np.ndarray]]:
    """{split: {stem: train-id mask}} of a synthetic BDD100K tree (the test's own oracle)."""
    _, label_tpl, suffix = BDD_DIRS[layout]
    out = {}
    for split in ("train", "val"):
        folder = root / label_tpl.format(split=split)
        out[split] = {
            p.name.removesuffix(f"{suffix}.png"): read_gray(p) for p in folder.glob("*.png")
        }
    return out


def test_remap_table():
    # stored = train id + 2 for 0..18, 255 -> 1, everything else invalid (0)
    expected = {t: t + 2 for t in range(19)} | {255: 1}
    assert {v: int(REMAP_TABLE[v]) for v in range(256) if REMAP_TABLE[v]} == expected
    loaded = {t: s - 1 for t, s in expected.items()}  # after the loader's -1
    assert loaded[255] == 0  # other
    assert [loaded[t] for t in (16, 17, 18)] == [17, 18, 19] == list(BDDAnomaly.anomaly_ids)
    assert [BDDAnomaly.CLASSES[loaded[t]] for t in (0, 13, 16, 17, 18)] == [
        "road", "car", "train", "motorcycle", "bicycle",
    ]  # fmt: skip
    assert BDDAnomaly.num_classes == 17 and BDDAnomaly.CLASSES[0] == "other"
    assert len(BDDAnomaly.CLASSES) == len(BDDAnomaly.PALETTE) == 20


def test_remap_label_rejects_unexpected_ids():
    ids = np.array([[0, 18, 255]], np.uint8)
    assert remap_label(ids).tolist() == [[2, 20, 1]]
    with pytest.raises(
        SegoodError, match=r"mask\.png holds unexpected BDD100K train id\(s\) \[19, 254\]"
    ):
        remap_label(np.array([[0, 19, 254]], np.uint8), "mask.png")


@pytest.mark.parametrize("anomaly", [16, 17, 18])
def test_split_rule(anomaly):
    clean = np.array([[0, 13, 15, 255]], np.uint8)
    assert target_split(clean, "train") == "train"
    assert target_split(clean, "val") == "val"
    dirty = clean.copy()
    dirty[0, 0] = anomaly
    assert target_split(dirty, "train") == "test"
    assert target_split(dirty, "val") == "test"


@pytest.mark.parametrize("layout", ["current", "seg"])
def test_build_both_layouts(tmp_path, make_bdd100k, layout):
    src = make_bdd100k(tmp_path / "bdd100k", layout=layout, n_train=6, n_val=3,
                       n_anomalous_train=3, n_anomalous_val=1)  # fmt: skip
    out = tmp_path / "out"
    result = build_bdd_anomaly(src, out, progress=False)
    assert result.layout == layout
    assert result.counts == {"train": 3, "val": 2, "test": 4}
    assert json.loads((out / "manifest.json").read_text())["counts"] == result.counts

    labels = source_labels(src, layout)
    anomalous = {
        s for split in labels.values() for s, m in split.items() if np.isin(m, [16, 17, 18]).any()
    }
    assert len(anomalous) == 4
    test_stems = {p.stem for p in (out / "labels/test").iterdir()}
    assert test_stems == anomalous
    for split in ("train", "val"):
        kept = {p.stem for p in (out / "labels" / split).iterdir()}
        assert kept == set(labels[split]) - anomalous
    for split, masks in labels.items():
        for stem, mask in masks.items():
            dest = "test" if stem in anomalous else split
            stored = read_gray(out / "labels" / dest / f"{stem}.png")
            np.testing.assert_array_equal(stored, REMAP_TABLE[mask])
            image_tpl = BDD_DIRS[layout][0].format(split=split)
            assert (out / "images" / dest / f"{stem}.jpg").read_bytes() == (
                src / image_tpl / f"{stem}.jpg"
            ).read_bytes()
    assert not list(out.rglob(".*tmp-*"))


def test_build_accepts_parent_folder(tmp_path, make_bdd100k):
    make_bdd100k(tmp_path / "download" / "bdd100k")
    result = build_bdd_anomaly(tmp_path / "download", tmp_path / "out", progress=False)
    assert sum(result.counts.values()) == 9


def test_loader_reads_builder_output(bdd_anomaly_root):
    counts = {s: len(BDDAnomaly(bdd_anomaly_root, s)) for s in ("train", "val", "test")}
    assert counts == {"train": 3, "val": 2, "test": 4}
    assert len(BDDAnomaly(bdd_anomaly_root, "validation")) == 2
    ds = build_dataset("bdd_anomaly", bdd_anomaly_root, "test")
    for i in range(len(ds)):
        item = ds[i]
        raw = read_gray(Path(item["label_path"]))
        assert item["label"].dtype == np.int64
        np.testing.assert_array_equal(item["label"], raw.astype(np.int64) - 1)
        assert item["label"].min() >= 0 and item["label"].max() <= 19
        assert ds.is_anomaly(item["label"]).any()
        assert item["name"] == f"test/{Path(item['image_path']).stem}"
        assert item["image"].shape == (24, 40, 3)
    train = BDDAnomaly(bdd_anomaly_root, "train")
    assert not any(train.is_anomaly(train[i]["label"]).any() for i in range(len(train)))
    assert any((train[i]["label"] == 0).any() for i in range(len(train)))  # 255 -> other


def test_tool_prints_counts(tmp_path, make_bdd100k, capsys):
    src = make_bdd100k(tmp_path / "bdd100k")
    argv = ["--bdd-root", str(src), "--out", str(tmp_path / "out"), "--no-progress"]
    assert make_bdd.main(argv) == 0
    printed = capsys.readouterr().out
    lines = {line.split()[0]: line.split()[1] for line in printed.splitlines()[1:4]}
    assert lines == {"train": "3", "val": "2", "test": "4"}
    assert "6,280" in printed
    assert make_bdd.main(argv) == 2  # finished: refuses without --force
    assert "--force" in capsys.readouterr().err
    assert make_bdd.main([*argv, "--force"]) == 0


def test_resume_after_interruption(tmp_path, make_bdd100k):
    src = make_bdd100k(tmp_path / "bdd100k")
    out = tmp_path / "out"
    build_bdd_anomaly(src, out, progress=False)
    # simulate an interrupted run: no manifest, a missing file, a half-written temp file
    (out / "manifest.json").unlink()
    next((out / "images/train").iterdir()).unlink()
    (out / "labels/test/.tmp-abc.png").write_bytes(b"partial")
    result = build_bdd_anomaly(src, out, progress=False)
    assert result.counts == {"train": 3, "val": 2, "test": 4}
    assert len(list((out / "images/train").iterdir())) == 3
    assert (out / "manifest.json").is_file()
    assert not (out / "labels/test/.tmp-abc.png").exists()


def test_stale_files_need_force(tmp_path, make_bdd100k):
    src = make_bdd100k(tmp_path / "bdd100k")
    out = tmp_path / "out"
    stale = out / "images/train/other.jpg"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"x")
    with pytest.raises(SegoodError, match="did not produce") as err:
        build_bdd_anomaly(src, out, progress=False)
    assert str(stale) in str(err.value)
    assert not (out / "manifest.json").exists()
    result = build_bdd_anomaly(src, out, force=True, progress=False)
    assert result.removed == [stale] and not stale.exists()


# --- error paths -------------------------------------------------------------------------


def test_missing_bdd_root(tmp_path):
    with pytest.raises(SegoodError, match="does not exist") as err:
        build_bdd_anomaly(tmp_path / "nowhere", tmp_path / "out", progress=False)
    assert "Expected layout:" in str(err.value) and "seg/" in str(err.value)


def test_wrong_bdd_layout(tmp_path):
    (tmp_path / "bdd100k/images/100k/train").mkdir(parents=True)  # the detection release
    with pytest.raises(SegoodError, match="holds neither known layout") as err:
        build_bdd_anomaly(tmp_path / "bdd100k", tmp_path / "out", progress=False)
    assert "images/10k/train" in str(err.value)


def test_labels_that_do_not_match_are_named(tmp_path, make_bdd100k):
    src = make_bdd100k(tmp_path / "bdd100k", layout="seg")
    for p in (src / "seg/labels/val").iterdir():  # wrong suffix: colour renderings
        p.rename(p.with_name(p.name.replace("_train_id", "_color")))
    with pytest.raises(SegoodError) as err:
        build_bdd_anomaly(src, tmp_path / "out", progress=False)
    message = str(err.value)
    assert "seg/labels/val" in message and "no image/label pair matched" in message


def test_missing_label_pair(tmp_path, make_bdd100k):
    src = make_bdd100k(tmp_path / "bdd100k")
    (src / "labels/sem_seg/masks/train/train-0004.png").unlink()
    with pytest.raises(SegoodError, match="1 image without label") as err:
        build_bdd_anomaly(src, tmp_path / "out", progress=False)
    assert "train-0004.jpg" in str(err.value)


def test_unexpected_train_id_names_file(tmp_path, make_bdd100k):
    src = make_bdd100k(tmp_path / "bdd100k")
    bad = src / "labels/sem_seg/masks/val/val-0002.png"
    write_gray(bad, np.full((24, 40), 30, np.uint8))
    with pytest.raises(SegoodError, match=r"unexpected BDD100K train id\(s\) \[30\]") as err:
        build_bdd_anomaly(src, tmp_path / "out", progress=False)
    assert str(bad) in str(err.value)
    assert not (tmp_path / "out/manifest.json").exists()


def test_empty_test_split_is_refused(tmp_path, make_bdd100k):
    src = make_bdd100k(tmp_path / "bdd100k", n_anomalous_train=0, n_anomalous_val=0)
    with pytest.raises(SegoodError, match=r"\['test'\] came out empty") as err:
        build_bdd_anomaly(src, tmp_path / "out", progress=False)
    assert "labels/sem_seg/masks/train" in str(err.value)
    assert not (tmp_path / "out/manifest.json").exists()


def test_out_inside_source_is_refused(tmp_path, make_bdd100k):
    src = make_bdd100k(tmp_path / "bdd100k")
    with pytest.raises(SegoodError, match="overlaps"):
        build_bdd_anomaly(src, src / "anomaly", progress=False)


def test_loader_on_raw_bdd100k_hints_the_builder(tmp_path, make_bdd100k):
    src = make_bdd100k(tmp_path / "bdd100k")
    with pytest.raises(SegoodError, match=r"make_bdd_anomaly\.py --bdd-root") as err:
        BDDAnomaly(src, "train")
    assert "Expected layout:" in str(err.value)


def test_loader_stored_value_out_of_range(bdd_anomaly_root):
    ds = BDDAnomaly(bdd_anomaly_root, "val")
    write_gray(ds.pairs[1].label_path, np.full((24, 40), 21, np.uint8))
    with pytest.raises(SegoodError, match="raw label value 21") as err:
        ds[1]
    assert str(ds.pairs[1].label_path) in str(err.value)
