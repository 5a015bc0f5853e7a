"""Command-line value checks shared by the tools (segood.arguments), and make_bdd_anomaly's."""

import pytest

from segood.arguments import check_count, check_device, check_output_dir
from segood.cli import make_bdd
from segood.errors import SegoodError


def test_output_dir_may_be_new_or_an_existing_folder(tmp_path):
    assert check_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert check_output_dir(tmp_path) == tmp_path
    assert not (tmp_path / "a").exists()  # checks only, creates nothing


def test_output_dir_under_or_at_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SegoodError, match=r"--out .*/f/a/b: .*/f is a file, not a folder"):
        check_output_dir(tmp_path / "f" / "a" / "b")
    with pytest.raises(SegoodError, match=r"--work-dir .*/f: it is a file, not a folder"):
        check_output_dir(tmp_path / "f", "--work-dir")


def test_counts():
    assert check_count(None, "--n") is None and check_count(3, "--n") == 3
    assert check_count(0, "--n", minimum=0) == 0
    with pytest.raises(SegoodError, match="--n must be at least 1, got 0"):
        check_count(0, "--n")


def test_devices():
    import torch

    assert check_device(None) is None and check_device("cpu") == "cpu"
    with pytest.raises(SegoodError, match="--device 'tpu:0' is not a device; use cpu, cuda"):
        check_device("tpu:0")
    with pytest.raises(SegoodError, match="--device meta: use cpu, cuda, cuda:N or mps"):
        check_device("meta")
    with pytest.raises(SegoodError, match="--device cuda:99: "):
        check_device("cuda:99")
    if not torch.cuda.is_available():
        with pytest.raises(SegoodError, match="CUDA is not available here"):
            check_device("cuda")


def test_make_bdd_anomaly_out_under_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "bdd"
    assert make_bdd.main(["--bdd-root", str(tmp_path), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"error: --out {out}: {tmp_path / 'file'} is a file, not a folder; choose another --out"
    )
