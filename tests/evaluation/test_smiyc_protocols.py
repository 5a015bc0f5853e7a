"""The SegmentMeIfYouCan protocols through the evaluation: wiring, shards, the tool's table."""

import json

import numpy as np
import pytest
import torch

from segood.cli import eval_caos
from segood.data import build_dataset
from segood.evaluation.api import evaluate
from segood.evaluation.runner import normalize
from segood.metrics.components import ComponentAccumulator
from segood.metrics.smiyc import TRACKS, SmiycPixelAccumulator, Track
from segood.models import build_model, load_model_weights
from segood.scorers import get
from tests.evaluation.conftest import CONFIG
from tests.evaluation.test_eval_caos import options


def score_maps(assets, names):
    """Every test image's score maps, straight from the model (no evaluation code)."""
    model = build_model(dict(type="PSPNet", encoder="resnet18", num_classes=13))
    load_model_weights(model, assets["psp"])
    model.eval()
    ds = build_dataset("streethazards", assets["root"], "test")
    out = []
    for i in range(len(ds)):
        item = ds[i]
        with torch.no_grad():
            logits = model(normalize(item["image"], "cpu"))
        label = np.asarray(item["label"])
        maps = {name: get(name)(logits)[0].numpy() for name in names}
        out.append((item["name"], maps, ds.is_anomaly(label), label == ds.ignore_index))
    return out


@pytest.mark.parametrize(
    ("protocol", "filters"),
    [("smiyc-obstacle", None), ("smiyc-anomaly", None), ("smiyc-obstacle", (1, 1))],
    ids=["obstacle", "anomaly", "small-filters"],
)
def test_protocol_equals_the_metrics_applied_to_the_score_maps(
    eval_assets, tmp_path, monkeypatch, protocol, filters
):
    if filters:  # the test images' objects are smaller than the official filters: keep them
        monkeypatch.setitem(TRACKS, protocol, Track(*filters))
    names = ["msp", "maxlogit"]
    results = evaluate(options(eval_assets, tmp_path, scorers=names, protocol=protocol))
    got = results["streethazards"][protocol]
    track = TRACKS[protocol]
    images = score_maps(eval_assets, names)
    for name in names:
        pixel = SmiycPixelAccumulator()
        for image, maps, anomaly, ignore in images:
            pixel.add(image, maps[name], anomaly, ignore)
        expected = pixel.compute()
        parts = ComponentAccumulator(
            expected["threshold"],
            min_predicted=track.min_predicted,
            min_ground_truth=track.min_ground_truth,
            official=True,
        )
        for image, maps, anomaly, ignore in images:
            parts.add(image, maps[name], anomaly, ignore)
        expected.update(parts.compute())
        if filters:
            assert expected["gt_components"] > 0 and expected["predicted_components"] > 0
        assert set(got[name]) == set(expected)
        for key, value in expected.items():
            assert got[name][key] == pytest.approx(value, rel=1e-12, nan_ok=True), key
    assert "caos" not in results["streethazards"]


def test_shards_and_resume_equal_one_run_and_the_tool_prints_the_table(
    eval_assets, tmp_path, capsys
):
    kw = dict(scorers=["msp", "energy"], protocol="smiyc-obstacle", panels=0)
    whole = evaluate(options(eval_assets, tmp_path / "whole", **kw))["streethazards"]
    shards = tmp_path / "shards"
    assert evaluate(options(eval_assets, shards, **kw), rank=1, world=2) is None
    merged = evaluate(options(eval_assets, shards, **kw), rank=0, world=2)["streethazards"]
    pixel = ("aupr", "fpr95", "auroc", "best_f1", "threshold", "images")
    for name, values in whole["smiyc-obstacle"].items():  # rank 0 reads every shard's bins
        got = merged["smiyc-obstacle"][name]
        assert {k: got[k] for k in pixel} == {k: values[k] for k in pixel}
    # run one after the other here, rank 1 took its threshold from its own images only (torchrun
    # waits at a barrier); resuming redoes exactly the component files made with another one
    again = evaluate(options(eval_assets, shards, resume=True, **kw))["streethazards"]
    assert json.dumps(again["smiyc-obstacle"]) == json.dumps(whole["smiyc-obstacle"])
    args = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--data-root",
            str(eval_assets["root"]), "--scales", "full", "--scorers", "msp", "--protocol",
            "smiyc-anomaly", "--out", str(tmp_path / "tool"), "--no-progress",
            "--panels", "0"]  # fmt: skip
    assert eval_caos.main(args) == 0
    printed = capsys.readouterr().out
    assert "smiyc-anomaly protocol" in printed and "mean F1" in printed and "AUPR" in printed
    saved = json.loads((tmp_path / "tool" / "results.json").read_text())["streethazards"]
    assert {"aupr", "fpr95", "siou_gt", "ppv", "mean_f1", "threshold"} <= set(
        saved["smiyc-anomaly"]["msp"]
    )
