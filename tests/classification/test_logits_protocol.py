"""tools/eval_cls.py logits: saved .npz -> every scorer -> reports; bad input -> exit 2."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from segood.cli import eval_cls


def run(*argv):
    return eval_cls.main([str(a) for a in argv])


def test_logits_protocol_writes_every_report(npz_files, tmp_path, capsys):
    out = tmp_path / "out"
    f = npz_files
    rc = run(
        "logits",
        "--id",
        f["id"],
        "--ood",
        f"near={f['near']}",
        f"far={f['far']}",
        "--fit",
        f["fit"],
        "--set",
        "energy.temperature=2",
        "--out",
        out,
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "protocol=logits" in printed and "ID id: 60 samples, 5 classes" in printed
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"near", "far"}
    expected = {"msp", "maxlogit", "energy", "mc_dropout", "sml", "kl_matching", "iforest", "lof"}
    assert expected <= set(results["near"])
    for per_scorer in results.values():
        for values in per_scorer.values():
            assert set(values) == {"fpr95", "auroc", "aupr"}
            assert all(0.0 <= v <= 1.0 for v in values.values())
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["protocol"] == "logits" and run_info["convention"] == "segood"
    assert run_info["scorers"]["energy"]["settings"] == {"temperature": 2.0}
    assert run_info["data"]["ood"] == {"near": 40, "far": 30}
    assert run_info["data"]["fit"]["samples"] == 80
    assert run_info["feature_detectors"]["lof"]["n_neighbors"] == 20
    assert 0.0 <= run_info["id_accuracy"] <= 1.0
    for name in ("results.csv", "results.md", "roc_near.png", "pr_far.png"):
        assert (out / name).is_file()
    # one cell against an independent computation
    ids = np.load(f["id"])["logits"]
    far = np.load(f["far"])["logits"]
    s = -np.r_[ids.max(1), far.max(1)]
    y = np.r_[np.zeros(len(ids)), np.ones(len(far))]
    assert results["far"]["maxlogit"]["auroc"] == pytest.approx(roc_auc_score(y, s))


def test_openood_convention_adds_aupr_in_and_out(npz_files, tmp_path):
    out = tmp_path / "o"
    rc = run(
        "logits",
        "--id",
        npz_files["id"],
        "--ood",
        npz_files["far"],
        "--scorers",
        "msp",
        "--convention",
        "openood",
        "--out",
        out,
        "--no-plots",
    )
    assert rc == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["far"]["msp"]) == {"fpr95", "auroc", "aupr", "aupr_in", "aupr_out"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"logits": np.zeros((10, 4), np.float32)}, "class counts differ"),
        ({"logits": np.full((10, 5), np.nan, np.float32)}, "NaN"),
        ({"logits": np.zeros((0, 5), np.float32)}, "empty"),
        ({"features": np.zeros((10, 5), np.float32)}, "no 'logits'"),
        ({"logits": np.zeros((10, 5)), "features": np.zeros((9, 6))}, "one row per sample"),
    ],
)
def test_bad_files_give_one_clear_message(npz_files, tmp_path, capsys, bad, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **bad)
    rc = run("logits", "--id", npz_files["id"], "--ood", f"bad={path}", "--out", tmp_path / "x")
    assert rc == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert "bad.npz" in err


def test_missing_file_and_bad_options(npz_files, tmp_path, capsys):
    assert run("logits", "--id", tmp_path / "nope.npz", "--ood", npz_files["far"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run("logits", "--id", npz_files["id"], "--ood", npz_files["far"], "--set", "x") == 2
    assert "SCORER.OPTION=VALUE" in capsys.readouterr().err
    assert (
        run("logits", "--id", npz_files["id"], "--ood", npz_files["far"], "--scorers", "sml") == 2
    )
    assert "--fit" in capsys.readouterr().err
