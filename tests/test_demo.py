"""`make demo` end to end at toy size: loopback server -> sim.generate -> tools/train.py (two
models) -> tools/eval_caos.py, then a second run that reuses everything."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_demo_pipeline_end_to_end_and_rerun(tmp_path):
    out = tmp_path / "demo"
    command = [
        sys.executable, "tools/demo.py", "--out", str(out), "--width", "96", "--height", "64",
        "--train-frames", "4", "--val-frames", "2", "--test-frames", "3", "--anomalies", "3",
        "--iters", "2", "--ae-iters", "2",
    ]  # fmt: skip
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # this checkout's segood, whatever is installed
    first = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    saved = json.loads((out / "report" / "results.json").read_text())
    assert list(saved) == ["sim-hazards"]  # synthetic scenes, not StreetHazards
    results = saved["sim-hazards"]
    assert results["settings"]["dataset"] == "streethazards"  # read in that layout
    scorers = {"msp", "branch", "background", "mc_dropout", "ae", "maxlogit", "energy", "sml"}
    assert set(results["caos"]) == scorers
    assert results["caos"]["msp"]["images_used"] + results["caos"]["msp"]["images_skipped"] == 3
    for name in ("panels_sim-hazards.png", "roc_sim-hazards.png", "results.md"):
        assert (out / "report" / name).stat().st_size > 0
    assert "FPR95" in first.stdout and str(out / "report") in first.stdout
    assert "sim-hazards (synthetic)" in first.stdout and "StreetHazards " not in first.stdout
    assert "CPU s" in first.stdout and " on " in first.stdout  # stage timings and the CPU
    for noise in ("FileClient", "HardDiskBackend", "libpng", "Traceback", "WARNING", "ERROR"):
        assert noise not in first.stdout + first.stderr, noise
    second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "already generated" in second.stdout and second.stdout.count("already trained") == 2
    again = json.loads((out / "report" / "results.json").read_text())["sim-hazards"]
    assert again["caos"] == results["caos"]
