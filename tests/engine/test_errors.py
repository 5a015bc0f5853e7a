"""User mistakes in configs and checkpoints: one message naming the file and the fix, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from segood.errors import SegoodError
from segood.models import PSPNet, load_model_weights
from tests.engine.conftest import TINY


def run(train_main, capsys, *args: str) -> tuple[int, str]:
    code = train_main(list(args))
    return code, capsys.readouterr().err


def test_missing_config(train_main, capsys, tmp_path):
    code, err = run(train_main, capsys, str(tmp_path / "nope.py"))
    assert code == 2 and "nope.py does not exist" in err and "Traceback" not in err


def test_broken_config(train_main, capsys, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("model = dict(\n")
    code, err = run(train_main, capsys, str(bad))
    assert code == 2 and "bad.py could not be loaded" in err


def test_wrong_data_root(train_main, capsys, tmp_path):
    missing = tmp_path / "no-data"
    code, err = run(
        train_main, capsys, str(TINY["pspnet"]), "--work-dir", str(tmp_path / "w"),
        "--cfg-options", f"data_root={missing}", "log_level=ERROR",
    )  # fmt: skip
    assert code == 2 and str(missing) in err and "class `" not in err


def test_unknown_model_type(train_main, capsys, tmp_path, sh_root):
    code, err = run(
        train_main, capsys, str(TINY["pspnet"]), "--work-dir", str(tmp_path / "w"),
        "--cfg-options", f"data_root={sh_root}", "model.model.type=Nope", "log_level=ERROR",
    )  # fmt: skip
    assert code == 2 and "Nope" in err


def test_corrupt_checkpoint_on_resume(train_main, capsys, tmp_path, sh_root):
    wd = tmp_path / "w"
    wd.mkdir()
    (wd / "iter_2.pth").write_bytes(b"not a checkpoint")
    (wd / "last_checkpoint").write_text(str(wd / "iter_2.pth"))
    code, err = run(
        train_main, capsys, str(TINY["pspnet"]), "--work-dir", str(wd), "--resume",
        "--cfg-options", f"data_root={sh_root}", "log_level=ERROR",
    )  # fmt: skip
    assert code == 2 and "iter_2.pth could not be read" in err


def test_checkpoint_with_other_class_count(trained):
    path = Path(trained["pspnet"].work_dir) / "iter_4.pth"
    with pytest.raises(SegoodError, match=r"13 classes .* builds 5"):
        load_model_weights(PSPNet(num_classes=5, encoder="resnet18"), path)


def test_truncated_checkpoint_message(trained, tmp_path):
    data = (Path(trained["pspnet"].work_dir) / "iter_4.pth").read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SegoodError, match=r"cut\.pth"):
        load_model_weights(PSPNet(num_classes=13, encoder="resnet18"), cut)
    from segood.engine import load_from_local_weights_only

    with pytest.raises(SegoodError, match=r"cut\.pth could not be read"):
        load_from_local_weights_only(str(cut))


def test_atomic_write_keeps_old_file_when_interrupted(tmp_path, monkeypatch):
    from segood import io

    target = tmp_path / "iter_2.pth"
    io.atomic_write_bytes(target, b"old")

    def boom(fd):
        raise KeyboardInterrupt  # a kill between write and rename

    monkeypatch.setattr(io.os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        io.atomic_write_bytes(target, b"new" * 1000)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["iter_2.pth"]
    torch.save({"a": torch.ones(1)}, tmp_path / "x.pth")  # torch unaffected
