"""Bad training inputs: one `error:` line, exit 2, and no work dir left behind."""

from __future__ import annotations

import pytest

from tests.engine.conftest import TINY


def one_error_line(train_main, capsys, *args: str, lines: int = 1) -> str:
    assert train_main([str(TINY["pspnet"]), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert lines > 1 or "\n" not in err, err
    return err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("train_cfg.max_iters=abc", "train_cfg.max_iters='abc' must be a positive integer"),
        ("train_cfg.max_iters=0", "train_cfg.max_iters=0 must be a positive integer"),
        ("model.model.decoder_channels=abc", "decoder_channels='abc' must be an integer"),
        ("model.model.type=Nope", "model.type='Nope' is unknown"),
    ],
)
def test_bad_config_values_are_named_and_leave_no_work_dir(
    train_main, capsys, tmp_path, sh_root, option, message
):
    work = tmp_path / "runs" / "w"
    err = one_error_line(
        train_main, capsys, "--work-dir", str(work), "--cfg-options", f"data_root={sh_root}",
        option, "log_level=ERROR",
    )  # fmt: skip
    assert message in err
    assert not (tmp_path / "runs").exists()


def test_missing_data_root_leaves_no_work_dir(train_main, capsys, tmp_path):
    missing = tmp_path / "no-data"
    err = one_error_line(
        train_main, capsys, "--work-dir", str(tmp_path / "w"), "--cfg-options",
        f"data_root={missing}", "log_level=ERROR", lines=15,
    )  # fmt: skip
    assert f"{missing} does not exist" in err.splitlines()[0]  # then the expected layout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_work_dir_under_a_regular_file(train_main, capsys, tmp_path, sh_root):
    (tmp_path / "file").write_text("x")
    err = one_error_line(
        train_main, capsys, "--work-dir", str(tmp_path / "file" / "w"), "--cfg-options",
        f"data_root={sh_root}",
    )  # fmt: skip
    assert f"--work-dir {tmp_path / 'file' / 'w'}: {tmp_path / 'file'} is a file" in err


@pytest.mark.parametrize(
    ("device", "message"),
    [("cuda:99", "--device cuda:99: "), ("gpu", "--device 'gpu' is not a device")],
)
def test_unusable_device(train_main, capsys, tmp_path, sh_root, device, message):
    err = one_error_line(
        train_main, capsys, "--work-dir", str(tmp_path / "w"), "--device", device,
        "--cfg-options", f"data_root={sh_root}",
    )  # fmt: skip
    assert message in err
    assert not (tmp_path / "w").exists()


def test_resume_removes_temporary_files_of_a_killed_save(tmp_path, sh_root):
    from segood.engine import build_runner, load_config

    work = tmp_path / "w"
    work.mkdir()
    stale = [work / ".iter_4.pth.tmp-k1ll3d", work / ".last_checkpoint.tmp-x"]
    for path in stale:
        path.write_bytes(b"half a checkpoint")
    keep = work / "notes.txt"
    keep.write_text("mine")
    cfg = load_config(TINY["pspnet"], {"data_root": str(sh_root), "log_level": "ERROR"})
    build_runner(cfg, work_dir=work, resume=True)
    assert not any(path.exists() for path in stale) and keep.exists()


@pytest.mark.parametrize("has_branch", [False, True])
def test_fine_tuning_leaves_out_a_branch_the_model_lacks(has_branch, monkeypatch):
    from types import SimpleNamespace

    import torch

    from segood.engine import hooks
    from segood.models import build_model

    said = []
    monkeypatch.setattr(hooks, "print_log", lambda message, **kw: said.append(message))

    net = build_model(
        dict(type="PSPNet", encoder="resnet18", num_classes=13, confidence_branch=has_branch)
    )
    runner = SimpleNamespace(model=SimpleNamespace(model=net), _resume=False)
    weights = {"model.confidence_head.conv.weight": torch.ones(1), "model.encoder.w": torch.ones(1)}
    checkpoint = {"state_dict": dict(weights), "message_hub": {}}
    hooks.TrainStateHook().after_load_checkpoint(runner, checkpoint)
    kept = weights if has_branch else {"model.encoder.w": weights["model.encoder.w"]}
    assert checkpoint["state_dict"].keys() == kept.keys()
    note = (
        "the checkpoint's confidence branch is not part of this model; its 1 weights are left out"
    )
    assert said == ([] if has_branch else [f"load_from: {note}"])
