"""The Cityscapes PSPNet config trains with tools/train.py: two iterations on a tiny Cityscapes
tree in the published layout (the real deep-stem ResNet-50 network, crops shrunk to 16x32)."""

from __future__ import annotations

import torch

from tests.data import trees
from tests.engine.conftest import CONFIGS

CONFIG = CONFIGS / "pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py"


def test_the_cityscapes_config_trains_two_iterations(train_main, tmp_path):
    trees.cityscapes(tmp_path / "cityscapes")
    work = tmp_path / "work"
    small = [
        f"data_root={tmp_path / 'cityscapes'}",
        "model.model.pretrained=None",
        "sync_bn=None",  # one CPU process
        "train_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0",
        "val_dataloader.persistent_workers=False",
        "train_dataloader.dataset.transform.crop_size=(16,32)",
        "train_cfg.max_iters=2",
        "train_cfg.val_interval=2",
        "param_scheduler.0.end=2",
        "default_hooks.checkpoint.interval=2",
        "log_level=ERROR",
    ]
    torch.set_num_threads(1)
    code = train_main([str(CONFIG), "--work-dir", str(work), "--device", "cpu",
                       "--cfg-options", *small])  # fmt: skip
    assert code == 0
    ckpt = torch.load(work / "iter_2.pth", map_location="cpu", weights_only=True)
    assert ckpt["meta"]["iter"] == 2
    heads = [v for k, v in ckpt["state_dict"].items() if k.endswith("head.classifier.weight")]
    assert len(heads) == 2 and all(h.shape[0] == 19 for h in heads)  # Cityscapes' train ids
    group = ckpt["optimizer"]["param_groups"][0]
    assert (group["momentum"], group["weight_decay"]) == (0.9, 5e-4)
