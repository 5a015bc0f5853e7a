import pytest
import torch

from segood.models import PSPNet


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The test machine is shared: keep torch to one thread."""
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def psp18() -> PSPNet:
    torch.manual_seed(0)
    return PSPNet(num_classes=5, encoder="resnet18", confidence_branch=True)
