"""Converted CAOS reference checkpoints give the reference network's logits (all three depths),
and every way a conversion can fail is one clear error."""

from __future__ import annotations

import pytest
import torch

from segood.cli import convert as convert_checkpoint
from segood.errors import SegoodError
from segood.models import load_network
from tests.models.csail_reference import random_decoder, random_encoder, reference_logits

FC_DIM = {18: 512, 50: 2048, 101: 2048}


def write_reference(tmp_path, depth: int, classes: int, prefix: str = "", counters=True):
    enc = random_encoder(depth, seed=depth, counters=counters)
    dec = random_decoder(FC_DIM[depth], classes, seed=depth + 1)
    enc_path, dec_path = tmp_path / "encoder_epoch_20.pth", tmp_path / "decoder_epoch_20.pth"
    torch.save({prefix + k: v for k, v in enc.items()}, enc_path)
    torch.save({prefix + k: v for k, v in dec.items()}, dec_path)
    return enc, dec, enc_path, dec_path


def convert(enc_path, dec_path, out, arch, *extra) -> int:
    return convert_checkpoint.main(
        ["csail", "--encoder", str(enc_path), "--decoder", str(dec_path), "--arch", arch,
         "--out", str(out), *extra]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("depth", "prefix", "counters"),
    [(18, "", True), (50, "module.", False), (101, "", True)],
    ids=["r18", "r50-module-prefix-no-bn-counters", "r101"],
)
def test_converted_checkpoint_gives_the_reference_logits(tmp_path, depth, prefix, counters):
    enc, dec, enc_path, dec_path = write_reference(tmp_path, depth, 13, prefix, counters)
    out = tmp_path / "pspnet_sh.pth"
    assert convert(enc_path, dec_path, out, f"resnet{depth}dilated", "--num-classes", "13") == 0
    raw = torch.load(out, map_location="cpu", weights_only=True)
    assert raw["meta"]["model"]["stem"] == "deep" and raw["meta"]["model"]["num_classes"] == 13

    net = load_network(out)
    assert not net.training
    x = torch.randn(1, 3, 65, 97, generator=torch.Generator().manual_seed(7))
    expected, expected_deepsup = reference_logits(enc, dec, x, depth)
    with torch.no_grad():
        logits = net(x)
        layer3, _ = net.forward_encoder(x)
        deepsup = net.aux_head(layer3)
    assert logits.shape == (1, 13, 65, 97)
    # float32 through up to 100 conv+BN layers: agreement to ~1e-5 of the logit scale
    scale = expected.abs().max().item()
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5 * scale)
    torch.testing.assert_close(deepsup, expected_deepsup, rtol=1e-4, atol=1e-5 * scale)
    assert logits.std() > 1e-3 * scale  # not a degenerate (constant) map


def test_transcription_is_sensitive_to_the_dilation_layout(tmp_path):
    """The test above could not pass with the other common dilation layout (every conv of
    layer3/4 at the full rate, as smp's encoders do): the reference's differs from it."""
    enc, dec, enc_path, dec_path = write_reference(tmp_path, 18, 5)
    out = tmp_path / "r18.pth"
    assert convert(enc_path, dec_path, out, "resnet18dilated") == 0
    net = load_network(out)
    for layer in (net.encoder.layer3, net.encoder.layer4):
        first = layer[0].conv1
        first.dilation, first.padding = (layer[1].conv1.dilation,) * 2
    x = torch.randn(1, 3, 65, 97, generator=torch.Generator().manual_seed(7))
    expected, _ = reference_logits(enc, dec, x, 18)
    with torch.no_grad():
        assert not torch.allclose(net(x), expected, rtol=1e-3, atol=1e-3)


@pytest.fixture()
def r18_files(tmp_path):
    return write_reference(tmp_path, 18, 13)


def error_of(capsys, *args) -> str:
    assert convert(*args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_unmapped_keys_are_named(r18_files, tmp_path, capsys):
    enc, _, enc_path, dec_path = r18_files
    torch.save({**enc, "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}, enc_path)
    err = error_of(capsys, enc_path, dec_path, tmp_path / "o.pth", "resnet18dilated")
    assert "2 keys of --encoder" in err and "fc.weight, fc.bias" in err
    assert not (tmp_path / "o.pth").exists()


def test_shape_mismatch_and_missing_keys_are_named(r18_files, tmp_path, capsys):
    _, dec, enc_path, dec_path = r18_files
    bad = dict(dec)
    bad["conv_last_deepsup.weight"] = torch.zeros(7, 128, 1, 1)
    del bad["ppm.3.2.running_var"]
    torch.save(bad, dec_path)
    err = error_of(capsys, enc_path, dec_path, tmp_path / "o.pth", "resnet18dilated")
    assert "conv_last_deepsup" not in err  # named by the network's key, with both shapes
    assert "aux_head.classifier.weight: file [7, 128, 1, 1] vs network [13, 128, 1, 1]" in err
    assert "1 weights missing (decode_head.ppm.stages.3.2.running_var)" in err


@pytest.mark.parametrize(
    ("arch", "extra", "message"),
    [
        ("resnet101dilated", [], "holds a resnet18 but --arch is resnet101dilated"),
        ("resnet34dilated", [], "--arch 'resnet34dilated' is not supported"),
        ("resnet18dilated", ["--num-classes", "17"], "has 13 classes"),
        ("resnet18dilated", ["--decoder-arch", "upernet"], "'upernet' is not supported"),
    ],
)
def test_wrong_arguments(r18_files, tmp_path, capsys, arch, extra, message):
    _, _, enc_path, dec_path = r18_files
    assert message in error_of(capsys, enc_path, dec_path, tmp_path / "o.pth", arch, *extra)


def test_swapped_files_and_unwritable_out(r18_files, tmp_path, capsys):
    _, _, enc_path, dec_path = r18_files
    err = error_of(capsys, dec_path, enc_path, tmp_path / "o.pth", "resnet18dilated")
    assert "has no 'conv_last.4.weight'" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = error_of(capsys, enc_path, dec_path, blocker / "o.pth", "resnet18dilated")
    assert "cannot write --out" in err


def test_load_network_needs_a_description(tmp_path):
    path = tmp_path / "bare.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)
    with pytest.raises(SegoodError, match="does not say which network it holds"):
        load_network(path)
