"""The folder protocol: torchvision / timm checkpoints from local files, image folders,
synthetic OOD sets, MC dropout on classifiers, and the hook for gradient-based scorers."""

import json
from pathlib import Path

import numpy as np
import torch

from segood import scorers
from segood.cli import eval_cls
from segood.scorers.base import Scorer
from segood.scorers.registry import _SCORERS


def save_weights(path: Path, arch: str, use_timm: bool = False) -> Path:
    torch.manual_seed(0)
    if use_timm:
        import timm

        model = timm.create_model(arch, pretrained=False, num_classes=2)
    else:
        import torchvision

        model = torchvision.models.get_model(arch, weights=None, num_classes=2)
    torch.save(model.state_dict(), path)
    return path


def folders_args(image_dirs, weights, out, *extra):
    return [
        "folders",
        "--id-dir",
        str(image_dirs["id"]),
        "--ood-dir",
        f"flat={image_dirs['ood']}",
        "--synthetic",
        "gaussian",
        "blobs",
        "--synthetic-count",
        "3",
        "--weights",
        str(weights),
        "--size",
        "32",
        "--batch-size",
        "4",
        "--out",
        str(out),
        *extra,
    ]


def test_torchvision_checkpoint_with_mc_dropout(image_dirs, tmp_path, capsys):
    weights = save_weights(tmp_path / "m.pth", "mobilenet_v3_small")
    out = tmp_path / "out"
    rc = eval_cls.main(
        folders_args(
            image_dirs,
            weights,
            out,
            "--arch",
            "mobilenet_v3_small",
            "--mc-passes",
            "3",
            "--save-logits",
        )
    )
    assert rc == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    assert set(results) == {"flat", "gaussian", "blobs"}
    assert {"msp", "maxlogit", "energy", "mc_dropout"} <= set(results["flat"])
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["in_distribution"]["samples"] == 6
    assert run["data"]["ood"] == {"flat": 4, "gaussian": 3, "blobs": 3}
    assert run["data"]["mc_dropout_passes"] == 3
    assert run["model"]["classes"] == 2 and run["preprocess"]["crop"] == 32
    saved = np.load(out / "id.npz")
    assert saved["logits"].shape == (6, 2) and saved["dropout_logits"].shape == (3, 6, 2)
    assert saved["labels"].tolist() == [0, 0, 0, 1, 1, 1]
    assert (out / "roc_gaussian.png").is_file()


def test_timm_checkpoint(image_dirs, tmp_path, capsys):
    weights = save_weights(tmp_path / "t.pth", "test_resnet", use_timm=True)
    out = tmp_path / "out"
    rc = eval_cls.main(
        folders_args(
            image_dirs,
            weights,
            out,
            "--arch",
            "test_resnet",
            "--timm",
            "--scorers",
            "msp",
            "energy",
            "--no-plots",
        )
    )
    assert rc == 0, capsys.readouterr().err
    assert set(json.loads((out / "results.json").read_text())["blobs"]) == {"msp", "energy"}


class InputGradNorm(Scorer):
    """A test-only gradient scorer: the norm of d(max logit)/d(input), per sample."""

    requires = ("model", "inputs")

    def __call__(self, logits=None, /, *, model, inputs, **outputs):
        x = inputs.requires_grad_(True)
        model(x).amax(dim=1).sum().backward()
        return -x.grad.flatten(1).norm(dim=1)


def test_gradient_scorers_get_the_model_and_inputs(image_dirs, tmp_path, capsys):
    InputGradNorm.name = "test_input_grad"
    _SCORERS["test_input_grad"] = InputGradNorm
    try:
        weights = save_weights(tmp_path / "m.pth", "resnet18")
        out = tmp_path / "out"
        rc = eval_cls.main(
            folders_args(
                image_dirs,
                weights,
                out,
                "--arch",
                "resnet18",
                "--scorers",
                "test_input_grad",
                "msp",
                "--no-plots",
            )
        )
        assert rc == 0, capsys.readouterr().err
        results = json.loads((out / "results.json").read_text())
        assert set(results["flat"]) == {"test_input_grad", "msp"}
        run = json.loads((out / "run.json").read_text())
        assert run["gradient_scorers"] == ["test_input_grad"]
    finally:
        del _SCORERS["test_input_grad"]
    assert "test_input_grad" not in scorers.available()


def test_bad_inputs_are_clear(image_dirs, tmp_path, capsys):
    weights = save_weights(tmp_path / "m.pth", "resnet18")
    base = [
        "folders",
        "--weights",
        str(weights),
        "--arch",
        "resnet18",
        "--size",
        "32",
        "--out",
        str(tmp_path / "o"),
    ]
    empty = ["--id-dir", str(image_dirs["empty"]), "--synthetic", "gaussian"]
    assert eval_cls.main([*base, *empty]) == 2
    assert "holds no images" in capsys.readouterr().err
    assert (
        eval_cls.main(
            [*base, "--id-dir", str(image_dirs["id"]), "--ood-dir", f"x={tmp_path / 'missing'}"]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
    assert (
        eval_cls.main(
            [
                *base,
                "--id-dir",
                str(image_dirs["id"]),
                "--synthetic",
                "gaussian",
                "--mc-passes",
                "2",
            ]
        )
        == 2
    )
    assert "no dropout layer" in capsys.readouterr().err
    wrong = [
        "folders",
        "--weights",
        str(weights),
        "--arch",
        "resnet34",
        "--size",
        "32",
        "--id-dir",
        str(image_dirs["id"]),
        "--synthetic",
        "gaussian",
    ]
    assert eval_cls.main(wrong) == 2
    assert "does not fit resnet34" in capsys.readouterr().err
    assert eval_cls.main([*base, "--id-dir", str(image_dirs["id"])]) == 2
    assert "no OOD set" in capsys.readouterr().err
