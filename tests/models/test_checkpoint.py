import pytest
import torch

from segood.errors import SegoodError
from segood.models import PSPNet, load_model_weights


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(2)
    return PSPNet(num_classes=4, encoder="resnet18")


def test_bare_state_dict_roundtrip(small, tmp_path):
    path = tmp_path / "bare.pth"
    torch.save(small.state_dict(), path)
    other = PSPNet(num_classes=4, encoder="resnet18")
    result = load_model_weights(other, path)
    assert result.missing == [] and result.unexpected == [] and result.meta == {}
    torch.testing.assert_close(
        other.decode_head.classifier.weight, small.decode_head.classifier.weight
    )


def test_mmengine_checkpoint_with_prefix_and_message_hub(small, tmp_path):
    from mmengine.logging import MessageHub

    hub = MessageHub.get_instance("segood-test-checkpoint")
    hub.update_scalar("train/loss", 1.5)
    hub.update_info("iter", 7)
    path = tmp_path / "epoch_1.pth"
    torch.save(
        {
            "meta": {"epoch": 1, "iter": 7, "dataset_meta": {"classes": ("a", "b", "c", "d")}},
            "state_dict": {f"model.{k}": v for k, v in small.state_dict().items()},
            "message_hub": hub.state_dict(),
            "optimizer": torch.optim.SGD(small.parameters(), lr=0.1, momentum=0.9).state_dict(),
        },
        path,
    )
    other = PSPNet(num_classes=4, encoder="resnet18")
    result = load_model_weights(other, path)
    assert result.meta["epoch"] == 1
    torch.testing.assert_close(other.encoder.conv1.weight, small.encoder.conv1.weight)


def test_class_count_mismatch(tmp_path):
    path = tmp_path / "bdd.pth"
    torch.save({"state_dict": PSPNet(num_classes=17, encoder="resnet18").state_dict()}, path)
    with pytest.raises(SegoodError) as err:
        load_model_weights(PSPNet(num_classes=13, encoder="resnet18"), path)
    msg = str(err.value)
    assert "bdd.pth has 17 classes" in msg
    assert "decode_head.classifier.weight [17, 512, 1, 1]" in msg and "builds 13" in msg


def test_corrupt_and_truncated_and_missing_files(small, tmp_path):
    good = tmp_path / "good.pth"
    torch.save(small.state_dict(), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:1000])
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    for path in (truncated, garbage):
        with pytest.raises(SegoodError, match=rf"{path.name} could not be read"):
            load_model_weights(small, path)
    with pytest.raises(SegoodError, match=r"absent\.pth does not exist"):
        load_model_weights(small, tmp_path / "absent.pth")


def test_missing_keys_strict_and_lenient(small, tmp_path):
    path = tmp_path / "plain.pth"
    torch.save(small.state_dict(), path)
    with_branch = PSPNet(num_classes=4, encoder="resnet18", confidence_branch=True)
    with pytest.raises(SegoodError, match=r"missing 2 keys \(confidence_head\.conv\.weight"):
        load_model_weights(with_branch, path)
    result = load_model_weights(with_branch, path, strict=False)
    assert result.missing == ["confidence_head.conv.weight", "confidence_head.conv.bias"]


def test_wrong_encoder_is_a_shape_error(small, tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(small.state_dict(), path)
    with pytest.raises(SegoodError, match="does not fit the model"):
        load_model_weights(PSPNet(num_classes=4, encoder="resnet50"), path)
