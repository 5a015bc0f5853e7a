"""Feature and gradient scorers in the CAOS evaluation: what the model is asked for, fits on the
validation split, score maps resized to the image, and the tool end to end."""

import json
import math

import numpy as np
import torch
import torch.nn.functional as F

from segood.cli import eval_caos
from segood.data import build_dataset
from segood.evaluation.inference import InferenceSettings, infer
from segood.evaluation.model_source import ModelSource, normalize
from segood.models import build_model, load_model_weights
from segood.scorers import get
from segood.scorers.odin import odin
from tests.evaluation.conftest import CONFIG

torch.set_num_threads(1)


def plain_model(assets):
    model = build_model(dict(type="PSPNet", encoder="resnet18", num_classes=13))
    load_model_weights(model, assets["psp"])
    return model.eval()


def evaluation(assets, tmp_path, scorers, **kw):
    return ModelSource(
        fit_dataset=build_dataset("streethazards", assets["root"], "validation"),
        model=plain_model(assets),
        scorers=scorers,
        progress=False,
        **kw,
    )


def test_outputs_hold_exactly_what_the_scorers_need(eval_assets, tmp_path):
    ds = build_dataset("streethazards", eval_assets["root"], "test")
    image = normalize(ds[0]["image"], "cpu")
    plain = evaluation(eval_assets, tmp_path, {"msp": get("msp")})
    assert set(plain.outputs(image, "a")) == {"logits"}
    both = evaluation(eval_assets, tmp_path, {"odin": get("odin"), "knn": get("knn")})
    assert both.needs == {"model", "inputs", "features"}
    out = both.outputs(image, "a")
    assert set(out) == {"logits", "features", "model", "inputs"}
    h, w = image.shape[-2:]
    assert out["features"].shape == (1, 512, math.ceil(h / 8), math.ceil(w / 8))
    assert out["inputs"] is image
    logits = out["model"](image)  # single scale, full resolution, with gradients
    assert logits.requires_grad and logits.shape == (1, 13, h, w)
    torch.testing.assert_close(logits.detach(), out["logits"], rtol=1e-5, atol=1e-5)


def test_features_come_from_the_full_resolution_pass(eval_assets):
    model, image = plain_model(eval_assets), torch.randn(1, 3, 40, 56)
    settings = InferenceSettings(short_sides=(24, 64), full_resolution=True)
    sizes = settings.sizes(40, 56)
    assert sizes[-1] == (40, 56) and len(sizes) == 3
    out = infer(model, image, settings, {"logits", "features"})
    single = infer(model, image, InferenceSettings(), {"logits", "features"})
    torch.testing.assert_close(out["features"], single["features"])


def test_fit_on_validation_equals_a_manual_fit_and_maps_are_resized(eval_assets, tmp_path):
    names = ("mahalanobis", "vim", "knn")
    ev = evaluation(eval_assets, tmp_path, {n: get(n) for n in names})
    ev.prepare(tmp_path / "fits", 0)
    model = plain_model(eval_assets)
    conv = model.decode_head.classifier  # the 1x1 classifier on the decoder features
    w, b = conv.weight.detach()[:, :, 0, 0], conv.bias.detach()
    manual = {n: get(n) for n in names}
    val = build_dataset("streethazards", eval_assets["root"], "validation")
    for i in range(len(val)):
        item = val[i]
        with torch.no_grad():
            out = model(normalize(item["image"], "cpu"), return_features=True)
        label = torch.as_tensor(item["label"])
        keep = ((label >= 0) & (label < 13))[None, 4::8, 4::8]  # pixel centres of the 8x8 cells
        small = F.interpolate(out.logits, size=out.features.shape[-2:], mode="bilinear")
        for scorer in manual.values():
            inputs = {"features": out.features, "logits": small, "classifier": (w, b)}
            scorer.update(**{k: inputs[k] for k in scorer.requires}, mask=keep)
    for name in names:
        assert (tmp_path / "fits" / f"{name}.pt").exists()
        fitted, expected = ev.scorers[name].state_dict(), manual[name].state_dict()
        for key in expected:
            torch.testing.assert_close(fitted[key], expected[key], rtol=1e-5, atol=1e-4)
    # ViM's origin is the paper's -pinv(W) b of the model's classifier
    origin = -np.linalg.pinv(w.double().numpy()) @ b.double().numpy()
    np.testing.assert_allclose(ev.scorers["vim"].subspace()[0].numpy(), origin, rtol=1e-9)
    # the evaluation's map is the feature-grid score resized bilinearly to the image
    item = build_dataset("streethazards", eval_assets["root"], "test")[0]
    image = normalize(item["image"], "cpu")
    outputs = ev.outputs(image, item["name"])
    maps = ev.score(outputs)
    for name in names:
        scorer = ev.scorers[name]
        grid = scorer(**{k: outputs[k] for k in scorer.requires})
        assert grid.shape == (1, *outputs["features"].shape[-2:])
        up = F.interpolate(grid[:, None], size=image.shape[-2:], mode="bilinear")[0, 0]
        assert maps[name].shape == item["label"].shape
        np.testing.assert_allclose(maps[name], up.numpy(), rtol=1e-6, atol=1e-6)


def test_gradient_scores_equal_the_direct_call(eval_assets, tmp_path):
    ev = evaluation(eval_assets, tmp_path, {"odin": get("odin"), "pro_msp": get("pro_msp")})
    item = build_dataset("streethazards", eval_assets["root"], "test")[1]
    image = normalize(item["image"], "cpu")
    maps = ev.score(ev.outputs(image, item["name"]))
    model = plain_model(eval_assets)
    direct = odin(model, image, 1000.0, 5e-5)[0].numpy()
    np.testing.assert_allclose(maps["odin"], direct, rtol=1e-6, atol=1e-7)
    assert maps["pro_msp"].shape == item["label"].shape
    with torch.no_grad():
        plain_msp = get("msp")(model(image))[0].numpy()
    assert (maps["pro_msp"] >= plain_msp - 1e-6).all()
    assert not any(p.grad is not None for p in model.parameters())


def test_the_tool_runs_gradient_and_feature_scorers(eval_assets, tmp_path, capsys):
    out = tmp_path / "out"
    extra = ["odin", "mahalanobis", "knn", "vim", "pro_msp"]
    code = eval_caos.main(
        [
            CONFIG,
            "--checkpoint",
            str(eval_assets["psp"]),
            "--data-root",
            str(eval_assets["root"]),
            "--scales",
            "full",
            "--out",
            str(out),
            "--scorers",
            "msp",
            "--extra-scorers",
            *extra,
            "--panels",
            "1",
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    assert code == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())["streethazards"]
    assert set(results["caos"]) == {"msp", *extra}
    for name in extra:
        for key in ("auroc", "aupr", "fpr95"):
            assert 0 <= results["caos"][name][key] <= 1
    for name in ("mahalanobis", "knn", "vim"):
        assert (out / "fits" / f"{name}.pt").exists()
