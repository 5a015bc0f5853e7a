"""The shared command-line layer: every tool ends, parses and fails the same way."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from segood.cli import (
    app,
    check_data,
    convert,
    demo,
    eval_caos,
    eval_cls,
    make_bdd,
    make_sprites,
    train,
)
from segood.errors import SegoodError

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "pspnet_r18-d8_1xb2-tiny_streethazards.py"
# tools/<shim>.py -> its segood.cli module
SHIMS = {
    "train": train,
    "eval_caos": eval_caos,
    "eval_cls": eval_cls,
    "convert_checkpoint": convert,
    "check_data": check_data,
    "make_bdd_anomaly": make_bdd,
    "make_outlier_sprites": make_sprites,
    "demo": demo,
}


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


def test_segood_error_is_one_line_and_exit_2(capsys):
    @app.command("segood-x")
    def main(argv=None):
        raise SegoodError("file a.txt is empty; pass another file")

    assert main([]) == 2
    assert one_line(capsys) == "error: file a.txt is empty; pass another file"


def test_mmengine_build_prefixes_are_dropped(capsys):
    @app.command("segood-x")
    def main(argv=None):
        raise SegoodError("class `SegModel` in segood.engine.models: class `PSPNet` in x.y: bad")

    assert main([]) == 2
    assert one_line(capsys) == "error: bad"


def test_interrupt_is_one_line_and_exit_130(capsys):
    @app.command("segood-x", "rerun to continue")
    def main(argv=None):
        raise KeyboardInterrupt

    assert main([]) == 130
    assert one_line(capsys) == "segood-x: interrupted; rerun to continue"


def test_other_errors_keep_their_traceback():
    @app.command("segood-x")
    def main(argv=None):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        main([])


@pytest.mark.parametrize("module", list(SHIMS.values()), ids=list(SHIMS))
def test_every_tool_answers_version_and_help(module, capsys):
    with pytest.raises(SystemExit) as stop:
        module.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"segood {app.package_version()}\n"
    with pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    assert stop.value.code == 0
    first_paragraph = "".join(module.__doc__.split("\n\n")[0].split())  # argparse rewraps it
    assert first_paragraph in "".join(capsys.readouterr().out.split())


# the same bad value given to each tool that takes the flag: the same line, exit 2
def eval_cls_folders(tmp: Path, *extra: str) -> int:
    weights, out = str(tmp / "w.pth"), str(tmp / "o")
    argv = ["folders", "--arch", "resnet18", "--id-dir", str(tmp), "--weights", weights]
    return eval_cls.main([*argv, "--synthetic", "gaussian", "--out", out, *extra])


def eval_caos_model(tmp: Path, *extra: str) -> int:
    argv = [str(CONFIG), "--checkpoint", str(tmp / "w.pth"), "--out", str(tmp / "o")]
    return eval_caos.main([*argv, *extra])


DEVICE_RUNS = {
    "train": lambda tmp: train.main([str(CONFIG), "--device", "gpu"]),
    "eval_caos": lambda tmp: eval_caos_model(tmp, "--device", "gpu"),
    "eval_cls": lambda tmp: eval_cls_folders(tmp, "--device", "gpu"),
}


@pytest.mark.parametrize("tool", list(DEVICE_RUNS))
def test_same_device_error_in_every_tool(tool, tmp_path, capsys):
    assert DEVICE_RUNS[tool](tmp_path) == 2
    assert one_line(capsys) == "error: --device 'gpu' is not a device; use cpu, cuda or cuda:N"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("data_root", "error: --cfg-options takes KEY=VALUE pairs (e.g. data_root=/data/sh), got "
         "'data_root'"),
        ("=3", "error: --cfg-options takes KEY=VALUE pairs (e.g. data_root=/data/sh), got '=3'"),
        ("a=[1,2", "error: --cfg-options a=[1,2: the value's brackets or quotes do not match; "
         "write a list as KEY=[a,b] and a tuple as KEY=(a,b)"),
    ],
)  # fmt: skip
def test_unreadable_cfg_option_is_one_line(pair, message, tmp_path, capsys):
    assert train.main([str(CONFIG), "--work-dir", str(tmp_path / "w"), "--cfg-options", pair]) == 2
    assert one_line(capsys) == message
    assert not (tmp_path / "w").exists()


def test_bad_cfg_option_value_is_one_line(tmp_path, capsys):
    args = [str(CONFIG), "--work-dir", str(tmp_path / "w"), "--cfg-options"]
    assert train.main([*args, "data_root=/x", "train_cfg.max_iters=-3"]) == 2
    assert one_line(capsys) == (
        f"error: config {CONFIG}: train_cfg.max_iters=-3 must be a positive integer"
    )


def test_cfg_options_values_are_mmengines():
    from segood.cli.options import add_config

    p = app.parser("x")
    add_config(p, "config")
    args = p.parse_args(["c.py", "--cfg-options", "a.b=1", "c=[1,2]", "d=(x,y)", "e=None"])
    args2 = p.parse_args(["c.py", "--cfg-options", "f=1,2", "--cfg-options", "g=true"])
    assert args.cfg_options == {"a.b": 1, "c": [1, 2], "d": ("x", "y"), "e": None}
    assert args2.cfg_options == {"f": [1, 2], "g": True}
    optional = app.parser("x")
    add_config(optional, "config", optional=True)
    assert vars(optional.parse_args([])) == {"config": None, "cfg_options": {}}


def test_one_config_loader(tmp_path):
    from segood.cli.config import load_config

    cfg = load_config(CONFIG, {"data_root": str(tmp_path), "train_cfg.max_iters": 7})
    assert cfg.train_cfg.max_iters == 7
    loaders = ("train_dataloader", "val_dataloader", "test_dataloader")
    assert {cfg[k].dataset.data_root for k in loaders if k in cfg} == {str(tmp_path)}
    data_only = REPO / "configs" / "_base_" / "datasets" / "streethazards.py"
    assert "model" not in load_config(data_only)  # a dataset config is a config...
    with pytest.raises(SegoodError, match="has no `model`; inherit a file of configs/_base_/"):
        load_config(data_only, training=True)  # ...but not a training one
    with pytest.raises(SegoodError, match=r"nope\.py does not exist; pass a file from configs/"):
        load_config(tmp_path / "nope.py")


def test_launcher_needs_its_starter(monkeypatch):
    from segood.cli.distributed import init_distributed

    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    expected = {
        "pytorch": "torchrun (RANK, WORLD_SIZE",
        "slurm": "srun (SLURM_PROCID, SLURM_NTASKS",
        "mpi": "mpirun (OMPI_COMM_WORLD_RANK",
    }
    for launcher, starter in expected.items():
        message = rf"--launcher {launcher} needs .*{re.escape(starter)}"
        with pytest.raises(SegoodError, match=message):
            init_distributed(launcher)
    assert init_distributed("none").world_size == 1


@pytest.mark.parametrize(
    ("launcher", "variables"),
    [
        ("pytorch", {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}),
        ("slurm", {"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_LOCALID": "0"}),
        ("mpi", {"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "1",
                 "OMPI_COMM_WORLD_LOCAL_RANK": "0"}),
    ],
)  # fmt: skip
def test_every_launcher_joins_a_process_group(launcher, variables, monkeypatch):
    """A one-process group on the CPU (gloo), from each starter's environment."""
    import socket

    import torch.distributed as dist

    from segood.cli.distributed import Process, init_distributed

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "CUDA_VISIBLE_DEVICES"):
        monkeypatch.setenv(name, "")  # restored after the test (init_distributed exports them)
    for name, value in {**variables, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}.items():
        monkeypatch.setenv(name, value)
    try:
        assert init_distributed(launcher, "cpu") == Process(0, 1, "cpu")
        assert dist.get_backend() == "gloo"
        assert (os.environ["RANK"], os.environ["WORLD_SIZE"]) == ("0", "1")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.parametrize("launcher", ["pytorch", "slurm", "mpi"])
def test_same_missing_starter_error_in_train_and_eval(launcher, tmp_path, capsys, monkeypatch):
    """Outside its starter, every launcher is one line, the same in both tools; nothing written."""
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK",
                 "OMPI_COMM_WORLD_SIZE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    work = str(tmp_path / "o")
    assert train.main([str(CONFIG), "--work-dir", work, "--launcher", launcher]) == 2
    from_train = one_line(capsys)
    assert eval_caos_model(tmp_path, "--launcher", launcher) == 2
    assert one_line(capsys) == from_train
    assert from_train.startswith(f"error: --launcher {launcher} needs the processes started by ")
    assert not (tmp_path / "o").exists()


def flag_help(text: str) -> dict[str, str]:
    """Each option of a `--help` text -> its entry (the flag, its metavar or choices and its
    help), whitespace removed: argparse wraps at a width that depends on the other flags."""
    entries: dict[str, str] = {}
    flag = None
    for line in text.splitlines():
        match = re.match(r"^ {2}(-[-\w]+)", line)
        if match:
            flag = match.group(1)
            entries[flag] = ""
        elif not line.startswith(" "):  # a section title or a blank line ends an entry
            flag = None
        if flag:
            entries[flag] += "".join(line.split())
    return entries


COMMON_FLAGS = {  # tool -> (its main's argv for --help, the shared flags it takes)
    "train": (train, [], ("--device", "--launcher", "--cfg-options")),
    "eval_caos": (eval_caos, [], ("--device", "--launcher", "--cfg-options", "--no-progress")),
    "eval_cls": (eval_cls, ["folders"], ("--device",)),
    "check_data": (check_data, [], ("--no-progress",)),
    "make_bdd_anomaly": (make_bdd, [], ("--no-progress",)),
}


def test_every_tool_answers_the_same_common_flags(capsys):
    helps = {}
    for tool, (module, argv, flags) in COMMON_FLAGS.items():
        with pytest.raises(SystemExit):
            module.main([*argv, "--help"])
        entries = flag_help(capsys.readouterr().out)
        helps[tool] = {flag: entries[flag] for flag in flags}
    reference = {}  # each flag as the first tool above that takes it declares it
    for entries in helps.values():
        reference = {**entries, **reference}
    assert reference["--launcher"].startswith("--launcher{none,pytorch,slurm,mpi}none:")
    assert reference["--device"].startswith("--deviceDEVICEcpu,cuda,cuda:Normps")
    assert reference["--cfg-options"].startswith("--cfg-optionsKEY=VALUE[KEY=VALUE...]override")
    for tool, entries in helps.items():
        for flag, entry in entries.items():
            assert entry == reference[flag], (tool, flag)


def test_mpi_needs_the_master_address(monkeypatch):
    from segood.cli.distributed import init_distributed

    for name, value in {"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "2",
                        "RANK": "", "WORLD_SIZE": "", "LOCAL_RANK": ""}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(SegoodError, match="--launcher mpi: set MASTER_ADDR"):
        init_distributed("mpi")


def test_one_gpu_per_process_with_a_launcher():
    from segood.cli.distributed import select_device

    with pytest.raises(SegoodError, match="--device cpu:1 is for one process; with --launcher"):
        select_device("cpu:1", "slurm")


def test_local_rank_flag_is_exported(monkeypatch):
    from segood.cli.options import add_launcher

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    p = app.parser("x")
    add_launcher(p)
    assert p.parse_args(["--launcher", "pytorch", "--local-rank", "3"]).launcher == "pytorch"
    assert os.environ["LOCAL_RANK"] == "3"
    with pytest.raises(SystemExit):
        p.parse_args(["--launcher", "ray"])


def test_scripts_are_every_tool():
    """[project.scripts] names a main for every shim in tools/ (and sim.generate)."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    targets = {}
    for name, target in scripts.items():
        module, attr = target.split(":")
        targets[name] = getattr(importlib.import_module(module), attr)
        assert callable(targets[name]), name
    assert {m.main for m in SHIMS.values()} <= set(targets.values())
    assert targets["segood-generate"].__module__ == "sim.generate"


@pytest.mark.parametrize("shim", list(SHIMS))
def test_tools_are_shims(shim):
    """`python tools/X.py` runs the CLI's main; the file holds nothing else."""
    path = REPO / "tools" / f"{shim}.py"
    assert f"from {SHIMS[shim].__name__} import main" in path.read_text()
    assert len(path.read_text().splitlines()) <= 7
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(path), "--version"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("segood "), done.stderr
