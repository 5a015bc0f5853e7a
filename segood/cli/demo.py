"""`make demo`: the whole segood pipeline on generated scenes, end to end, on a CPU
(`segood-demo`, `tools/demo.py`; it runs in a checkout, which has the configs).

1. start the loopback CARLA server (sim.server) and generate a mini CAOS dataset with
   sim.generate: training towns, a validation town, test towns with inserted anomalies;
2. train one small PSPNet with a confidence branch (every scorer reads it: the logit scorers,
   MC dropout and Branch) and a small autoencoder (segood-train);
3. evaluate every CAOS scorer plus energy and SML (tools/eval_caos.py);
4. print the results table, the report folder, the time and CPU seconds of each stage and
   the CPU they ran on.

Every step resumes: a second run reuses what is made, an interrupted one continues.

    segood-demo [--out demo_out] [--train-frames 80] [--iters 150]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from segood.cli.app import command, parser

ROOT = Path(__file__).resolve().parents[2]  # the checkout: configs/, tools/, sim/
CONFIGS = {
    "pspnet-conf": "configs/demo/pspnet-conf_r18-d8-c128_1xb4-150i_sim-demo-128x224.py",
    "ae": "configs/demo/ae-c16_1xb4-150i_sim-demo-128x224.py",
}


@command("segood-demo", "rerun it to continue where it stopped")
def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__)
    p.add_argument("--out", default="demo_out", help="everything the demo makes")
    p.add_argument("--width", type=int, default=224)
    p.add_argument("--height", type=int, default=128)
    p.add_argument("--train-frames", type=int, default=80)
    p.add_argument("--val-frames", type=int, default=16)
    p.add_argument("--test-frames", type=int, default=32)
    p.add_argument("--anomalies", type=int, default=3, help="props per test frame")
    p.add_argument("--iters", type=int, help="override the PSPNet's training iterations")
    p.add_argument("--ae-iters", type=int, help="override the autoencoder's iterations")
    args = p.parse_args(argv)
    out = (ROOT / args.out).resolve() if not Path(args.out).is_absolute() else Path(args.out)
    data = out / "data"
    timer = StageTimer()

    step("1/4", f"generating scenes with the loopback CARLA server into {data}")
    frames = {"train": args.train_frames, "validation": args.val_frames, "test": args.test_frames}
    with timer("generate"):
        if all(count_frames(data, split) >= n for split, n in frames.items()):
            print("    already generated")
        else:
            generate(data, frames, args)

    step("2/4", "training one PSPNet with a confidence branch, and a small autoencoder")
    checkpoints = {}
    for name, config in CONFIGS.items():
        options = [f"data_root={data}"]
        iters = args.ae_iters if name == "ae" else args.iters
        if iters:
            options += [f"train_cfg.max_iters={iters}", f"param_scheduler.0.end={iters}"]
        with timer(f"train {name}"):
            checkpoints[name] = train(name, config, out / "work_dirs" / name, options)

    step("3/4", "evaluating every CAOS scorer plus energy and SML")
    report = out / "report"
    with timer("evaluate"):
        run([
            sys.executable, "tools/eval_caos.py", CONFIGS["pspnet-conf"],
            "--checkpoint", checkpoints["pspnet-conf"],  # its confidence branch: Branch
            "--ae-checkpoint", checkpoints["ae"],
            "--extra-scorers", "energy", "sml",
            "--data-root", str(data), "--scales", "full", "--protocol", "all",
            "--out", str(report), "--resume",
        ])  # fmt: skip

    step("4/4", f"done in {timer.total():.0f} s on {cpu_model()}")
    print(timer.table())
    print(f"    report: {report}/ (results.md, results.json, roc_*.png, pr_*.png, panels_*.png)")
    print("    these are results on synthetic scenes from the loopback renderer (reported as")
    print("    sim-hazards), not on StreetHazards")
    return 0


class StageTimer:
    """Wall-clock and CPU seconds (user + sys of this process and its children) per stage."""

    def __init__(self) -> None:
        self.stages: dict[str, tuple[float, float]] = {}
        self.start = time.perf_counter()

    def __call__(self, name: str) -> StageTimer:
        self.name = name
        return self

    def __enter__(self) -> None:
        self.t0, self.c0 = time.perf_counter(), cpu_seconds()

    def __exit__(self, *exc) -> None:
        self.stages[self.name] = (time.perf_counter() - self.t0, cpu_seconds() - self.c0)

    def total(self) -> float:
        return time.perf_counter() - self.start

    def table(self) -> str:
        rows = [f"    {'stage':<18} {'wall s':>7} {'CPU s':>7}"]
        rows += [f"    {k:<18} {w:>7.0f} {c:>7.0f}" for k, (w, c) in self.stages.items()]
        wall, cpu = (sum(v[i] for v in self.stages.values()) for i in (0, 1))
        rows.append(f"    {'total':<18} {wall:>7.0f} {cpu:>7.0f}")
        return "\n".join(rows)


def cpu_seconds() -> float:
    """user + sys seconds of this process and its finished children."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def cpu_model() -> str:
    """e.g. "Intel(R) Xeon(R) Processor (2 CPUs)", from /proc/cpuinfo where there is one."""
    name = platform.processor() or platform.machine() or "an unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} CPUs)"


def step(number: str, text: str) -> None:
    print(f"\n[{number}] {text}", flush=True)


def run(command: list[str]) -> None:
    # this checkout's segood and sim, whatever is installed
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    code = subprocess.call(command, cwd=ROOT, env=env)
    if code != 0:
        print(f"demo: step failed ({' '.join(command[:3])} ... exit {code}); rerun `make demo` "
              "to continue from here", file=sys.stderr)  # fmt: skip
        raise SystemExit(code)


def count_frames(data: Path, split: str) -> int:
    from segood.data.streethazards import split_folder
    from sim.writer import METADATA

    folder = split_folder(data, split, METADATA)
    return sum(1 for _ in folder.rglob("*.json")) if folder.is_dir() else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def generate(data: Path, frames: dict[str, int], args: argparse.Namespace) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sim.server", "--port", str(port), "--idle-timeout", "120"],
        cwd=ROOT,
    )
    try:
        wait_for_port(port, server)
        for split, n in frames.items():
            command = [
                sys.executable, "-m", "sim.generate", "--port", str(port), "--split", split,
                "--frames", str(n), "--out", str(data), "--width", str(args.width),
                "--height", str(args.height),
            ]  # fmt: skip
            if split == "test":
                command += ["--anomalies", str(args.anomalies)]
            run(command)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def wait_for_port(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"demo: the loopback CARLA server exited (code {server.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"demo: the loopback CARLA server did not open port {port}")


def train(name: str, config: str, work_dir: Path, options: list[str]) -> str:
    """Train (or resume) one model; returns its final checkpoint."""
    final = final_checkpoint(work_dir)
    if final is not None:
        print(f"    {name}: already trained ({final.name})")
        return str(final)
    print(f"    {name}: {config}")
    resume = ["--resume"] if (work_dir / "last_checkpoint").is_file() else []  # interrupted
    run([sys.executable, "-m", "segood.cli.train", config, "--work-dir", str(work_dir), *resume,
         "--cfg-options", *options])  # fmt: skip
    final = final_checkpoint(work_dir)
    if final is None:
        raise SystemExit(f"demo: training {name} ended without a final checkpoint in {work_dir}")
    return str(final)


def final_checkpoint(work_dir: Path) -> Path | None:
    """The checkpoint of the last iteration, if training finished (recorded in done.json)."""
    marker = work_dir / "done.json"
    if marker.exists():
        path = Path(json.loads(marker.read_text())["checkpoint"])
        return path if path.exists() else None
    config = next(work_dir.glob("*.py"), None) if work_dir.is_dir() else None
    if config is None:
        return None
    from mmengine.config import Config

    max_iters = Config.fromfile(str(config)).train_cfg.max_iters
    path = work_dir / f"iter_{max_iters}.pth"
    if not path.exists():
        return None
    from segood.io import write_json

    write_json(marker, {"checkpoint": str(path)})
    return path


if __name__ == "__main__":
    raise SystemExit(main())
