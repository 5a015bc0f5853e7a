"""Every config parses, and the paper's runs say what the paper says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from segood.engine import SegModel, load_config
from tests.engine.conftest import CONFIGS

ALL = sorted(CONFIGS.rglob("*.py"))
RUNS = sorted(CONFIGS.glob("*.py"))
PAPER = [p for p in RUNS if "4xb2" in p.name and "cityscapes" not in p.name]
CITYSCAPES = [p for p in RUNS if "cityscapes" in p.name]
NAME = re.compile(
    r"^(?P<model>pspnet|pspnet-conf|ae)(_(?P<backbone>r\d+)(?P<tv>b?)-d8)?_(?P<gpus>\d+)xb(?P<batch>\d+)"
    r"-(?P<sched>\d+e|\d+k|tiny)_(?P<data>streethazards|bdd-anomaly|cityscapes)"
    r"(-(?P<res>\d+x\d+))?\.py$"
)
DATA = {  # name in the file name: dataset, classes, anomaly ids, evaluated split
    "streethazards": ("streethazards", 13, (13,), "test"),
    "bdd-anomaly": ("bdd_anomaly", 17, (17, 18, 19), "test"),
    "cityscapes": ("cityscapes", 19, (), "val"),
}


def test_the_paper_runs_exist():
    names = {p.name for p in PAPER}
    for data in ("streethazards", "bdd-anomaly"):
        assert f"pspnet_r101-d8_4xb2-20e_{data}-720x1280.py" in names
        assert f"pspnet-conf_r101-d8_4xb2-20e_{data}-720x1280.py" in names
        assert f"ae_4xb2-10e_{data}-720x1280.py" in names


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_config_parses(path: Path):
    cfg = Config.fromfile(str(path))
    assert cfg.filename == str(path)


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.name)
def test_run_config_matches_its_name(path: Path):
    m = NAME.match(path.name)
    assert m, f"{path.name} does not spell model_backbone_GPUSxbBATCH-SCHEDULE_dataset-res"
    cfg = load_config(path)
    dataset, num_classes, anomaly_ids, split = DATA[m["data"]]
    assert cfg.train_dataloader.batch_size == int(m["batch"])
    assert cfg.train_dataloader.dataset.dataset == dataset
    ev = cfg.evaluation
    assert (ev.dataset, ev.split, ev.num_classes, tuple(ev.anomaly_ids)) == (
        dataset, split, num_classes, anomaly_ids,
    )  # fmt: skip
    assert ev.data_root == cfg.train_dataloader.dataset.data_root
    if m["sched"].endswith("e"):
        assert cfg.train_cfg.max_epochs == int(m["sched"][:-1])
    elif m["sched"].endswith("k"):
        assert cfg.train_cfg.max_iters == 1000 * int(m["sched"][:-1])
    if m["model"].startswith("pspnet"):
        net = cfg.model.model
        assert net.type == "PSPNet" and net.encoder == f"resnet{m['backbone'][1:]}"
        if m["gpus"] == "4":  # the paper's runs: the reference's deep stem unless "r101b"
            assert net.stem == ("torchvision" if m["tv"] else "deep")
        assert net.num_classes == num_classes and net.aux_weight == 0.4
        assert net.output_stride == 8 and tuple(net.bins) == (1, 2, 3, 6)
        assert net.dropout == 0.1
        assert net.get("confidence_branch", False) == (m["model"] == "pspnet-conf")
        assert cfg.val_evaluator.num_classes == num_classes
    else:
        assert cfg.model.model.type == "AutoEncoder"


@pytest.mark.parametrize("path", [p for p in PAPER if p.name.startswith("pspnet")], ids=str)
def test_paper_schedule(path: Path):
    cfg = load_config(path)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ("SGD", 0.02, 0.9, 1e-4)
    (poly,) = cfg.param_scheduler
    assert (poly.type, poly.power, poly.end, poly.by_epoch) == ("PolyLR", 0.9, 20, True)
    assert cfg.train_cfg.max_epochs == 20 and cfg.sync_bn == "torch"
    assert cfg.train_dataloader.dataset.transform.name == "reference_train"
    assert cfg.model.model.pretrained  # ImageNet weights from a local file
    if cfg.model.model.stem == "deep":  # the reference's network and initialisation
        net = cfg.model.model
        assert (net.ppm_channels, net.aux_channels) == (512, 512)
        assert net.pretrained.endswith("resnet101-imagenet.pth")
    if "conf" in path.name:
        assert dict(cfg.model.confidence) == {"lam": 0.1, "budget": 0.3}


@pytest.mark.parametrize("path", CITYSCAPES, ids=lambda p: p.name)
def test_cityscapes_runs_follow_mmsegmentations_pspnet_schedule(path: Path):
    """mmsegmentation's pspnet_r{50,101}-d8_4xb2-80k_cityscapes-512x1024 (schedule_80k.py,
    datasets/cityscapes.py): SGD 0.01 / 0.9 / 5e-4, poly 0.9 to 1e-4 over 80k iterations,
    512x1024 crops of a 0.5-2.0 rescale, 2 images on each of 4 GPUs; the CSAIL deep-stem net."""
    cfg = load_config(path)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == ("SGD", 0.01, 0.9, 5e-4)
    (poly,) = cfg.param_scheduler
    assert (poly.power, poly.eta_min, poly.begin, poly.end, poly.by_epoch) == (
        0.9, 1e-4, 0, 80000, False,
    )  # fmt: skip
    assert cfg.train_cfg.max_iters == 80000 and cfg.sync_bn == "torch"
    transform = cfg.train_dataloader.dataset.transform
    assert transform.name == "scale_crop_train" and tuple(transform.crop_size) == (512, 1024)
    assert cfg.train_dataloader.batch_size == 2
    net = cfg.model.model
    assert (net.stem, net.num_classes, net.output_stride, net.ppm_channels) == ("deep", 19, 8, 512)
    assert net.pretrained.endswith(f"{net.encoder}-imagenet.pth")  # CSAIL's file of that depth
    assert cfg.evaluation.fit.dataset == "cityscapes" and cfg.evaluation.scales == ()


def test_data_root_option_reaches_every_dataset(tmp_path):
    path = CONFIGS / "pspnet_r101-d8_4xb2-20e_bdd-anomaly-720x1280.py"
    cfg = load_config(path, {"data_root": str(tmp_path)})
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path)
    assert cfg.val_dataloader.dataset.data_root == str(tmp_path)
    assert cfg.evaluation.data_root == str(tmp_path)


def test_gpu_switches_are_config_options():
    path = CONFIGS / "pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py"
    cfg = load_config(path, {"optim_wrapper.type": "AmpOptimWrapper", "model.channels_last": True})
    assert cfg.optim_wrapper.type == "AmpOptimWrapper" and cfg.model.channels_last is True
    # channels_last and the 1/8 loss run on the CPU too
    model = SegModel(
        model=dict(type="PSPNet", encoder="resnet18", num_classes=3), loss_at="feature",
        channels_last=True,
    )  # fmt: skip
    x = torch.randn(2, 3, 32, 40)
    labels = torch.randint(0, 3, (2, 32, 40))
    data = model.data_preprocessor({"inputs": x, "data_samples": {"labels": labels}}, True)
    assert data["inputs"].is_contiguous(memory_format=torch.channels_last)
    losses = model(**data, mode="loss")
    assert set(losses) == {"loss_ce", "loss_aux"} and all(v.isfinite() for v in losses.values())


@pytest.mark.parametrize("path", [p for p in RUNS if "_r101-d8_4xb2" in p.name], ids=str)
def test_paper_network_is_the_reference_network(path: Path):
    """What tools/convert_checkpoint.py csail builds for the reference's checkpoints."""
    from segood.models.convert.csail import csail_model
    from segood.models.description import with_defaults

    net = with_defaults(load_config(path).model.model)
    ref = with_defaults(csail_model("resnet101", net["num_classes"]))
    skip = {"pretrained", "confidence_branch"}
    assert {k: net[k] for k in ref if k not in skip} == {k: ref[k] for k in ref if k not in skip}
