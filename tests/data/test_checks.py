"""checks.py and tools/check_data.py: every problem is found and counted; exit codes 0/1/2."""

from __future__ import annotations

import numpy as np
import pytest

from segood.cli import check_data
from segood.data import DATASETS
from segood.data.checks import check_dataset
from tests.conftest import write_gray
from tests.data import trees

LABELS = "test/annotations/test/t5"


def test_clean_dataset(tmp_path, make_streethazards, capsys):
    root = make_streethazards(tmp_path)
    report = check_dataset("streethazards", root)
    assert report.ok and report.pairs == {"train": 4, "validation": 2, "test": 3}
    assert "no problems found" in report.render()
    assert check_data.main(["streethazards", str(root), "--no-progress"]) == 0


def test_every_problem_is_counted(tmp_path, make_streethazards, capsys):
    root = make_streethazards(tmp_path, n_test=6)
    (root / "test/images/test/t5/0.png").unlink()  # label without image
    (root / LABELS / "1.png").unlink()  # image without label
    (root / LABELS / "2.png").write_bytes(b"not a png")  # unreadable
    write_gray(root / LABELS / "3.png", np.ones((5, 5), np.uint8))  # size mismatch
    write_gray(root / LABELS / "4.png", np.full((24, 40), 99, np.uint8))  # out of range
    write_gray(root / "train/annotations/training/t1/0.png", np.full((24, 40), 14, np.uint8))
    report = check_dataset("streethazards", root)
    counts = {kind: n for (kind, _), n in report.counts().items()}
    assert counts == {
        "label without image": 1,
        "image without label": 1,
        "unreadable file": 1,
        "size mismatch": 1,
        "label value out of range": 1,
        "anomaly outside test": 1,
    }
    assert report.counts()[("anomaly outside test", "train")] == 1
    tool = check_data
    assert tool.main(["streethazards", str(root), "--split", "test", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "size mismatch" in out and str(root / LABELS / "2.png") in out
    assert "anomaly outside test" not in out  # only the test split was scanned


def test_empty_split_is_a_problem(tmp_path, make_streethazards):
    root = make_streethazards(tmp_path, n_val=0)
    report = check_dataset("streethazards", root, ["validation"])
    assert [p.kind for p in report.problems] == ["empty split"]


def test_bdd_anomaly(bdd_anomaly_root):
    assert check_dataset("bdd_anomaly", bdd_anomaly_root).ok
    victim = sorted((bdd_anomaly_root / "labels/train").iterdir())[0]
    write_gray(victim, np.full((24, 40), 19, np.uint8))  # stored 19 = class 18 motorcycle
    report = check_dataset("bdd-anomaly", bdd_anomaly_root, ["train"])
    assert [(p.kind, p.path) for p in report.problems] == [("anomaly outside test", victim)]


def test_usage_and_layout_errors_exit_2(tmp_path, capsys):
    tool = check_data
    assert tool.main(["streethazards", str(tmp_path / "nowhere"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Expected layout:" in err
    assert tool.main(["mapillary", str(tmp_path)]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert tool.main(["streethazards", str(tmp_path), "--split", "nope"]) == 2


# --- the road-anomaly benchmarks and Cityscapes ---------------------------------------------
# name, tree writer, expected pairs per split scanned by default (subset splits left out)
BENCHMARKS = [
    ("smiyc-anomaly", "smiyc_anomaly", {"validation": 3, "test": 3}),
    ("smiyc-obstacle", "smiyc_obstacle",
     {"validation": 3, "test": 3, "night": 1, "snowstorm": 2}),
    ("fishyscapes-laf", "fishyscapes", {"validation": 2}),
    ("lostandfound", "lost_and_found", {"train": 2, "test": 2}),
    ("road-anomaly", "road_anomaly", {"test": 2}),
    ("cityscapes", "cityscapes", {"train": 2, "val": 1, "test": 1}),
]  # fmt: skip


def test_every_dataset_is_known_to_check_data():
    assert {b[0] for b in BENCHMARKS} | {"streethazards", "bdd_anomaly"} == set(DATASETS)


@pytest.mark.parametrize(("name", "writer", "pairs"), BENCHMARKS, ids=[b[0] for b in BENCHMARKS])
def test_clean_benchmark(tmp_path, capsys, name, writer, pairs):
    getattr(trees, writer)(tmp_path)
    report = check_dataset(name, tmp_path)
    assert report.ok, report.render()
    assert report.pairs == pairs  # anomalies in labelled validation splits are no problem
    assert check_data.main([name, str(tmp_path), "--no-progress"]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_benchmark_problems_are_counted(tmp_path, capsys):
    trees.cityscapes(tmp_path)
    label = tmp_path / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"
    write_gray(label, np.full(trees.SIZE, 40, np.uint8))
    image = tmp_path / "leftImg8bit/test/berlin/berlin_000000_000019_leftImg8bit.png"
    image.write_bytes(b"broken")  # an image of the unlabeled test split is still checked
    report = check_dataset("cityscapes", tmp_path)
    assert {(k, s): n for (k, s), n in report.counts().items()} == {
        ("label value out of range", "val"): 1, ("unreadable file", "test"): 1,
    }  # fmt: skip
    assert "Cityscapes label ids 0..33" in report.render()
    assert check_data.main(["cityscapes", str(tmp_path), "--no-progress"]) == 1


def test_subset_splits_on_request(tmp_path, capsys):
    trees.smiyc_anomaly(tmp_path)
    assert check_dataset("smiyc-anomaly", tmp_path, ["all"]).pairs == {"all": 6}
    trees.lost_and_found(tmp_path / "laf")
    tool = check_data
    assert tool.main(["lostandfound", str(tmp_path / "laf"), "--split", "testNoKnown"]) == 2
    assert "1203" in capsys.readouterr().err
