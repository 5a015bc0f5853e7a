"""tools/eval_caos.py --checkpoint with checkpoints that describe their own network (converted
reference checkpoints, tools/train.py's) and with checkpoints that do not fit the config."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segood.cli import eval_caos
from segood.data import build_dataset
from segood.evaluation.api import EvalOptions, evaluate
from segood.evaluation.runner import normalize
from segood.metrics import ood_metrics
from segood.models import AutoEncoder, build_model, load_network
from segood.models.convert import convert_csail, save_converted
from segood.scorers import get
from tests.evaluation.conftest import CONFIG
from tests.models.csail_reference import random_decoder, random_encoder

REPO_DATASET = "configs/_base_/datasets/streethazards.py"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The reference's ResNet-18 network (random weights, 13 classes) converted to segood."""
    folder = tmp_path_factory.mktemp("converted")
    torch.save(random_encoder(18, seed=3), folder / "encoder_epoch_20.pth")
    torch.save(random_decoder(512, 13, seed=4), folder / "decoder_epoch_20.pth")
    state, cfg, source = convert_csail(
        folder / "encoder_epoch_20.pth", folder / "decoder_epoch_20.pth", "resnet18dilated"
    )
    return save_converted(folder / "pspnet_r18_sh.pth", state, cfg, source)


@pytest.fixture(scope="module")
def data_only_config(tmp_path_factory):
    """A config that names the data and evaluation but no model."""
    import os

    path = tmp_path_factory.mktemp("cfg") / "streethazards_data_only.py"
    path.write_text(f"_base_ = [{os.path.abspath(REPO_DATASET)!r}]\n")
    return str(path)


def test_config_without_model_takes_the_checkpoints_description(
    eval_assets, converted, data_only_config, tmp_path
):
    results = evaluate(
        EvalOptions(
            config=data_only_config,
            checkpoint=str(converted),
            data_root=str(eval_assets["root"]),
            scorers=["maxlogit"],
            scales=(),
            out=str(tmp_path),
            progress=False,
            panels=0,
        )
    )
    net = load_network(converted)  # independently: the converted network on every test image
    ds = build_dataset("streethazards", eval_assets["root"], "test")
    values = []
    for i in range(len(ds)):
        item = ds[i]
        with torch.no_grad():
            logits = net(normalize(item["image"], "cpu"))
        values.append(ood_metrics(get("maxlogit")(logits)[0], ds.is_anomaly(item["label"])))
    caos = results["streethazards"]["caos"]["maxlogit"]
    for key in ("auroc", "aupr", "fpr95"):
        assert caos[key] == pytest.approx(np.mean([v[key] for v in values]), abs=1e-6)


def run_tool(capsys, eval_assets, tmp_path, checkpoint, config=CONFIG) -> str:
    args = [config, "--checkpoint", str(checkpoint), "--data-root", str(eval_assets["root"])]
    args += ["--scales", "full", "--out", str(tmp_path), "--no-progress", "--panels", "0"]
    assert eval_caos.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "results.json").exists()
    return err


def test_converted_checkpoint_that_disagrees_with_the_config(
    eval_assets, converted, tmp_path, capsys
):
    err = run_tool(capsys, eval_assets, tmp_path, converted)  # config: torchvision-stem r18
    assert "holds another network than the config's model" in err
    assert "stem: config 'torchvision', checkpoint 'deep'" in err


def test_autoencoder_checkpoint_is_not_evaluated_as_a_pspnet(eval_assets, tmp_path, capsys):
    """Issue 18.1: it used to evaluate a randomly initialised PSPNet with exit 0."""
    err = run_tool(capsys, eval_assets, tmp_path, eval_assets["ae"])
    assert "holds none of the weights of a PSPNet" in err
    assert "it looks like an AutoEncoder checkpoint" in err and "--ae-checkpoint" in err


def test_described_autoencoder_is_named_by_its_saved_config(eval_assets, tmp_path, capsys):
    path = tmp_path / "ae_iter_4.pth"
    text = "model = dict(type='AEModel', model=dict(type='AutoEncoder', latent_channels=32))\n"
    state = {f"model.{k}": v for k, v in AutoEncoder().state_dict().items()}
    torch.save({"state_dict": state, "meta": {"cfg": text}}, path)
    err = run_tool(capsys, eval_assets, tmp_path / "out", path)
    assert "type: config 'PSPNet', checkpoint 'AutoEncoder'" in err and "--ae-checkpoint" in err


def test_missing_and_unexpected_keys_are_errors(eval_assets, tmp_path, capsys):
    model = build_model(dict(type="PSPNet", encoder="resnet18", num_classes=13))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("aux_head.")}
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    err = run_tool(capsys, eval_assets, tmp_path / "out", path)
    assert "missing 8 keys (aux_head.conv.0.weight" in err
    assert "1 unexpected keys (extra.weight)" in err
