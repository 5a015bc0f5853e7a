"""--save-scores round trip, resume refusals (issue 18.2) and results.json written last (18.4)."""

import json

import h5py
import numpy as np
import pytest

from segood.evaluation.api import evaluate
from segood.evaluation.predictions_api import PredictionOptions, evaluate_predictions
from tests.evaluation.test_eval_caos import options
from tests.metrics.reference import sklearn_metrics

SCORERS = ["msp", "maxlogit", "energy"]


def reevaluate(eval_assets, saved, out, scorers=SCORERS):
    folders = [f"{name}={saved / name}" for name in scorers]
    opts = PredictionOptions(predictions=folders, dataset="streethazards", panels=0,
                             data_root=str(eval_assets["root"]), out=str(out), progress=False,
                             protocol="all")  # fmt: skip
    return evaluate_predictions(opts)["streethazards"]


def saved_maps(folder):
    maps = {}
    for path in sorted(folder.rglob("*.npz")):
        with np.load(path) as data:
            maps[path.relative_to(folder).with_suffix("").as_posix()] = data["scores"]
    return maps


def auroc_tie_bound(exact, rounded, anomaly):
    """Largest AUROC change rounding can cause on one image: each (anomalous, normal) pair
    whose scores differ but round to the same value moves by at most 1/2 of a pair."""
    pos, neg = exact[anomaly], exact[~anomaly]
    pos16, neg16 = rounded[anomaly], rounded[~anomaly]
    newly_tied = (pos16[:, None] == neg16[None, :]) & (pos[:, None] != neg[None, :])
    return 0.5 * newly_tied.sum() / (len(pos) * len(neg))


def test_saved_scores_reproduce_the_metrics(eval_assets, tmp_path):
    kw = dict(scorers=SCORERS, protocol="all", panels=0, save_scores=True)
    model32 = evaluate(options(eval_assets, tmp_path / "m32", save_dtype="float32", **kw))
    model16 = evaluate(options(eval_assets, tmp_path / "m16", **kw))["streethazards"]
    model32 = model32["streethazards"]
    for protocol in ("caos", "pooled", "components"):
        assert model16[protocol] == model32[protocol]  # saving changes nothing of the run
    saved32, saved16 = (tmp_path / d / "streethazards" / "scores" for d in ("m32", "m16"))
    assert model16["settings"]["saved_scores"]["dtype"] == "float16"

    # float32 files hold the exact maps: re-evaluation equals the model run to rounding
    again32 = reevaluate(eval_assets, saved32, tmp_path / "r32")
    for protocol in ("caos", "pooled"):
        for name in SCORERS:
            for key in ("auroc", "aupr", "fpr95"):
                assert again32[protocol][name][key] == pytest.approx(
                    model32[protocol][name][key], abs=1e-12
                )
    assert again32["components"] == model32["components"]

    # float16 files are the float32 maps rounded; the metrics are those of the rounded maps,
    # and AUROC moves by no more than the pairs that rounding ties
    again16 = reevaluate(eval_assets, saved16, tmp_path / "r16")
    from segood.data import build_dataset

    ds = build_dataset("streethazards", eval_assets["root"], "test")
    labels = {p.name: np.asarray(ds[i]["label"]) == 13 for i, p in enumerate(ds.pairs)}
    for name in SCORERS:
        exact, rounded = saved_maps(saved32 / name), saved_maps(saved16 / name)
        assert rounded.keys() == exact.keys() == labels.keys()
        per, bounds = [], []
        for image, values in rounded.items():
            assert values.dtype == np.float16
            np.testing.assert_array_equal(values, exact[image].astype(np.float16))
            per.append(sklearn_metrics(labels[image], values.astype(np.float32)))
            bounds.append(auroc_tie_bound(exact[image], values, labels[image]))
        for key in ("auroc", "aupr", "fpr95"):
            want = np.mean([p[key] for p in per])
            assert again16["caos"][name][key] == pytest.approx(want, abs=1e-12)
        gap = abs(again16["caos"][name]["auroc"] - model32["caos"][name]["auroc"])
        assert gap <= np.mean(bounds) + 1e-12


def test_hdf5_scores_follow_segmentmeifyoucan(eval_assets, tmp_path):
    evaluate(options(eval_assets, tmp_path, scorers=["msp"], panels=0, save_scores=True,
                     save_format="hdf5"))  # fmt: skip
    folder = tmp_path / "streethazards" / "scores" / "msp"
    files = sorted(folder.rglob("*.hdf5"))
    assert [f.relative_to(folder).as_posix() for f in files] == [f"t5/{i}.hdf5" for i in range(5)]
    with h5py.File(files[0], "r") as handle:
        assert list(handle) == ["value"]
        assert handle["value"].dtype == np.float16 and handle["value"].compression == "gzip"
        assert handle["value"].shape == (40, 56)


def test_resume_with_other_scorers_or_settings_is_refused(eval_assets, tmp_path, capsys):
    from segood.cli import eval_caos

    args = ["configs/pspnet_r18-d8_1xb2-tiny_streethazards.py", "--checkpoint",
            str(eval_assets["psp"]), "--data-root", str(eval_assets["root"]), "--scales", "full",
            "--out", str(tmp_path), "--no-progress", "--panels", "0"]  # fmt: skip
    assert eval_caos.main([*args, "--scorers", "msp", "--max-images", "2"]) == 0
    capsys.readouterr()
    assert eval_caos.main([*args, "--scorers", "msp", "maxlogit", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--resume needs the same scorers" in err and "--scorers msp" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert eval_caos.main([*args, "--scorers", "msp", "--resume", "--mc-passes", "3"]) == 2
    assert "other settings (source.settings differ" in capsys.readouterr().err
    assert eval_caos.main([*args, "--scorers", "msp", "--resume"]) == 0  # same: continues
    saved = json.loads((tmp_path / "results.json").read_text())["streethazards"]
    assert saved["caos"]["msp"]["images_used"] == 5


@pytest.mark.parametrize("step", ["plot_curves", "render_panels"])
def test_a_kill_before_the_plots_leaves_no_results_file(eval_assets, tmp_path, monkeypatch, step):
    import segood.evaluation.jobs as jobs
    import segood.evaluation.report as report

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report if step == "plot_curves" else jobs, step, killed)
    with pytest.raises(KeyboardInterrupt):
        evaluate(options(eval_assets, tmp_path, scorers=["msp"], panels=1))
    assert not (tmp_path / "results.json").exists()
    monkeypatch.undo()
    evaluate(options(eval_assets, tmp_path, scorers=["msp"], panels=1, resume=True))
    for name in ("results.json", "roc_streethazards.png", "panels_streethazards.png"):
        assert (tmp_path / name).exists()
