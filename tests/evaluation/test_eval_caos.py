import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from segood.cli import eval_caos
from segood.data import build_dataset
from segood.evaluation.api import EvalOptions, evaluate
from segood.evaluation.runner import normalize
from segood.metrics import ood_metrics
from segood.models import build_model, load_model_weights
from segood.scorers import get
from tests.evaluation.conftest import CONFIG


def options(assets, out, **kw):
    base = dict(
        config=CONFIG,
        checkpoint=str(assets["psp"]),
        data_root=str(assets["root"]),
        scales=(),
        out=str(out),
        progress=False,
        panels=2,
    )
    return EvalOptions(**{**base, **kw})


def test_results_equal_an_independent_per_image_computation(eval_assets, tmp_path):
    results = evaluate(options(eval_assets, tmp_path, scorers=["msp", "maxlogit", "energy"]))
    caos = results["streethazards"]["caos"]
    model = build_model(dict(type="PSPNet", encoder="resnet18", num_classes=13))
    load_model_weights(model, eval_assets["psp"])
    model.eval()
    ds = build_dataset("streethazards", eval_assets["root"], "test")
    per = {name: [] for name in caos}
    for i in range(len(ds)):
        item = ds[i]
        with torch.no_grad():
            logits = model(normalize(item["image"], "cpu"))
        for name in caos:
            per[name].append(ood_metrics(get(name)(logits)[0], ds.is_anomaly(item["label"])))
    for name, values in per.items():
        for key in ("auroc", "aupr", "fpr95"):
            assert caos[name][key] == pytest.approx(np.mean([v[key] for v in values]), abs=1e-6)
        assert caos[name]["images_used"] == len(ds)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["streethazards"]["caos"]["msp"]) >= {"fpr95", "auroc", "aupr", "images_used"}
    assert saved["streethazards"]["settings"]["mc_dropout_passes"] == 8
    for name in ("results.csv", "results.md", "roc_streethazards.png", "pr_streethazards.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "panels_streethazards.png").stat().st_size > 0


def test_every_caos_scorer_and_protocol_through_the_tool(eval_assets, tmp_path, capsys):
    code = eval_caos.main(
        [
            CONFIG,
            "--checkpoint",
            str(eval_assets["psp"]),
            "--ae-checkpoint",
            str(eval_assets["ae"]),
            "--branch-checkpoint",
            str(eval_assets["conf"]),
            "--extra-scorers",
            "energy",
            "sml",
            "--data-root",
            str(eval_assets["root"]),
            "--scales",
            "full",
            "--protocol",
            "all",
            "--mc-passes",
            "3",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--panels",
            "0",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "FPR95" in printed and "maxlogit" in printed and "branch" in printed
    saved = json.loads((tmp_path / "results.json").read_text())["streethazards"]
    expected = {"msp", "branch", "background", "mc_dropout", "ae", "maxlogit", "energy", "sml"}
    for protocol in ("caos", "pooled"):
        assert set(saved[protocol]) == expected
        for values in saved[protocol].values():
            assert 0 <= values["auroc"] <= 1 and 0 <= values["fpr95"] <= 1
    assert set(saved["components"]["msp"]) >= {"siou_gt", "ppv", "mean_f1", "threshold"}
    assert (tmp_path / "fits" / "sml.pt").exists()


def test_resume_after_interruption_equals_an_uninterrupted_run(eval_assets, tmp_path):
    kw = dict(scorers=["msp", "mc_dropout", "sml"], protocol="all", panels=0)
    whole = evaluate(options(eval_assets, tmp_path / "whole", **kw))["streethazards"]
    partial = tmp_path / "partial"
    evaluate(options(eval_assets, partial, max_images=2, **kw))  # "killed" after 2 images
    (partial / "streethazards" / "images" / ".x.npz.123.tmp").write_bytes(b"half")
    with pytest.raises(Exception, match="pass `resume`"):  # the library names its option
        evaluate(options(eval_assets, partial, **kw))
    resumed = evaluate(options(eval_assets, partial, resume=True, **kw))["streethazards"]
    for protocol in ("caos", "pooled", "components"):
        assert resumed[protocol] == whole[protocol]
    assert not list(partial.rglob("*.tmp"))


def test_sharded_run_merges_exactly(eval_assets, tmp_path):
    kw = dict(scorers=["msp", "maxlogit"], protocol="all", panels=0)
    whole = evaluate(options(eval_assets, tmp_path / "whole", **kw))["streethazards"]
    shards = tmp_path / "shards"
    assert evaluate(options(eval_assets, shards, **kw), rank=1, world=2) is None
    merged = evaluate(options(eval_assets, shards, **kw), rank=0, world=2)["streethazards"]
    for protocol in ("caos", "pooled"):
        assert merged[protocol] == whole[protocol]
    assert merged["images"] == whole["images"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scorers", "ae"], "needs an autoencoder"),
        (["--scorers", "branch"], "needs a confidence branch"),
        (["--cfg-options", "evaluation.split=validation"], "has an anomalous pixel"),
        (["--checkpoint", "CKPT17"], "has 17 classes"),
        (["--checkpoint", "missing.pth"], "not found"),
        (["--scales", "big"], "integers"),
    ],
)
def test_bad_input_gives_one_clear_message(eval_assets, tmp_path, capsys, extra, message):
    extra = [str(eval_assets["psp17"]) if e == "CKPT17" else e for e in extra]
    args = [
        CONFIG,
        "--checkpoint",
        str(eval_assets["psp"]),
        "--data-root",
        str(eval_assets["root"]),
        "--scales",
        "full",
        "--out",
        str(tmp_path),
        "--no-progress",
        "--panels",
        "0",
    ]
    code = eval_caos.main(args + extra)
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_reference_probability_averaging_is_an_option(eval_assets, tmp_path):
    correct = evaluate(options(eval_assets, tmp_path / "a", scorers=["maxlogit"], scales=(32, 40)))
    reference = evaluate(
        options(eval_assets, tmp_path / "b", scorers=["maxlogit"], scales=(32, 40), average="probs")
    )
    a = correct["streethazards"]["caos"]["maxlogit"]["auroc"]
    b = reference["streethazards"]["caos"]["maxlogit"]["auroc"]
    assert a != b
    assert (
        json.loads(Path(tmp_path / "b" / "results.json").read_text())["streethazards"]["settings"][
            "average"
        ]
        == "probs"
    )


@pytest.mark.slow
def test_torchrun_two_processes_equal_one(eval_assets, tmp_path):
    import subprocess
    import sys

    common = [
        CONFIG,
        "--checkpoint",
        str(eval_assets["psp"]),
        "--data-root",
        str(eval_assets["root"]),
        "--scales",
        "full",
        "--scorers",
        "msp",
        "sml",
        "--protocol",
        "all",
        "--no-progress",
        "--panels",
        "0",
    ]
    repo = str(Path(__file__).resolve().parents[2])  # the tool must import this checkout's segood
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": repo}
    with socket.socket() as sock:  # a free port: other test runs may share the machine
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            "tools/eval_caos.py",
            *common,
            "--out",
            str(tmp_path / "ddp"),
            "--launcher",
            "pytorch",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    first_rank = [line for line in run.stderr.splitlines() if line.startswith("[rank0]")]
    assert run.returncode == 0, "\n".join(first_rank[-30:]) + run.stderr[-3000:]
    # one thread, as each torchrun worker (OMP_NUM_THREADS=1): the same computation order, so
    # the same scores to the bit (a thread count can change how a convolution is summed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert eval_caos.main([*common, "--out", str(tmp_path / "one")]) == 0
    finally:
        torch.set_num_threads(threads)
    ddp = json.loads((tmp_path / "ddp" / "results.json").read_text())["streethazards"]
    one = json.loads((tmp_path / "one" / "results.json").read_text())["streethazards"]
    for protocol in ("caos", "pooled", "components"):
        assert ddp[protocol] == one[protocol]
    assert ddp["settings"]["processes"] == 2


def test_scorer_settings_from_the_command_line(eval_assets, tmp_path, capsys):
    args = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--scorers", "energy",
            "--data-root", str(eval_assets["root"]), "--scales", "full", "--no-progress",
            "--panels", "0"]  # fmt: skip
    assert eval_caos.main([*args, "--out", str(tmp_path / "t1")]) == 0
    assert (
        eval_caos.main([*args, "--out", str(tmp_path / "t5"), "--set", "energy.temperature=5"]) == 0
    )
    t1 = json.loads((tmp_path / "t1" / "results.json").read_text())["streethazards"]
    t5 = json.loads((tmp_path / "t5" / "results.json").read_text())["streethazards"]
    assert "temperature=5" in t5["settings"]["scorer_settings"]["energy"]
    assert t1["caos"]["energy"] != t5["caos"]["energy"]
    assert eval_caos.main([*args, "--out", str(tmp_path / "x"), "--set", "knn.k=3"]) == 2
    assert "not evaluated" in capsys.readouterr().err
    assert eval_caos.main([*args, "--out", str(tmp_path / "y"), "--set", "energy=3"]) == 2


def test_cfg_options_data_root_reaches_the_evaluation(eval_assets, tmp_path, capsys):
    """Issue 17: `--cfg-options data_root=DIR` points the config's `evaluation` record at DIR,
    as it does every dataset of a training run (the config's own root does not exist here)."""
    args = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--scorers", "msp", "--scales",
            "full", "--no-progress", "--panels", "0"]  # fmt: skip
    assert eval_caos.main([*args, "--out", str(tmp_path / "flag"), "--data-root",
                           str(eval_assets["root"])]) == 0  # fmt: skip
    options = ["--cfg-options", f"data_root={eval_assets['root']}"]
    assert eval_caos.main([*args, "--out", str(tmp_path / "cfg"), *options]) == 0
    by_flag = json.loads((tmp_path / "flag" / "results.json").read_text())["streethazards"]
    by_cfg = json.loads((tmp_path / "cfg" / "results.json").read_text())["streethazards"]
    assert by_cfg["caos"]["msp"]["images_used"] == 5  # the tiny test split of eval_assets
    assert by_cfg["caos"] == by_flag["caos"]
    capsys.readouterr()
    assert eval_caos.main([*args, "--out", str(tmp_path / "none")]) == 2  # the config's root
    assert "data/streethazards-tiny" in capsys.readouterr().err


def test_pytorch_launcher_one_process_equals_none(eval_assets, tmp_path, monkeypatch):
    """`--launcher pytorch` in one process started as torchrun would (gloo on the CPU): the
    shared init_distributed joins the group and the run equals a plain one."""
    import torch.distributed as dist

    args = [CONFIG, "--checkpoint", str(eval_assets["psp"]), "--data-root",
            str(eval_assets["root"]), "--scorers", "msp", "maxlogit", "--scales", "full",
            "--no-progress", "--panels", "0", "--device", "cpu"]  # fmt: skip
    with socket.socket() as sock:  # a free port: other test runs may share the machine
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    variables = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": port, "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
    for name, value in variables.items():
        monkeypatch.setenv(name, value)  # restored after the test (--device cpu sets the last)
    assert eval_caos.main([*args, "--out", str(tmp_path / "none")]) == 0
    try:
        assert eval_caos.main([*args, "--out", str(tmp_path / "ddp"), "--launcher", "pytorch"]) == 0
        assert dist.is_initialized() and dist.get_backend() == "gloo"
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    one = json.loads((tmp_path / "none" / "results.json").read_text())["streethazards"]
    ddp = json.loads((tmp_path / "ddp" / "results.json").read_text())["streethazards"]
    assert ddp["caos"] == one["caos"] and ddp["settings"]["processes"] == 1
