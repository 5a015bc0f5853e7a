import pytest
import torch

from segood.models import PSPNet


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test machine is shared: keep torch to one thread."""
    torch.set_num_threads(1)


@pytest.fixture(scope="module", params=["torchvision", "deep"])
def psp18(request) -> PSPNet:
    """A ResNet-18 PSPNet with a confidence branch, with either stem (deep: the reference's)."""
    torch.manual_seed(0)
    deep = dict(stem="deep", ppm_channels=512, aux_channels=128) if request.param == "deep" else {}
    return PSPNet(num_classes=5, encoder="resnet18", confidence_branch=True, **deep)
