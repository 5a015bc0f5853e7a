"""A checkpoint's own model description: read from mmengine's saved config text without running
it, compared with a config's model, and enough for `load_network`."""

from __future__ import annotations

from pathlib import Path

import torch

from segood.models import build_model, load_network
from segood.models.description import (
    checkpoint_model_config,
    config_text_value,
    disagreements,
    network_config,
)

TINY = (
    Path(__file__).resolve().parents[2]
    / "configs"
    / "pspnet-conf_r18-d8_1xb2-tiny_streethazards.py"
)


def tiny_config():
    from mmengine.config import Config

    return Config.fromfile(str(TINY))


def test_mmengine_config_text_gives_the_network_config():
    cfg = tiny_config()
    described = checkpoint_model_config({"meta": {"cfg": cfg.pretty_text}})
    expected = network_config(cfg.model)
    assert described == expected
    assert described["type"] == "PSPNet" and described["confidence_branch"] is True


def test_config_text_is_parsed_never_executed(tmp_path):
    marker = tmp_path / "ran"
    text = (
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n"
        f"open({str(marker)!r}, 'w')\n"
        "model = dict(type='SegModel', model=dict(type='PSPNet', encoder='resnet18', "
        "num_classes=3, bins=(1, 2), pretrained=None))\n"
        "evil = __import__('os').system('echo hacked')\n"
    )
    described = checkpoint_model_config({"meta": {"cfg": text}})
    assert described == dict(
        type="PSPNet", encoder="resnet18", num_classes=3, bins=(1, 2), pretrained=None
    )
    assert not marker.exists()
    assert config_text_value(text, "evil") is None  # a call is not a literal
    assert config_text_value("model = (", "model") is None  # syntax error: no description


def test_disagreements_fill_defaults():
    base = dict(type="PSPNet", encoder="resnet101", num_classes=13)
    assert disagreements(base, {**base, "stem": "torchvision", "dropout": 0.5}) == []
    deep = {**base, "stem": "deep"}
    assert disagreements(deep, {**deep, "stem_channels": [64, 64, 128]}) == []
    assert disagreements(base, {**deep, "num_classes": 17}) == [
        "num_classes: config 13, checkpoint 17",
        "stem: config 'torchvision', checkpoint 'deep'",
        "stem_channels: config None, checkpoint [64, 64, 128]",
    ]
    assert disagreements(base, dict(type="AutoEncoder")) == [
        "type: config 'PSPNet', checkpoint 'AutoEncoder'"
    ]


def test_load_network_from_a_training_checkpoint(tmp_path):
    cfg = tiny_config()
    torch.manual_seed(0)
    trained = build_model(network_config(cfg.model)).eval()
    path = tmp_path / "iter_4.pth"
    state = {f"model.{k}": v for k, v in trained.state_dict().items()}
    torch.save({"state_dict": state, "meta": {"cfg": cfg.pretty_text, "iter": 4}}, path)
    net = load_network(path)
    assert not net.training and net.confidence_head is not None
    x = torch.randn(2, 3, 33, 47)
    with torch.no_grad():
        torch.testing.assert_close(net(x), trained(x))  # float32 defaults
