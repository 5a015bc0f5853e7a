"""Engine test helpers: a tiny StreetHazards shared by the module, configs, subprocess runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
TINY = {
    "pspnet": CONFIGS / "pspnet_r18-d8_1xb2-tiny_streethazards.py",
    "pspnet-conf": CONFIGS / "pspnet-conf_r18-d8_1xb2-tiny_streethazards.py",
    "ae": CONFIGS / "ae_1xb2-tiny_streethazards.py",
}


@pytest.fixture(scope="session")
def sh_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny StreetHazards (4 train, 2 validation, 3 test images of 24x40)."""
    from tests.conftest import _streethazards

    return _streethazards(tmp_path_factory.mktemp("engine") / "streethazards")


@pytest.fixture(scope="session")
def train_main():
    """segood-train's main, in-process (fast; returns the exit code)."""
    from segood.cli.train import main

    return main


def run_tool(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """segood-train ARGS in a subprocess (repo on PYTHONPATH for test hooks)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "segood.cli.train", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def trained(sh_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One 4-iteration in-process Runner per model kind (checkpoints every 2 iterations);
    1 torch thread, like the subprocess runs it is compared with. -> {kind: runner}."""
    import torch

    from segood.engine import build_runner, load_config

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    runners = {}
    try:
        for kind, path in TINY.items():
            options = {"data_root": str(sh_root), "log_level": "WARNING"}
            if kind == "pspnet-conf":
                options["train_cfg.val_interval"] = 2  # validation mid-run: must be RNG-neutral
            cfg = load_config(path, options)
            runner = build_runner(cfg, work_dir=tmp_path_factory.mktemp(f"work-{kind}"))
            runner.train()
            runners[kind] = runner
    finally:
        torch.set_num_threads(threads)
    return runners
