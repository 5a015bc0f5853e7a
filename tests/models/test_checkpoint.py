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


class Pickled:
    """A Python object that a weights-only load must refuse (and name)."""


@pytest.mark.parametrize("loader", ["models", "engine", "scorer"])
def test_refused_object_is_named_without_unsafe_advice(tmp_path, loader):
    import argparse

    from segood.engine import load_from_local_weights_only
    from segood.scorers import get

    path = tmp_path / "with_args.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "args": argparse.Namespace(lr=0.1)}, path)
    load = {
        "models": lambda: load_model_weights(PSPNet(num_classes=4, encoder="resnet18"), path),
        "engine": lambda: load_from_local_weights_only(str(path)),
        "scorer": lambda: get("sml").load(path),
    }[loader]
    with pytest.raises(SegoodError) as err:
        load()
    msg = str(err.value)
    assert "with_args.pth could not be read" in msg
    assert "a PyTorch zip archive" in msg  # what the file is
    assert "class argparse.Namespace" in msg  # the refused class, named
    for unsafe in ("weights_only=False", "weights_only` set to `False", "add_safe_globals"):
        assert unsafe not in msg
    assert "\n" not in msg and "Weights only load failed" not in msg  # our words, not torch's


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"", "an empty file"),
        (b"\x89HDF\r\n\x1a\n" + b"\0" * 50, "an HDF5 file"),
        (b"hello", "not a PyTorch file"),
    ],
)
def test_unreadable_file_says_what_it_is(tmp_path, content, kind):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(SegoodError) as err:
        load_model_weights(PSPNet(num_classes=4, encoder="resnet18"), path)
    msg = str(err.value)
    assert f"weights.pth could not be read as PyTorch weights: it is {kind}" in msg
    assert "weights_only" not in msg


def test_numpy_object_arrays_are_refused_in_our_words(tmp_path):
    import numpy as np

    from segood.classification.logits_io import load_output_set

    path = tmp_path / "logits.npz"
    np.savez(path, logits=np.array([{"a": 1}], dtype=object))
    with pytest.raises(SegoodError) as err:
        load_output_set(path)
    msg = str(err.value)
    assert "holds Python objects" in msg and "allow_pickle" not in msg


def test_a_checkpoint_of_another_network_is_named(tmp_path):
    from segood.models import AutoEncoder

    path = tmp_path / "ae.pth"
    torch.save(
        {"state_dict": {f"model.{k}": v for k, v in AutoEncoder().state_dict().items()}}, path
    )
    with pytest.raises(SegoodError) as err:
        load_model_weights(PSPNet(num_classes=4, encoder="resnet18"), path)
    msg = str(err.value)
    assert "holds none of the weights of a PSPNet" in msg
    assert "it looks like an AutoEncoder checkpoint" in msg
