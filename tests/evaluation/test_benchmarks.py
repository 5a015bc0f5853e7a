"""The road-anomaly benchmarks through tools/eval_caos.py: tiny trees in each published layout,
a synthetic method's saved scores (SegmentMeIfYouCan's .hdf5 format), all datasets in one run.

Expected values are computed here from the raw label files with each benchmark's own encoding
(in-distribution / anomaly / void, as the official code reads them) and the scores as written:
the SegmentMeIfYouCan pixel metrics by a transcription of the official PixBinaryClass code
(road-anomaly-benchmark, `binary_confusion_matrix` with percentile bins, `aggregate_dynamic_bins`,
`curves_from_cmats`), the pooled metrics by scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from segood.cli import eval_caos
from segood.errors import SegoodError
from segood.evaluation.benchmarks import LEADERBOARDS, dataset_specs
from tests.data import trees
from tests.evaluation.conftest import CONFIG
from tests.metrics.reference import sklearn_metrics

SCORED = {  # raw label -> (scored = not void, anomalous), each benchmark's published encoding
    "smiyc-anomaly": lambda r: (np.isin(r, (0, 1)), r == 1),
    "smiyc-obstacle": lambda r: (np.isin(r, (0, 1)), r == 1),
    "fishyscapes-laf": lambda r: (r <= 1, r == 1),
    "lostandfound": lambda r: ((r >= 1) & (r <= 200), (r >= 2) & (r <= 200)),
    "road-anomaly": lambda r: (np.ones(r.shape, bool), r >= 2),
}


def prediction_paths(name: str, raws: dict) -> dict[str, str]:
    """frame -> the prediction file's path relative to the method folder: the image's path
    under its split's image folder (published layouts), extension .hdf5."""
    if name == "smiyc-anomaly":
        return {f: f for f, raw in raws.items() if raw is not None}
    if name == "smiyc-obstacle":
        return {f: f for f, g in trees.OBSTACLE_FRAMES.items() if g == "validation"}
    if name == "road-anomaly":
        return {f: f for f in raws}
    split_of = {f: s for s, frames in trees.LAF_FRAMES.items() for f in frames}
    paths = {}
    for frame in raws if name == "fishyscapes-laf" else trees.LAF_FRAMES["test"]:
        scene = frame.rsplit("_", 2)[0]
        prefix = f"{split_of[frame]}/" if name == "fishyscapes-laf" else ""
        paths[frame] = f"{prefix}{scene}/{frame}_leftImg8bit"
    return paths


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory):
    """Every benchmark's tree and one method's float16 scores per labelled frame."""
    base = tmp_path_factory.mktemp("bench")
    writers = {"smiyc-anomaly": trees.smiyc_anomaly, "smiyc-obstacle": trees.smiyc_obstacle,
               "fishyscapes-laf": trees.fishyscapes, "lostandfound": trees.lost_and_found,
               "road-anomaly": trees.road_anomaly}  # fmt: skip
    rng = np.random.default_rng(11)
    data = {}
    for name, writer in writers.items():
        root = base / "data" / name
        raws = writer(root)
        frames = {}
        for frame, rel in prediction_paths(name, raws).items():
            raw = raws[frame]
            _, anomalous = SCORED[name](raw)
            scores = (0.6 * rng.random(raw.shape) + 0.35 * anomalous).astype(np.float16)
            path = base / "preds" / "m" / name / f"{rel}.hdf5"
            path.parent.mkdir(parents=True, exist_ok=True)
            with h5py.File(path, "w") as handle:  # SegmentMeIfYouCan's per-frame file
                handle.create_dataset("value", data=scores, compression="gzip")
            frames[frame] = (raw, scores)
        data[name] = (root, frames)
    return base, data


def official_pixel_metrics(frames: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """AUPR and FPR95 of the official PixBinaryClass code over (scores in roi, anomalous)."""
    edges_all, tp_all, fp_all, n_pos, n_neg = [], [], [], 0, 0
    for prob, gt in frames:
        bins = [[0, 1]]
        for values in (prob[gt], prob[~gt]):
            if values.size:
                bins.append(np.quantile(values, np.linspace(0, 1, min(384, values.size))))
        bins = np.unique(np.concatenate(bins))
        tp_rel = np.histogram(prob[gt], bins=bins)[0][::-1]
        fp_rel, edges = np.histogram(prob[~gt], bins=bins)
        edges_all.append(edges[::-1][1:])
        tp_all.append(tp_rel)
        fp_all.append(fp_rel[::-1])
        n_pos, n_neg = n_pos + gt.sum(), n_neg + (~gt).sum()
    thresholds = np.concatenate(edges_all)
    order = np.argsort(thresholds, kind="stable")[::-1]
    thresholds = thresholds[order]
    tp = np.cumsum(np.concatenate(tp_all)[order].astype(np.float64))
    fp = np.cumsum(np.concatenate(fp_all)[order].astype(np.float64))
    keep = np.concatenate([[0], np.nonzero(thresholds[:-1] != thresholds[1:])[0], [len(tp) - 1]])
    tp, fp = tp[keep], fp[keep]
    if tp[0] != 0 or fp[0] != 0:
        tp, fp = np.concatenate([[0], tp]), np.concatenate([[0], fp])
    if tp[-1] != n_pos or fp[-1] != n_neg:
        tp, fp = np.concatenate([tp, [n_pos]]), np.concatenate([fp, [n_neg]])
    recall, fpr = tp / n_pos, fp / n_neg
    precision = np.ones(len(tp))
    predicted = tp + fp
    precision[predicted > 0] = tp[predicted > 0] / predicted[predicted > 0]
    at95 = np.searchsorted(recall, 0.95)
    return {
        "aupr": float(np.sum(np.diff(recall) * precision[1:])),
        "fpr95": float(fpr[at95]) if at95 < len(recall) else 1.0,
    }


def expected(name: str, frames: dict, official: bool) -> dict[str, float]:
    pairs = []
    for frame in sorted(frames):  # segood combines frames in name order
        raw, scores = frames[frame]
        scored, anomalous = SCORED[name](raw)
        pairs.append((scores[scored], anomalous[scored]))
    if official:
        return official_pixel_metrics(pairs)
    y = np.concatenate([p[1] for p in pairs])
    s = np.concatenate([p[0] for p in pairs]).astype(np.float64)
    return sklearn_metrics(y, s)


def run_tool(args: list[str], capsys) -> tuple[int, str, str]:
    code = eval_caos.main([*args, "--no-progress"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def all_in_one(benchmarks, tmp_path_factory):
    """One --predictions run over every benchmark, each with its leaderboard protocol."""
    base, data = benchmarks
    out = tmp_path_factory.mktemp("out")
    names = list(data)
    roots = [str(data[n][0]) for n in names]
    splits = ["test" if n == "lostandfound" else LEADERBOARDS[n].split for n in names]
    args = ["--predictions", f"m={base / 'preds' / 'm'}", "--dataset", *names, "--data-root",
            *roots, "--split", *splits, "--out", str(out), "--panels", "1"]  # fmt: skip
    code = eval_caos.main([*args, "--no-progress"])
    assert code == 0
    return out, json.loads((out / "results.json").read_text())


@pytest.mark.parametrize("name", list(SCORED))
def test_each_benchmark_gets_its_leaderboards_protocol_and_the_official_numbers(
    benchmarks, all_in_one, name
):
    _, data = benchmarks
    _, results = all_in_one
    protocol = LEADERBOARDS[name].protocols[0]
    got = results[name][protocol]["m"]
    want = expected(name, data[name][1], official=True)
    assert got["aupr"] == pytest.approx(want["aupr"], abs=1e-12)
    assert got["fpr95"] == pytest.approx(want["fpr95"], abs=1e-12)
    assert {"siou_gt", "ppv", "mean_f1"} <= set(got)  # the component part is reported too
    assert "segmentation" not in results[name]  # binary labels: no mIoU
    assert results[name]["settings"]["protocols"] == [protocol]


def test_one_table_and_one_results_file_for_all_datasets(all_in_one, benchmarks, capsys):
    out, results = all_in_one
    assert set(results) == set(SCORED)
    markdown = (out / "results.md").read_text()
    assert "Every dataset, its leaderboard's protocol" in markdown
    for title in ("RoadAnomaly21", "RoadObstacle21", "Fishyscapes L&F", "Lost and Found"):
        assert title in markdown
    base, data = benchmarks
    args = ["--predictions", f"m={base / 'preds' / 'm'}", "--dataset", "road-anomaly",
            "smiyc-anomaly", "--data-root", str(data["road-anomaly"][0]),
            str(data["smiyc-anomaly"][0]), "--out", str(out / "two")]  # fmt: skip
    code, printed, _ = run_tool(args, capsys)
    assert code == 0
    assert printed.count("protocol (percent)") == 1  # one table
    assert "Road Anomaly" in printed and "RoadAnomaly21" in printed


@pytest.mark.parametrize("name", ["smiyc-anomaly", "lostandfound"])
def test_pooled_protocol_equals_sklearn_on_the_raw_labels(benchmarks, tmp_path, name):
    base, data = benchmarks
    root, frames = data[name]
    split = "test" if name == "lostandfound" else "validation"
    code = eval_caos.main(["--predictions", str(base / "preds" / "m" / name), "--dataset",
                             name, "--data-root", str(root), "--split", split, "--protocol",
                             "pooled", "--out", str(tmp_path), "--panels", "0",
                             "--no-progress"])  # fmt: skip
    assert code == 0
    got = json.loads((tmp_path / "results.json").read_text())[name]["pooled"][name]
    want = expected(name, frames, official=False)
    for key in ("auroc", "aupr", "fpr95"):
        assert got[key] == pytest.approx(want[key], abs=1e-12), key


def test_a_split_without_labels_needs_save_scores(eval_assets, benchmarks, tmp_path, capsys):
    root = str(benchmarks[1]["smiyc-anomaly"][0])
    model = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--scales", "full",
             "--scorers", "maxlogit", "--dataset", "smiyc-anomaly", "--data-root", root,
             "--split", "test"]  # fmt: skip
    code, _, err = run_tool([*model, "--out", str(tmp_path / "a")], capsys)
    assert code == 2 and "published without labels" in err and "--save-scores" in err
    assert not (tmp_path / "a").exists()
    args = [*model, "--out", str(tmp_path / "b"), "--save-scores", "--save-format", "hdf5"]
    code, printed, err = run_tool(args, capsys)
    assert code == 0, err
    saved = sorted((tmp_path / "b" / "smiyc-anomaly" / "scores" / "maxlogit").glob("*.hdf5"))
    assert [p.stem for p in saved] == sorted(trees.ANOMALY_TEST)  # the 3 test frames
    with h5py.File(saved[0]) as handle:
        assert handle["value"].shape == trees.SIZE and handle["value"].dtype == np.float16
    results = json.loads((tmp_path / "b" / "results.json").read_text())["smiyc-anomaly"]
    assert results["images"] == 3 and "smiyc-anomaly" not in results
    before = [p.stat().st_mtime_ns for p in saved]
    code, _, err = run_tool([*args, "--resume"], capsys)  # finished: nothing is redone
    assert code == 0, err
    assert [p.stat().st_mtime_ns for p in saved] == before
    # "one line" warning: a 13-class StreetHazards model on Cityscapes-style data
    warnings = [line for line in printed.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "13 classes" in warnings[0]


def test_a_model_on_cityscapes_and_a_benchmark_in_one_run(eval_assets, tmp_path, capsys):
    """A 13-class model on Cityscapes-style data: one warning line each, no mIoU, no error."""
    trees.cityscapes(tmp_path / "cs")
    trees.road_anomaly(tmp_path / "ra")
    args = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--scales", "full",
            "--scorers", "msp", "--dataset", "cityscapes", "road-anomaly", "--data-root",
            str(tmp_path / "cs"), str(tmp_path / "ra"), "--out", str(tmp_path / "out")]  # fmt: skip
    code, printed, err = run_tool(args, capsys)
    assert code == 0, err
    warnings = [line for line in printed.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["cityscapes"]["images"] == 1  # val
    assert "segmentation" not in results["cityscapes"]  # 13 classes != Cityscapes' 19
    assert "smiyc-anomaly" in results["road-anomaly"]


def test_fitted_scorers_on_a_benchmark_need_the_training_data(eval_assets, tmp_path, capsys):
    trees.road_anomaly(tmp_path / "ra")
    args = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--scales", "full",
            "--scorers", "sml", "--dataset", "road-anomaly", "--data-root",
            str(tmp_path / "ra"), "--out", str(tmp_path / "out")]  # fmt: skip
    code, _, err = run_tool(args, capsys)
    assert code == 2 and "evaluation.fit" in err


def test_dataset_roots_and_splits_pair_up():
    specs = dataset_specs(["SMIYC_Anomaly", "lostandfound"], ["a", "b"], None)
    assert [(s.name, s.root, s.split) for s in specs] == [
        ("smiyc-anomaly", "a", "validation"), ("lostandfound", "b", "testNoKnown"),
    ]  # fmt: skip
    with pytest.raises(SegoodError, match="one `data_root` each"):
        dataset_specs(["road-anomaly", "smiyc-anomaly"], ["a"], None)
    with pytest.raises(SegoodError, match="one `split` per dataset"):
        dataset_specs(["road-anomaly", "smiyc-anomaly", "cityscapes"], ["a", "b", "c"], ["x", "y"])


def test_leaderboards_follow_the_official_code():
    """road-anomaly-benchmark's README: AnomalyTrack-validation and FishyLAFAnomaly-val with
    SegEval-AnomalyTrack, ObstacleTrack-validation and LostAndFound-testNoKnown with
    SegEval-ObstacleTrack."""
    pairs = {name: (lb.split, lb.protocols) for name, lb in LEADERBOARDS.items()}
    assert pairs["smiyc-anomaly"] == ("validation", ("smiyc-anomaly",))
    assert pairs["fishyscapes-laf"] == ("validation", ("smiyc-anomaly",))
    assert pairs["smiyc-obstacle"] == ("validation", ("smiyc-obstacle",))
    assert pairs["lostandfound"] == ("testNoKnown", ("smiyc-obstacle",))
    assert pairs["streethazards"] == pairs["bdd_anomaly"] == ("test", ("caos",))


def test_a_cityscapes_model_gives_the_val_miou_and_no_warning(tmp_path, capsys):
    """A 19-class model with the Cityscapes dataset config: by default the val mIoU (equal to
    one computed here from the raw label ids and the official table), then a benchmark."""
    import torch
    from cityscapesscripts.helpers.labels import labels as table

    from segood.evaluation.runner import normalize
    from segood.models import build_model

    raws = trees.cityscapes(tmp_path / "cs")
    trees.smiyc_anomaly(tmp_path / "ra21")
    net = dict(type="PSPNet", encoder="resnet18", num_classes=19)
    config = tmp_path / "cityscapes_r18.py"
    base = Path("configs/_base_/datasets/cityscapes_512x1024.py").resolve()
    config.write_text(f"_base_ = [{str(base)!r}]\nmodel = dict(type='SegModel', model={net!r})\n")
    torch.manual_seed(0)
    model = build_model(net).eval()
    torch.save(model.state_dict(), tmp_path / "cs.pth")
    args = [str(config), "--checkpoint", str(tmp_path / "cs.pth"), "--scorers", "msp",
            "--data-root", str(tmp_path / "cs"), "--out", str(tmp_path / "out")]  # fmt: skip
    code, printed, err = run_tool(args, capsys)
    assert code == 0, err
    assert "warning" not in printed
    got = json.loads((tmp_path / "out" / "results.json").read_text())["cityscapes"]
    frame = trees.CITYSCAPES_FRAMES["val"][0]
    image = tmp_path / "cs" / "leftImg8bit" / "val" / "frankfurt" / f"{frame}_leftImg8bit.png"
    from PIL import Image

    with torch.no_grad():
        pred = model(normalize(np.array(Image.open(image).convert("RGB")), "cpu"))[0].argmax(0)
    train_id = {lb.id: lb.trainId for lb in table if lb.id >= 0}
    label = np.vectorize(lambda v: train_id[int(v)])(raws[frame])
    keep = (label >= 0) & (label < 19)
    ious = []
    for c in range(19):
        p, t = pred.numpy()[keep] == c, label[keep] == c
        if (p | t).any():
            ious.append((p & t).sum() / (p | t).sum())
    assert got["segmentation"]["miou"] == pytest.approx(np.mean(ious), abs=1e-12)
    assert got["settings"]["protocols"] == []
    args = [*args[:5], "--dataset", "smiyc-anomaly", "--data-root", str(tmp_path / "ra21"),
            "--out", str(tmp_path / "out2")]  # fmt: skip
    code, printed, err = run_tool(args, capsys)
    assert code == 0, err
    assert "warning" not in printed and "RoadAnomaly21" in printed


def test_library_messages_name_options_and_the_tool_names_flags(benchmarks, tmp_path, capsys):
    """The library speaks of EvalOptions fields; tools/eval_caos.py turns them into flags."""
    from segood.evaluation.options import EvalOptions, naming_options_as, option
    from segood.evaluation.predictions_api import evaluate_predictions

    assert option("scorers", ["msp", "maxlogit"]) == "scorers=['msp', 'maxlogit']"
    with naming_options_as({"scorers": "--scorers", "scorer_options": "--set"}):
        assert option("scorers", ["msp", "maxlogit"]) == "--scorers msp maxlogit"
        assert option("scorer_options", {"vim": {"origin": "mean"}}) == "--set vim.origin=mean"
    assert option("resume") == "`resume`"  # restored after the block
    base, data = benchmarks
    root = str(data["road-anomaly"][0])
    folder = str(base / "preds" / "m" / "road-anomaly")
    run = dict(predictions=[f"m={folder}"], dataset="road-anomaly", data_root=root,
               progress=False, panels=0)  # fmt: skip
    evaluate_predictions(EvalOptions(**run, out=str(tmp_path)))
    with pytest.raises(SegoodError) as err:
        evaluate_predictions(EvalOptions(**run, out=str(tmp_path)))
    assert "pass `resume`" in str(err.value) and "--" not in str(err.value)
    args = ["--predictions", f"m={folder}", "--dataset", "road-anomaly", "--data-root", root,
            "--out", str(tmp_path)]  # fmt: skip
    code, _, printed_err = run_tool(args, capsys)
    assert code == 2 and "pass --resume" in printed_err and "another --out" in printed_err


def test_every_dataset_has_a_leaderboard_entry():
    from segood.data import DATASETS

    assert set(LEADERBOARDS) == set(DATASETS)
