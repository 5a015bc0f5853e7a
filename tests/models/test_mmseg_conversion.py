"""Converted mmsegmentation PSPNet-d8 checkpoints (Cityscapes, 19 classes) give mmsegmentation's
logits, and conversion errors name what is wrong."""

from __future__ import annotations

import pytest
import torch

from segood.cli import convert as convert_checkpoint
from segood.models import load_network
from tests.models.mmseg_reference import mmseg_logits, random_mmseg_pspnet


def convert(path, out, *extra) -> int:
    return convert_checkpoint.main(["mmseg", "--checkpoint", str(path), "--out", str(out), *extra])


@pytest.mark.parametrize("depth", [50, 101])
def test_converted_checkpoint_gives_mmsegmentations_logits(tmp_path, depth):
    state = random_mmseg_pspnet(depth, 19, seed=depth)
    path = tmp_path / f"pspnet_r{depth}-d8_512x1024_80k_cityscapes.pth"
    meta = {"CLASSES": ["road"] * 19, "config": "model = dict(type='EncoderDecoder')"}
    torch.save({"meta": meta, "state_dict": state}, path)
    out = tmp_path / "converted.pth"
    assert convert(path, out, "--num-classes", "19") == 0
    described = torch.load(out, weights_only=True)["meta"]["model"]
    assert (described["stem_channels"], described["aux_channels"]) == ([32, 32, 64], 256)

    net = load_network(out)
    x = torch.randn(1, 3, 65, 97, generator=torch.Generator().manual_seed(3))
    expected, expected_aux = mmseg_logits(state, x, depth)
    with torch.no_grad():
        logits = net(x)
        aux = net.aux_head(net.forward_encoder(x)[0])
    assert logits.shape == (1, 19, 65, 97)
    scale = expected.abs().max().item()  # float32 through ~100 layers: 1e-5 of the scale
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5 * scale)
    torch.testing.assert_close(aux, expected_aux, rtol=1e-4, atol=1e-5 * scale)
    assert logits.std() > 1e-3 * scale


@pytest.fixture(scope="module")
def r50(tmp_path_factory):
    return random_mmseg_pspnet(50, 19, seed=1)


def error_of(capsys, path, out, *extra) -> str:
    assert convert(path, out, *extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
    return err


def test_two_conv_auxiliary_head_is_not_silently_dropped(r50, tmp_path, capsys):
    state = dict(r50)
    state["auxiliary_head.convs.1.conv.weight"] = torch.zeros(256, 256, 3, 3)
    path = tmp_path / "two_convs.pth"
    torch.save({"state_dict": state}, path)
    err = error_of(capsys, path, tmp_path / "o.pth")
    assert "1 keys of --checkpoint" in err and "auxiliary_head.convs.1.conv.weight" in err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("decode_head.conv_seg.weight"), "has no 'decode_head.conv_seg.weight'"),
        (
            lambda s: s.pop("backbone.layer2.1.bn2.running_mean"),
            "1 weights missing (encoder.layer2.1.bn2.running_mean)",
        ),
        (
            lambda s: s.update(
                {"decode_head.bottleneck.conv.weight": torch.zeros(512, 4096, 1, 1)}
            ),
            "decode_head.bottleneck.0.weight: file [512, 4096, 1, 1] vs network [512, 4096, 3, 3]",
        ),
    ],
)
def test_broken_checkpoints(r50, tmp_path, capsys, edit, message):
    state = dict(r50)
    edit(state)
    path = tmp_path / "broken.pth"
    torch.save({"state_dict": state}, path)
    assert message in error_of(capsys, path, tmp_path / "o.pth")


def test_class_count_and_depth_checks(r50, tmp_path, capsys):
    path = tmp_path / "r50.pth"
    torch.save({"state_dict": r50}, path)
    assert "has 19 classes" in error_of(capsys, path, tmp_path / "o.pth", "--num-classes", "13")
    r18 = {k: v for k, v in r50.items() if not k.startswith("backbone.layer")}
    r18["backbone.layer3.0.conv1.weight"] = torch.zeros(256, 128, 3, 3)
    torch.save({"state_dict": r18}, path)
    assert "only mmsegmentation's ResNet-50/101" in error_of(capsys, path, tmp_path / "o.pth")
