"""Kill a training process hard after iteration 3 (checkpoint at 2), `--resume` it, and check
that it ends exactly where an uninterrupted run ends."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.engine.conftest import TINY, run_tool


def write_config(path: Path, crash_after: int | None) -> Path:
    lines = [
        f"_base_ = [{str(TINY['pspnet-conf'])!r}]",
        "train_cfg = dict(val_interval=2)",  # as the uninterrupted in-process run
    ]
    if crash_after is not None:
        lines += [
            "custom_imports = dict(imports=['segood.engine', 'tests.engine.crash_hook'],"
            " allow_failed_imports=False)",
            "custom_hooks = [dict(type='TrainStateHook'), dict(type='ProgressBarHook'),"
            f" dict(type='CrashAfterIterHook', after_iter={crash_after})]",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kill_and_resume_matches_uninterrupted_run(trained, sh_root, tmp_path):
    wd = tmp_path / "work"
    options = ["--cfg-options", f"data_root={sh_root}", "log_level=WARNING"]
    crash = write_config(tmp_path / "crash.py", crash_after=3)
    killed = run_tool(str(crash), "--work-dir", str(wd), *options)
    assert killed.returncode == 3, killed.stderr[-2000:]
    assert sorted(p.name for p in wd.glob("iter_*.pth")) == ["iter_2.pth"]
    assert (wd / "last_checkpoint").read_text().strip().endswith("iter_2.pth")

    plain = write_config(tmp_path / "plain.py", crash_after=None)
    resumed = run_tool(str(plain), "--work-dir", str(wd), "--resume", *options[:2])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert "resumed epoch: 0, iter: 2" in log
    assert "Iter(train) [3/4]" in log and "Iter(train) [1/4]" not in log

    got = torch.load(wd / "iter_4.pth", weights_only=True)
    want = torch.load(Path(trained["pspnet-conf"].work_dir) / "iter_4.pth", weights_only=True)
    assert got["meta"]["iter"] == want["meta"]["iter"] == 4
    assert got["state_dict"].keys() == want["state_dict"].keys()
    for key, value in want["state_dict"].items():
        assert torch.equal(got["state_dict"][key], value), key
    for index, state in want["optimizer"]["state"].items():
        assert torch.equal(got["optimizer"]["state"][index]["momentum_buffer"],
                           state["momentum_buffer"])  # fmt: skip
    assert got["param_schedulers"] == want["param_schedulers"]
    assert got["train_state"]["model"] == want["train_state"]["model"]  # lambda
    assert torch.equal(got["train_state"]["rng"]["torch"], want["train_state"]["rng"]["torch"])
