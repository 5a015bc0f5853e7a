import pytest
import torch

from segood.errors import SegoodError
from segood.models import MODELS, AutoEncoder, PSPNet, build_model

TINY = {
    "PSPNet": dict(type="PSPNet", encoder="resnet18", num_classes=3, aux_weight=0.4),
    "AutoEncoder": dict(type="AutoEncoder", channels=(8, 8, 16, 16), latent_channels=4),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_builds_and_keeps_the_input_resolution(name):
    model = build_model(TINY[name]).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 30, 45))
    assert out.shape[0] == 2 and out.shape[-2:] == (30, 45)
    assert torch.isfinite(out).all()


def test_cfg_and_kwargs():
    model = build_model(dict(type="PSPNet", encoder="resnet18", num_classes=3), aux_weight=0.0)
    assert isinstance(model, PSPNet) and model.aux_head is None and model.num_classes == 3
    assert isinstance(build_model(type="AutoEncoder"), AutoEncoder)


@pytest.mark.parametrize(
    ("cfg", "match"),
    [
        (dict(type="UNet"), "model.type='UNet' is unknown"),
        (dict(encoder="resnet18"), "model.type=None"),
        (
            dict(type="PSPNet", num_classes=3, encoder="resnet18", clases=3),
            r"unknown keys \['clases'\]",
        ),
        (dict(type="PSPNet", encoder="resnet18"), "num_classes"),
    ],
)
def test_config_errors(cfg, match):
    with pytest.raises(SegoodError, match=match):
        build_model(cfg)
