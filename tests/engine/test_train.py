"""A few iterations of real Runner training per model kind, and what they leave behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.serialization import get_unsafe_globals_in_checkpoint

from segood.models import build_model, load_model_weights

KINDS = ("pspnet", "pspnet-conf", "ae")


def work_dir(runner) -> Path:
    return Path(runner.work_dir)


@pytest.mark.parametrize("kind", KINDS)
def test_work_dir_has_atomic_checkpoints_and_resolved_config(trained, kind):
    wd = work_dir(trained[kind])
    assert (wd / "iter_2.pth").is_file() and (wd / "iter_4.pth").is_file()
    assert (wd / "last_checkpoint").read_text().strip() == str(wd / "iter_4.pth")
    assert not list(wd.glob(".*tmp-*")), "temporary checkpoint files left behind"
    dumped = list(wd.glob("*tiny_streethazards.py"))
    assert dumped, "the resolved config is saved in the work dir"
    assert "data_root" in dumped[0].read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_checkpoints_load_weights_only_with_no_allowlist(trained, kind):
    path = work_dir(trained[kind]) / "iter_4.pth"
    assert get_unsafe_globals_in_checkpoint(str(path)) == []
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["meta"]["iter"] == 4
    assert set(ckpt["train_state"]["rng"]) >= {"torch", "numpy", "python"}
    assert "optimizer" in ckpt and "param_schedulers" in ckpt
    assert all(k.startswith("model.") for k in ckpt["state_dict"])
    # weights moved between the two checkpoints
    first = torch.load(path.with_name("iter_2.pth"), weights_only=True)["state_dict"]
    assert any(not torch.equal(first[k], v) for k, v in ckpt["state_dict"].items())


def test_confidence_lambda_adapts_and_is_saved(trained):
    runner = trained["pspnet-conf"]
    lam = float(runner.model.conf_lambda)
    assert lam != pytest.approx(0.1)  # 4 updates of /0.99 or /1.01
    ratio = lam / 0.1
    assert any(ratio == pytest.approx(0.99**-a * 1.01 ** -(4 - a)) for a in range(5))
    ckpt = torch.load(work_dir(runner) / "iter_4.pth", weights_only=True)
    assert ckpt["train_state"]["model"]["conf_lambda"] == lam
    assert "conf_lambda" not in ckpt["state_dict"]


def test_schedule_reaches_zero_and_keeps_sgd_settings(trained):
    ckpt = torch.load(work_dir(trained["pspnet"]) / "iter_4.pth", weights_only=True)
    group = ckpt["optimizer"]["param_groups"][0]
    assert group["momentum"] == 0.9 and group["weight_decay"] == 1e-4
    assert group["lr"] == pytest.approx(0.0)
    assert ckpt["param_schedulers"][0]["power"] == 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_final_checkpoint_reloads_into_a_fresh_model(trained, kind):
    runner = trained[kind]
    net = runner.model.model.eval()
    fresh = build_model(runner.cfg.model.model).eval()
    result = load_model_weights(fresh, work_dir(runner) / "iter_4.pth")
    assert result.missing == [] and result.unexpected == []
    x = torch.randn(2, 3, 32, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        if kind == "ae":
            assert torch.equal(fresh(x), net(x))
        else:
            a, b = fresh(x, return_features=True), net(x, return_features=True)
            assert torch.equal(a.logits, b.logits)
            if kind == "pspnet-conf":
                assert torch.equal(a.confidence, b.confidence)


def test_validation_miou_and_tensorboard_logged(trained):
    wd = work_dir(trained["pspnet"])
    scalars = next(wd.glob("*/vis_data/scalars.json"))
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    val = [r for r in records if "mIoU" in r]
    assert val and 0.0 <= val[-1]["mIoU"] <= 100.0 and "IoU.road" in val[-1]
    assert any("loss_aux" in r for r in records)
    pytest.importorskip("tensorboard")
    assert list(wd.glob("*/vis_data/events.out.tfevents.*"))
