import pytest
import torch

from segood.errors import SegoodError
from segood.models import PSPNet, SegOutput


def dilations(layer: torch.nn.Module) -> set[int]:
    """Dilations of the 3x3 convs (dilating a 1x1 conv changes nothing)."""
    convs = [m for m in layer.modules() if isinstance(m, torch.nn.Conv2d)]
    return {m.dilation[0] for m in convs if m.kernel_size == (3, 3)}


def strides(layer: torch.nn.Module) -> set[int]:
    return {m.stride[0] for m in layer.modules() if isinstance(m, torch.nn.Conv2d)}


def test_resnet101_is_the_papers_dilated_layout():
    model = PSPNet(num_classes=13, encoder="resnet101").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        layer3, layer4 = model.forward_encoder(x)
        out = model(x, return_features=True)
    assert layer3.shape == (1, 1024, 8, 8)
    assert layer4.shape == (1, 2048, 8, 8)  # layer4 at 1/8
    assert len(model.encoder.layer3) == 23  # ResNet-101: 3, 4, 23, 3 bottlenecks
    assert strides(model.encoder.layer3) == {1} and strides(model.encoder.layer4) == {1}
    assert dilations(model.encoder.layer3) == {2}
    assert dilations(model.encoder.layer4) == {4}
    assert model.decode_head.ppm.bins == (1, 2, 3, 6)
    assert [s[1].out_channels for s in model.decode_head.ppm.stages] == [512] * 4
    assert model.decode_head.bottleneck[0].in_channels == 4096
    assert model.decode_head.dropout.p == pytest.approx(0.1)
    assert isinstance(model.decode_head.dropout, torch.nn.Dropout2d)
    assert model.aux_head.conv[0].in_channels == 1024
    assert model.aux_head.conv[0].out_channels == 256
    assert model.aux_weight == pytest.approx(0.4)
    assert out.features.shape == (1, 512, 8, 8)
    assert out.logits.shape == (1, 13, 64, 64)


@pytest.mark.parametrize(
    ("encoder", "c3", "c4"), [("resnet18", 256, 512), ("resnet50", 1024, 2048)]
)
def test_encoder_channels_at_stride_8(encoder, c3, c4):
    model = PSPNet(num_classes=3, encoder=encoder).eval()
    with torch.no_grad():
        layer3, layer4 = model.forward_encoder(torch.randn(1, 3, 32, 48))
    assert layer3.shape == (1, c3, 4, 6)
    assert layer4.shape == (1, c4, 4, 6)


@pytest.mark.parametrize("size", [(32, 48), (30, 45)])
def test_logits_at_input_resolution(psp18, size):
    psp18.eval()
    with torch.no_grad():
        logits = psp18(torch.randn(2, 3, *size))
    assert isinstance(logits, torch.Tensor)
    assert logits.shape == (2, 5, *size)


def test_full_output_eval_and_train(psp18):
    x = torch.randn(2, 3, 32, 48)
    psp18.eval()
    with torch.no_grad():
        out = psp18(x, return_features=True)
    assert isinstance(out, SegOutput)
    assert out.aux_logits is None  # aux head only in training
    assert out.features.shape == (2, 512, 4, 6)
    assert out.confidence.shape == (2, 32, 48)
    assert ((out.confidence > 0) & (out.confidence < 1)).all()
    psp18.train()
    out = psp18(x, return_features=True)
    assert out.aux_logits.shape == (2, 5, 32, 48)
    assert out.logits.shape == (2, 5, 32, 48)
    psp18.eval()


def test_mc_dropout_from_cached_features_equals_full_passes(psp18):
    x = torch.randn(2, 3, 32, 48)
    psp18.eval()
    psp18.decode_head.dropout.train()  # MC dropout: only the dropout is stochastic
    try:
        with torch.no_grad():
            _, layer4 = psp18.forward_encoder(x)
            feats = psp18.decode_head.features(layer4)  # trunk once
            for seed in range(3):
                torch.manual_seed(seed)
                full = psp18(x)
                torch.manual_seed(seed)
                cached = psp18.upsample(psp18.decode_head.classify(feats), x.shape[-2:])
                torch.testing.assert_close(cached, full)
            torch.manual_seed(0)
            a = psp18(x)
            torch.manual_seed(1)
            assert not torch.allclose(a, psp18(x))  # the passes really differ
    finally:
        psp18.eval()


def test_no_aux_head_at_weight_zero_and_no_confidence_by_default():
    model = PSPNet(num_classes=3, encoder="resnet18", aux_weight=0.0).train()
    out = model(torch.randn(2, 3, 32, 32), return_features=True)
    assert model.aux_head is None and out.aux_logits is None
    assert model.confidence_head is None and out.confidence is None


def test_batch_of_one_in_training_is_a_clear_error():
    model = PSPNet(num_classes=3, encoder="resnet18").train()
    with pytest.raises(SegoodError, match="batch of 1"):
        model(torch.randn(1, 3, 32, 32))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(num_classes=3, encoder="vgg16"), "model.encoder='vgg16'"),
        (dict(num_classes=0, encoder="resnet18"), "model.num_classes=0"),
        (dict(num_classes=3, encoder="resnet18", output_stride=4), "output_stride=4"),
    ],
)
def test_bad_config_is_a_segood_error(kwargs, match):
    with pytest.raises(SegoodError, match=match):
        PSPNet(**kwargs)


def test_deep_stem_is_the_reference_layout():
    """CSAIL's resnet.py + ResnetDilated(dilate_scale=8): stem, stride placement, dilations."""
    enc = PSPNet(num_classes=13, encoder="resnet101", stem="deep").encoder
    convs = (enc.conv1, enc.conv2, enc.conv3)
    stem = [(c.in_channels, c.out_channels, c.kernel_size, c.stride) for c in convs]
    assert stem == [(3, 64, (3, 3), (2, 2)), (64, 64, (3, 3), (1, 1)), (64, 128, (3, 3), (1, 1))]
    assert (enc.maxpool.kernel_size, enc.maxpool.stride, enc.maxpool.padding) == (3, 2, 1)
    assert enc.layer1[0].conv1.in_channels == 128 and enc.layer1[0].downsample is not None
    assert enc.layer2[0].conv2.stride == (2, 2) and enc.layer2[0].conv1.stride == (1, 1)
    assert [len(enc.layer3), len(enc.layer4)] == [23, 3]
    for layer, rate in ((enc.layer3, 2), (enc.layer4, 4)):
        assert strides(layer) == {1}
        first = layer[0].conv2
        assert first.dilation == first.padding == (rate // 2, rate // 2)  # loses its stride
        assert {b.conv2.dilation[0] for b in layer[1:]} == {rate}
        assert {b.conv2.padding[0] for b in layer[1:]} == {rate}
    bns = [m for m in enc.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert {(m.eps, m.momentum) for m in bns} == {(1e-5, 0.1)}


def test_deep_stem_resnet18_dilates_both_convs_of_later_blocks():
    enc = PSPNet(num_classes=3, encoder="resnet18", stem="deep").encoder
    first, second = enc.layer4
    assert (first.conv1.dilation, first.conv2.dilation) == ((2, 2), (4, 4))
    assert (second.conv1.dilation, second.conv2.dilation) == ((4, 4), (4, 4))
    with torch.no_grad():
        layer3, layer4 = (
            PSPNet(num_classes=3, encoder="resnet18", stem="deep")
            .eval()
            .forward_encoder(torch.randn(1, 3, 65, 97))
        )
    assert layer3.shape == (1, 256, 9, 13) and layer4.shape == (1, 512, 9, 13)


def test_deep_stem_trains_through_seg_model():
    from segood.engine import SegModel

    torch.manual_seed(0)
    net = dict(type="PSPNet", encoder="resnet18", stem="deep", num_classes=4, aux_channels=128,
               ppm_channels=512)  # fmt: skip
    model = SegModel(model=net).train()
    x = torch.randn(2, 3, 48, 64)
    labels = torch.randint(0, 4, (2, 48, 64))
    losses = model(x, {"labels": labels}, mode="loss")
    assert set(losses) == {"loss_ce", "loss_aux"}
    sum(losses.values()).backward()
    assert model.model.encoder.conv2.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(stem="resnet-d"), "model.stem='resnet-d'"),
        (dict(stem="deep", stem_channels=(32, 64)), "must be 3 positive widths"),
        (dict(stem_channels=(32, 32, 64)), "applies to stem='deep' only"),
    ],
)
def test_bad_stem_is_a_segood_error(kwargs, match):
    with pytest.raises(SegoodError, match=match):
        PSPNet(num_classes=3, encoder="resnet18", **kwargs)


def test_forward_features_then_head_is_forward(psp18):
    x = torch.randn(2, 3, 32, 48)
    psp18.eval()
    with torch.no_grad():
        feats = psp18.forward_features(x)
        out = psp18(x, return_features=True)
        logits = psp18.forward_head(feats, x.shape[-2:])
    assert feats.shape == (2, psp18.decode_head.classifier.in_channels, 4, 6)  # stride 8
    torch.testing.assert_close(feats, out.features)
    torch.testing.assert_close(logits, out.logits)
