"""`--device` and `--launcher`: which device a process computes on, and how processes started
by torchrun, srun or mpirun find each other. The same rules in every tool:

- one process (`--launcher none`): `--device` as given, default cuda if available;
- several: each process takes the GPU of its local rank (choose GPUs with
  CUDA_VISIBLE_DEVICES), or the CPU with `--device cpu` or where there is no GPU (gloo).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import timedelta

from segood.arguments import check_device
from segood.errors import SegoodError

# launcher -> (rank, world size, local rank) environment variables its starter sets
RANK_VARIABLES = {
    "pytorch": ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
    "slurm": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    "mpi": ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
}
STARTERS = {"pytorch": "torchrun", "slurm": "srun", "mpi": "Open MPI's mpirun"}


@dataclass(frozen=True)
class Process:
    """This process's place among the processes of a run, and its device."""

    rank: int = 0
    world_size: int = 1
    device: str | None = None  # None: the library's default (cuda if available)


def select_device(device: str | None, launcher: str = "none") -> str | None:
    """Check `--device` and make it this process's: `cpu` hides every GPU from the process
    (before anything asks torch about CUDA), `cuda:N` becomes torch's current device."""
    check_device(device)
    if launcher != "none" and device not in (None, "cpu"):
        raise SegoodError(
            f"--device {device} is for one process; with --launcher each process takes the GPU "
            "of its local rank (choose GPUs with CUDA_VISIBLE_DEVICES), or pass --device cpu"
        )
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    elif device is not None:
        import torch

        if torch.device(device).type == "cuda":
            torch.cuda.set_device(torch.device(device))
    return device


def init_distributed(
    launcher: str,
    device: str | None = None,
    backend: str | None = None,
    timeout_s: float | None = None,
) -> Process:
    """Join the process group of a run started by `launcher` (none: a single process).

    Rank, world size and local rank come from the starter's environment (exported as RANK,
    WORLD_SIZE, LOCAL_RANK for the libraries that read those); the backend is nccl on GPUs and
    gloo on CPUs unless `backend` names one."""
    device = select_device(device, launcher)
    if launcher == "none":
        return Process(device=device)
    rank, world, local = _ranks(launcher)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(local))
    os.environ.setdefault("MASTER_PORT", "29500")
    if "MASTER_ADDR" not in os.environ:
        os.environ["MASTER_ADDR"] = _master_address(launcher)
    import torch
    import torch.distributed as dist

    on_gpu = device != "cpu" and torch.cuda.is_available()
    if on_gpu:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        timeout = {"timeout": timedelta(seconds=timeout_s)} if timeout_s else {}
        dist.init_process_group(backend or ("nccl" if on_gpu else "gloo"), **timeout)
    return Process(dist.get_rank(), dist.get_world_size(), f"cuda:{local}" if on_gpu else "cpu")


def _ranks(launcher: str) -> tuple[int, int, int]:
    names = RANK_VARIABLES[launcher]
    missing = [n for n in names[:2] if n not in os.environ]
    if missing:
        raise SegoodError(
            f"--launcher {launcher} needs the processes started by {STARTERS[launcher]} "
            f"({', '.join(missing)} not set); run one process with --launcher none"
        )
    rank, world = int(os.environ[names[0]]), int(os.environ[names[1]])
    local = os.environ.get(names[2])
    if local is None:  # old slurm: the GPUs of a node are numbered in rank order
        import torch

        local = rank % max(torch.cuda.device_count(), 1)
    return rank, world, int(local)


def _master_address(launcher: str) -> str:
    """The host of rank 0: torchrun sets it; srun's node list names it; mpirun does not."""
    if launcher == "slurm":
        nodes = os.environ.get("SLURM_NODELIST") or os.environ.get("SLURM_JOB_NODELIST", "")
        try:
            names = subprocess.run(
                ["scontrol", "show", "hostnames", nodes], capture_output=True, text=True
            ).stdout.split()
        except OSError:
            names = []
        if names:
            return names[0]
    raise SegoodError(
        f"--launcher {launcher}: set MASTER_ADDR (and MASTER_PORT, default 29500) to the host of "
        "rank 0"
    )
