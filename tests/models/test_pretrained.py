import pytest
import torch
import torchvision

from segood.errors import SegoodError
from segood.models import PSPNet


@pytest.fixture(scope="module")
def tv_resnet18(tmp_path_factory):
    torch.manual_seed(1)
    state = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(state, path)
    return path, state


def test_loads_a_torchvision_state_dict(tv_resnet18):
    path, state = tv_resnet18
    model = PSPNet(num_classes=3, encoder="resnet18", pretrained=str(path))
    enc = model.encoder.state_dict()
    for key in ("conv1.weight", "layer4.1.conv2.weight", "layer3.0.bn1.running_var"):
        torch.testing.assert_close(enc[key], state[key])
    assert model.encoder.layer4[0].conv2.dilation == (4, 4)  # still dilated after loading


def test_loads_an_smp_style_prefixed_state_dict(tv_resnet18, tmp_path):
    _, state = tv_resnet18
    path = tmp_path / "smp.pth"
    smp_state = {f"encoder.{k}": v for k, v in state.items() if not k.startswith("fc.")}
    torch.save({"state_dict": smp_state}, path)
    model = PSPNet(num_classes=3, encoder="resnet18", pretrained=path)
    torch.testing.assert_close(model.encoder.conv1.weight, state["conv1.weight"])


def test_imagenet_explains_how_to_supply_a_file():
    with pytest.raises(SegoodError) as err:
        PSPNet(num_classes=3, encoder="resnet18", pretrained="imagenet")
    msg = str(err.value)
    assert "no weights can be downloaded" in msg
    assert "torchvision.models.resnet18" in msg and "model.pretrained=" in msg


def test_missing_file(tmp_path):
    with pytest.raises(SegoodError, match=r"nope\.pth does not exist"):
        PSPNet(num_classes=3, encoder="resnet18", pretrained=tmp_path / "nope.pth")


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(SegoodError, match=r"list\.pth does not hold a state dict"):
        PSPNet(num_classes=3, encoder="resnet18", pretrained=path)


def test_wrong_depth_is_a_shape_error(tv_resnet18):
    path, _ = tv_resnet18
    with pytest.raises(SegoodError, match=r"resnet18\.pth does not fit the resnet50 encoder"):
        PSPNet(num_classes=3, encoder="resnet50", pretrained=path)


def test_extra_blocks_are_reported(tmp_path):
    path = tmp_path / "resnet34.pth"
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    with pytest.raises(SegoodError, match=r"keys that the resnet18 encoder lacks \(layer1\.2"):
        PSPNet(num_classes=3, encoder="resnet18", pretrained=path)


@pytest.fixture(scope="module")
def csail_resnet18(tmp_path_factory):
    """A file laid out like CSAIL's resnet18-imagenet.pth: deep stem, fc, no BN counters."""
    from tests.models.csail_reference import random_encoder

    state = random_encoder(18, seed=5, counters=False)
    state.update({"fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)})
    path = tmp_path_factory.mktemp("csail") / "resnet18-imagenet.pth"
    torch.save(state, path)
    return path, state


def test_loads_csails_deep_stem_imagenet_file(csail_resnet18):
    path, state = csail_resnet18
    model = PSPNet(num_classes=3, encoder="resnet18", stem="deep", pretrained=path)
    enc = model.encoder.state_dict()
    for key in ("conv3.weight", "bn2.running_var", "layer1.0.downsample.0.weight"):
        torch.testing.assert_close(enc[key], state[key])
    assert model.encoder.layer4[1].conv1.dilation == (4, 4)


def test_a_file_with_the_other_stem_says_so(csail_resnet18, tv_resnet18):
    with pytest.raises(SegoodError) as err:
        PSPNet(num_classes=3, encoder="resnet18", stem="deep", pretrained=tv_resnet18[0])
    msg = str(err.value)
    assert "holds a torchvision-stem ResNet but the model has stem='deep'" in msg
    assert "resnet18-imagenet.pth" in msg and "pspnet_r101b-d8" in msg
    with pytest.raises(SegoodError, match="holds a deep-stem ResNet but the model has stem="):
        PSPNet(num_classes=3, encoder="resnet18", pretrained=csail_resnet18[0])


def test_imagenet_for_the_deep_stem_names_csails_file():
    with pytest.raises(SegoodError) as err:
        PSPNet(num_classes=3, encoder="resnet101", stem="deep", pretrained="imagenet")
    assert "pretrained_resnet/resnet101-imagenet.pth" in str(err.value)
