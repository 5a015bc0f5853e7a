import pytest
import torch

from segood.models import AutoEncoder, build_model
from tests.conftest import _streethazards

CONFIG = "configs/pspnet_r18-d8_1xb2-tiny_streethazards.py"


@pytest.fixture(scope="session")
def eval_assets(tmp_path_factory):
    """A tiny StreetHazards and random-weight checkpoints (plain, confidence branch, AE)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("eval")
    _streethazards(root / "sh", n_train=2, n_val=2, n_test=5, size=(40, 56), seed=3)
    torch.manual_seed(0)
    paths = {"root": root / "sh"}
    for key, cfg in {
        "psp": dict(type="PSPNet", encoder="resnet18", num_classes=13),
        "conf": dict(type="PSPNet", encoder="resnet18", num_classes=13, confidence_branch=True),
        "psp17": dict(type="PSPNet", encoder="resnet18", num_classes=17),
    }.items():
        paths[key] = root / f"{key}.pth"
        torch.save(build_model(cfg).state_dict(), paths[key])
    paths["ae"] = root / "ae.pth"
    torch.save(AutoEncoder().state_dict(), paths["ae"])
    return paths
