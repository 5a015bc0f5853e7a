"""Multi-label protocol: the section-4 scorers from the registry, iForest / LOF on features."""

import json

import numpy as np
import pytest
from sklearn.neighbors import LocalOutlierFactor

from segood.classification.multilabel import demo_sets, digit_pairs
from segood.cli import eval_cls


def multilabel_npz(tmp_path, rng):
    """ID: 2 of 6 labels on (high logits); OOD: all logits low; features separate."""

    def make(n, ood):
        logits = rng.normal(-4, 1, (n, 6))
        if not ood:
            for row in logits:
                row[rng.choice(6, 2, replace=False)] += 8
        feats = rng.normal(2.0 if ood else 0.0, 1, (n, 5))
        drops = logits[None] + rng.normal(0, 2 if ood else 0.5, (3, n, 6))
        return {"logits": logits, "features": feats, "dropout_logits": drops}

    paths = {}
    for name, n, ood in (("id", 50, False), ("fit", 60, False), ("ood", 40, True)):
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], **make(n, ood))
    return paths


def test_multilabel_from_files(tmp_path, capsys):
    p = multilabel_npz(tmp_path, np.random.default_rng(0))
    out = tmp_path / "out"
    rc = eval_cls.main(
        [
            "multilabel",
            "--id",
            str(p["id"]),
            "--ood",
            f"novel={p['ood']}",
            "--fit",
            str(p["fit"]),
            "--out",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    res = json.loads((out / "results.json").read_text())["novel"]
    assert set(res) == {
        "multilabel_maxlogit",
        "logitavg",
        "multilabel_msp",
        "mc_dropout",
        "iforest",
        "lof",
    }
    assert res["multilabel_maxlogit"]["auroc"] > 0.9
    # LOF against scikit-learn directly (20 neighbours, novelty mode)
    fit, ids, ood = (np.load(p[k])["features"] for k in ("fit", "id", "ood"))
    lof = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(fit)
    from sklearn.metrics import roc_auc_score

    s = -np.r_[lof.score_samples(ids), lof.score_samples(ood)]
    y = np.r_[np.zeros(len(ids)), np.ones(len(ood))]
    assert res["lof"]["auroc"] == pytest.approx(roc_auc_score(y, s))
    run = json.loads((out / "run.json").read_text())
    assert run["feature_detectors"]["lof"]["n_neighbors"] == 20


def test_digit_pairs_labels():
    pixels = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1) * np.ones((1, 1, 8, 8))
    labels = np.arange(10)
    x, y = digit_pairs(pixels.astype(np.float32), labels, (0, 1, 2), 20, seed=0)
    assert x.shape == (20, 1, 8, 16)
    left, right = x[:, 0, 0, 0].astype(int), x[:, 0, 0, 8].astype(int)
    for i in range(20):
        assert set(np.nonzero(y[i])[0]) == {left[i], right[i]}
    _, y_ood = digit_pairs(pixels.astype(np.float32), labels, (7, 8, 9), 5, seed=0)
    assert not y_ood.any()


def test_demo_sets_tiny():
    id_set, oods, fit, info = demo_sets(epochs=1, mc_passes=2, n_train=200, n_test=40)
    assert id_set.logits.shape == (40, 7) and oods[0].outputs["dropout_logits"].shape == (2, 40, 7)
    assert fit.outputs["features"].shape[0] == 200 and 0 <= info["id_exact_match"] <= 1
