"""Evaluating saved predictions (tools/eval_caos.py --predictions): layouts, formats, every
protocol, several methods, resume and shards, and one clear error per bad folder.

Expected values come from sklearn (tests/metrics/reference.py) on the arrays the tests wrote;
file paths are written from the published folder names, not from segood's layout code.
"""

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from segood.cli import eval_caos
from segood.data import build_dataset
from segood.evaluation.predictions_api import PredictionOptions, evaluate_predictions
from segood.metrics.components import ComponentAccumulator
from segood.scorers import get
from tests.conftest import _bdd100k, _streethazards
from tests.metrics.reference import sklearn_metrics

SH_IMAGES = "test/images/test"  # the published StreetHazards test image folder


@pytest.fixture(scope="module")
def sh(tmp_path_factory):
    root = tmp_path_factory.mktemp("pred") / "sh"
    _streethazards(root, n_train=1, n_val=1, n_test=4, towns={"test": ("t5", "t6")}, seed=5)
    return root


def save(path: Path, array: np.ndarray, key: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, array)
    elif path.suffix == ".npz":
        np.savez_compressed(path, **{key or "scores": array})
    else:  # SegmentMeIfYouCan: dataset "value", float16, gzip 9
        with h5py.File(path, "w") as handle:
            handle.create_dataset(key or "value", data=array, compression=9)


def write_predictions(folder, root, image_dir, make, suffix=".npy", key=None, split="test"):
    """One file per image at its path under `image_dir` with `suffix`; returns {name: array}."""
    ds = build_dataset("streethazards" if image_dir == SH_IMAGES else "bdd_anomaly", root, split)
    written = {}
    for i, pair in enumerate(ds.pairs):
        rel = pair.image_path.relative_to(root / image_dir).with_suffix(suffix)
        array = make(i, np.asarray(ds[i]["label"]))
        save(folder / rel, array, key)
        written[pair.name] = array
    return written


def noisy_scores(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return lambda i, label: (rng.random(label.shape) + 0.6 * (label == 13)).astype(dtype)


def caos_expected(arrays, labels, anomaly_ids=(13,)):
    per = [sklearn_metrics(np.isin(labels[n], anomaly_ids), a) for n, a in arrays.items()]
    return {k: float(np.mean([p[k] for p in per])) for k in ("auroc", "aupr", "fpr95")}


def labels_of(root, dataset="streethazards"):
    ds = build_dataset(dataset, root, "test")
    return {ds.pairs[i].name: np.asarray(ds[i]["label"]) for i in range(len(ds))}


def run(folders, root, out, dataset="streethazards", **kw):
    options = PredictionOptions(
        predictions=folders, dataset=dataset, data_root=str(root), out=str(out),
        progress=False, panels=kw.pop("panels", 0), **kw,
    )  # fmt: skip
    return evaluate_predictions(options)[dataset]


def assert_metrics(got, want, tol=1e-9):
    for key in ("auroc", "aupr", "fpr95"):
        assert got[key] == pytest.approx(want[key], abs=tol), key


def test_score_maps_in_town_folders_equal_sklearn_under_every_protocol(sh, tmp_path):
    maps = write_predictions(tmp_path / "m", sh, SH_IMAGES, noisy_scores())
    assert (tmp_path / "m" / "t6").is_dir()  # town sub-folders kept
    labels = labels_of(sh)
    got = run([str(tmp_path / "m")], sh, tmp_path / "out", protocol="all", panels=1)
    assert set(got["caos"]) == {"m"}  # a single unnamed folder is named after itself
    assert_metrics(got["caos"]["m"], caos_expected(maps, labels))
    every = np.concatenate([maps[n].ravel() for n in maps])
    truth = np.concatenate([(labels[n] == 13).ravel() for n in maps])
    assert_metrics(got["pooled"]["m"], sklearn_metrics(truth, every))
    threshold = got["components"]["m"]["threshold"]
    acc = ComponentAccumulator(threshold)
    for name, array in maps.items():
        acc.add(name, array, labels[name] == 13)
    assert got["components"]["m"]["mean_f1"] == pytest.approx(acc.compute()["mean_f1"])
    assert "segmentation" not in got  # score maps carry no class predictions
    saved = json.loads((tmp_path / "out" / "results.json").read_text())["streethazards"]
    assert saved["settings"]["predictions"]["m"]["format"] == ".npy"
    for name in ("results.md", "results.csv", "roc_streethazards.png", "panels_streethazards.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0


def test_bdd_anomaly_npz_and_smiyc_hdf5_layouts(tmp_path):
    root = tmp_path / "bdd_anomaly"
    from segood.data.make_bdd import build_bdd_anomaly

    build_bdd_anomaly(_bdd100k(tmp_path / "bdd100k"), root, progress=False)
    labels = labels_of(root, "bdd_anomaly")
    ids = (17, 18, 19)
    rng = np.random.default_rng(1)

    def make(i, label):
        return (rng.random(label.shape) + 0.5 * np.isin(label, ids)).astype(np.float32)

    npz = write_predictions(tmp_path / "npz", root, "images/test", make, ".npz")
    half = lambda i, label: make(i, label).astype(np.float16)  # noqa: E731
    hdf = write_predictions(tmp_path / "h5", root, "images/test", half, ".hdf5")
    got = run([f"a={tmp_path / 'npz'}", f"b={tmp_path / 'h5'}"], root, tmp_path / "o",
              dataset="bdd_anomaly")  # fmt: skip
    assert_metrics(got["caos"]["a"], caos_expected(npz, labels, ids))
    assert_metrics(got["caos"]["b"], caos_expected(hdf, labels, ids))


def test_logits_are_scored_by_every_logit_scorer(sh, tmp_path):
    rng = np.random.default_rng(2)
    logits = write_predictions(
        tmp_path / "lg", sh, SH_IMAGES,
        lambda i, label: rng.normal(size=(13, *label.shape)).astype(np.float32), ".npz", "logits",
    )  # fmt: skip
    labels = labels_of(sh)
    got = run([f"net={tmp_path / 'lg'}"], sh, tmp_path / "o")
    assert set(got["caos"]) >= {"net/msp", "net/maxlogit", "net/background", "net/energy"}
    assert not any(name.split("/")[1] in {"sml", "kl_matching"} for name in got["caos"])
    for scorer in ("msp", "energy"):
        maps = {n: get(scorer)(torch.from_numpy(a)[None])[0].numpy() for n, a in logits.items()}
        assert_metrics(got["caos"][f"net/{scorer}"], caos_expected(maps, labels), tol=1e-7)
    # the mIoU of the logits' argmax over the 13 known classes (anomaly pixels left out)
    conf = np.zeros((13, 13))
    for name, array in logits.items():
        known = labels[name] < 13
        np.add.at(conf, (labels[name][known], array.argmax(0)[known]), 1)
    iou = np.diag(conf) / (conf.sum(0) + conf.sum(1) - np.diag(conf))
    assert got["segmentation"]["miou"] == pytest.approx(np.nanmean(iou))
    # the reference's --exclude_back: class 0 dropped before scoring
    dropped = run([f"net={tmp_path / 'lg'}"], sh, tmp_path / "x", scorers=["maxlogit"],
                  exclude_background=True)  # fmt: skip
    maps = {n: -a[1:].max(0) for n, a in logits.items()}
    assert_metrics(dropped["caos"]["net/maxlogit"], caos_expected(maps, labels), tol=1e-7)


def test_resume_and_shards_equal_one_run(sh, tmp_path):
    write_predictions(tmp_path / "m", sh, SH_IMAGES, noisy_scores(3))
    folders = [f"m={tmp_path / 'm'}"]
    whole = run(folders, sh, tmp_path / "whole", protocol="all")
    run(folders, sh, tmp_path / "part", protocol="all", max_images=2)  # "killed" after 2
    resumed = run(folders, sh, tmp_path / "part", protocol="all", resume=True)
    options = PredictionOptions(predictions=folders, dataset="streethazards", data_root=str(sh),
                                out=str(tmp_path / "shards"), protocol="all", progress=False,
                                panels=0)  # fmt: skip
    assert evaluate_predictions(options, rank=1, world=2) is None
    sharded = evaluate_predictions(options, rank=0, world=2)["streethazards"]
    for protocol in ("caos", "pooled", "components"):
        assert resumed[protocol] == whole[protocol]
        assert sharded[protocol] == whole[protocol]


def nan_first(i, label):
    scores = noisy_scores()(i, label)
    scores[0, 0] = np.nan if i == 0 else scores[0, 0]
    return scores


BAD_FOLDERS = {
    "missing": (lambda f: next(f.rglob("*.npy")).unlink(), "1 missing prediction files"),
    "extra": (lambda f: save(f / "t9" / "7.npy", np.zeros((24, 40))), "match no image"),
    "stray": (lambda f: (f / "notes.txt").write_text("x"), "notes.txt"),
    "mixed": (lambda f: save(f / "t5" / "0.npz", np.zeros((24, 40))), "mixed formats"),
    "shape": (lambda f: np.save(next(f.rglob("*.npy")), np.zeros((12, 40))), "(12, 40)"),
    "3-d": (lambda f: np.save(next(f.rglob("*.npy")), np.zeros((1, 24, 40))), "(H, W)"),
    "dtype": (lambda f: np.save(next(f.rglob("*.npy")), np.zeros((24, 40), complex)), "complex"),
    "inf": (lambda f: np.save(next(f.rglob("*.npy")), np.full((24, 40), np.inf)), "NaN or Inf"),
    "corrupt": (lambda f: next(f.rglob("*.npy")).write_bytes(b"junk"), "unreadable files"),
    "empty": (lambda f: [p.unlink() for p in f.rglob("*.npy")], "no prediction files"),
}


@pytest.mark.parametrize("case", sorted(BAD_FOLDERS))
def test_bad_folders_give_one_clear_message_and_write_nothing(sh, tmp_path, capsys, case):
    folder = tmp_path / "m"
    write_predictions(folder, sh, SH_IMAGES, noisy_scores())
    damage, message = BAD_FOLDERS[case]
    damage(folder)
    out = tmp_path / "out"
    args = ["--predictions", str(folder), "--dataset", "streethazards", "--data-root", str(sh),
            "--out", str(out), "--no-progress"]  # fmt: skip
    assert eval_caos.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and str(folder) in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("make", "suffix", "key", "message"),
    [
        (nan_first, ".npy", None, "NaN or Inf"),
        (lambda i, lab: np.zeros((13 + (i == 1), *lab.shape), np.float32), ".npz", "logits",
         "class counts [13, 14]"),
        (lambda i, lab: np.zeros(lab.shape), ".npz", "other", "`scores`"),  # two arrays below
        (lambda i, lab: np.zeros(lab.shape, np.float16), ".hdf5", "prob", "no dataset 'value'"),
    ],
)  # fmt: skip
def test_bad_contents_are_found_before_anything_is_written(sh, tmp_path, make, suffix, key,
                                                           message):  # fmt: skip
    folder = tmp_path / "m"
    write_predictions(folder, sh, SH_IMAGES, make, suffix, key)
    if key == "other":  # an .npz with two arrays, neither `scores` nor `logits`
        for path in folder.rglob("*.npz"):
            np.savez(path, a=np.zeros(2), b=np.zeros(2))
    with pytest.raises(Exception, match=message.replace("[", r"\[").replace("(", r"\(")):
        run([str(folder)], sh, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--predictions", "A", "B", "--dataset", "sh", "--data-root", "R"], "need names"),
        (["--predictions", "a=A", "a=A", "--dataset", "sh", "--data-root", "R"], "must differ"),
        (["--predictions", "a=nowhere", "--dataset", "sh", "--data-root", "R"], "not a folder"),
        (["--predictions", "a=A"], "--dataset"),
        (["--predictions", "a=A", "--dataset", "x", "--data-root", "R"], "unknown dataset"),
        (["CONFIG", "--predictions", "a=A", "--dataset", "streethazards"], "without a model"),
        (["--predictions", "a=L", "--dataset", "streethazards", "--data-root", "R",
          "--scorers", "sml"], "fitted on in-distribution"),
        (["--predictions", "a=L", "--dataset", "streethazards", "--data-root", "R",
          "--scorers", "mc_dropout"], "needs model outputs"),
        (["--predictions", "a=A", "--dataset", "streethazards", "--data-root", "R",
          "--scorers", "msp"], "applies to logits"),
        ([], "give CONFIG --checkpoint"),
    ],
)  # fmt: skip
def test_bad_command_lines(sh, tmp_path, capsys, args, message):
    write_predictions(tmp_path / "A", sh, SH_IMAGES, noisy_scores())
    write_predictions(
        tmp_path / "L",
        sh,
        SH_IMAGES,
        lambda i, lab: np.zeros((13, *lab.shape), np.float32),
        ".npz",
        "logits",
    )
    paths = {"A": tmp_path / "A", "B": tmp_path / "A", "L": tmp_path / "L", "R": sh,
             "CONFIG": "configs/pspnet_r18-d8_1xb2-tiny_streethazards.py"}  # fmt: skip
    args = [a.split("=")[0] + "=" + str(paths[a.split("=")[1]]) if "=" in a and a.split("=")[1]
            in paths else str(paths.get(a, a)) for a in args]  # fmt: skip
    code = eval_caos.main([*args, "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_smiyc_protocols_on_saved_predictions(sh, tmp_path):
    from segood.metrics.smiyc import SmiycPixelAccumulator

    maps = write_predictions(tmp_path / "m", sh, SH_IMAGES, noisy_scores(4), ".hdf5")
    labels = labels_of(sh)
    got = run([f"m={tmp_path / 'm'}"], sh, tmp_path / "o", protocol="smiyc-anomaly")
    pixel = SmiycPixelAccumulator()
    for name, array in maps.items():
        pixel.add(name, array, labels[name] == 13, labels[name] == 255)
    want = pixel.compute()
    for key in ("aupr", "fpr95", "threshold"):
        assert got["smiyc-anomaly"]["m"][key] == pytest.approx(want[key], rel=1e-12)
    assert {"siou_gt", "ppv", "mean_f1"} <= set(got["smiyc-anomaly"]["m"])
