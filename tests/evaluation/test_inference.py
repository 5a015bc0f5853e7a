import torch

from segood.evaluation.inference import InferenceSettings, infer
from segood.models import build_model


def small_model(**kw):
    torch.manual_seed(0)
    return build_model(dict(type="PSPNet", encoder="resnet18", num_classes=5, **kw)).eval()


def test_single_scale_logits_equal_the_plain_forward():
    model, image = small_model(), torch.randn(1, 3, 40, 48)
    out = infer(model, image, InferenceSettings(), {"logits"})
    with torch.no_grad():
        assert torch.allclose(out["logits"], model(image), atol=1e-5)


def test_multi_scale_averages_logits_before_softmax():
    model, image = small_model(), torch.randn(1, 3, 40, 48)
    settings = InferenceSettings(short_sides=(24, 32), full_resolution=True, max_long=1000)
    sizes = settings.sizes(40, 48)
    assert sizes == [(24, 32), (32, 40), (40, 48)]  # 24 -> 24x28.8 -> rounded up to 8: 24x32
    out = infer(model, image, settings, {"logits"})
    with torch.no_grad():  # stride-8 logits of each scale resized straight to the image
        per_scale = []
        for size in sizes:
            x = torch.nn.functional.interpolate(image, size=size, mode="bilinear")
            low = model.decode_head(model.forward_encoder(x)[1])
            per_scale.append(model.upsample(low, (40, 48)))
    assert torch.allclose(out["logits"], torch.stack(per_scale).mean(0), atol=1e-5)
    probs = infer(model, image, InferenceSettings(short_sides=(24, 32)), {"logits"}, seed=0)
    reference = infer(
        model, image, InferenceSettings(short_sides=(24, 32), average="probs"), {"logits"}
    )
    # the reference's behaviour hands averaged probabilities to the scorers
    assert torch.allclose(reference["logits"].sum(1), torch.ones(1, 40, 48), atol=1e-5)
    assert not torch.allclose(probs["logits"].softmax(1), reference["logits"], atol=1e-4)


def test_mc_dropout_passes_rerun_only_the_head_and_are_seeded():
    model, image = small_model(), torch.randn(1, 3, 40, 48)
    settings = InferenceSettings(mc_passes=4)
    a = infer(model, image, settings, {"logits", "dropout_logits"}, seed=7)
    b = infer(model, image, settings, {"logits", "dropout_logits"}, seed=7)
    assert a["dropout_logits"].shape == (4, 1, 5, 40, 48)
    assert torch.equal(a["dropout_logits"], b["dropout_logits"])  # same seed, same passes
    assert not torch.allclose(a["dropout_logits"][0], a["dropout_logits"][1])
    assert not model.training and not model.decode_head.dropout.training
    # each pass equals the full network with dropout on and the same RNG draws
    torch.manual_seed(7)
    model.decode_head.dropout.train()
    with torch.no_grad():
        first = model(image)
    model.decode_head.dropout.eval()
    assert torch.allclose(a["dropout_logits"][0], first, atol=1e-5)


def test_confidence_output():
    model, image = small_model(confidence_branch=True), torch.randn(1, 3, 40, 48)
    out = infer(model, image, InferenceSettings(), {"logits", "confidence"})
    assert out["confidence"].shape == (1, 1, 40, 48)
    assert ((out["confidence"] > 0) & (out["confidence"] < 1)).all()
