"""Hold-out-class benchmark on the bundled digits: 2 held-out classes, 1 epoch."""

import json

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from segood.classification.holdout import holdout_class, run_holdout
from segood.classification.training import digits
from segood.cli import eval_cls
from segood.errors import SegoodError


@pytest.fixture(scope="module")
def data():
    return digits(seed=0)


def test_digits_split_is_stratified_real_images(data):
    train, test = data
    assert len(train) + len(test) == 1797
    assert (
        train.pixels.shape[1:] == (1, 8, 8) and 0 <= train.pixels.min() <= train.pixels.max() <= 1
    )
    assert np.bincount(test.labels).min() >= 55


def test_cli_two_classes_one_epoch(tmp_path, capsys):
    out = tmp_path / "h"
    rc = eval_cls.main(["holdout", "--classes", "3", "7", "--epochs", "1", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"class_3", "class_7", "mean"}
    _, test = digits(0)
    for k in (3, 7):
        per = results[f"class_{k}"]["msp"]
        assert per["skew"] == pytest.approx(np.mean(test.labels == k))
        assert 0 <= per["ap"] <= 1
    mean = results["mean"]["msp"]["ap"]
    assert mean == pytest.approx(
        (results["class_3"]["msp"]["ap"] + results["class_7"]["msp"]["ap"]) / 2
    )
    run = json.loads((out / "run.json").read_text())
    assert run["protocol"] == "holdout" and run["data"]["per_class"]["class_3"]["anomalies"] > 0
    assert "held out" in capsys.readouterr().out


def test_ap_is_sklearn_ap_and_rotation_head_trains(data, monkeypatch):
    train, test = data
    captured = {}
    import segood.classification.holdout as H

    real_predict = H.predict

    def spy(model, pixels, **kw):
        captured["model"] = model
        out = real_predict(model, pixels, **kw)
        captured["logits"] = out["logits"]
        return out

    monkeypatch.setattr(H, "predict", spy)
    r = holdout_class(5, train, test, ["maxlogit"], epochs=1, rotation_weight=0.5)
    assert captured["model"].rotation is not None
    expected = average_precision_score(test.labels == 5, -captured["logits"].max(1))
    assert r["metrics"]["maxlogit"]["ap"] == pytest.approx(expected)


def test_bad_class_and_scorer(data):
    train, test = data
    with pytest.raises(SegoodError, match="not a class"):
        run_holdout(train, test, classes=[12], epochs=1)
    with pytest.raises(SegoodError, match="logits only"):
        run_holdout(train, test, classes=[1], scorer_names=("mc_dropout",), epochs=1)
