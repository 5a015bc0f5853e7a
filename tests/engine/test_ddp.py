"""A real 2-process DDP run (torchrun, gloo on the CPU) of the tiny config."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest
import torch

from tests.engine.conftest import REPO, TINY


@pytest.mark.slow
def test_torchrun_two_processes(sh_root, tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun not installed beside the interpreter")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    with socket.socket() as sock:  # a free port for the rendezvous
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [
        torchrun, "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(port),
        str(REPO / "tools" / "train.py"), str(TINY["pspnet"]), "--launcher", "pytorch",
        "--work-dir", str(tmp_path), "--cfg-options", f"data_root={sh_root}", "sync_bn=torch",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "sync_bn needs CUDA" in log  # SyncBN is GPU-only: the CPU run falls back to BN
    ckpt = torch.load(tmp_path / "iter_4.pth", weights_only=True)
    assert ckpt["meta"]["iter"] == 4
    assert "world_size: 2" in log or "Distributed launcher: pytorch" in log
