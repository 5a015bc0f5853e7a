"""Benchmark: time and peak memory of every gradient and feature scorer on one image.

For a PSPNet (random weights; the cost does not depend on them) on one image of --size
(default 720x1280, CPU): one plain forward pass (the logits and decoder features every scorer
reads), then each scorer on that image: ODIN and the PRO scorers run the model themselves
(forward + backward passes to the input); the feature scorers (Mahalanobis, ViM, kNN) are
fitted on the image's own pixels first (a stand-in for the validation split; the fit time is
shown apart) and score the decoder features. Reported per scorer: seconds, the ratio to one
forward pass, and the peak resident memory growth while scoring (Linux VmHWM, reset before
each measurement; large allocations are mmapped so that freed memory cannot hide a peak).

    python tools/benchmarks/bench_scorers.py [--encoder resnet18] [--size 720 1280]
        [--scorers odin knn ...] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

import segood.scorers as scorers
from segood.evaluation.inference import InferenceSettings, infer
from segood.evaluation.runner import logits_function
from segood.models import build_model

DEFAULT = ["odin", "pro_msp", "pro_entropy", "pro_temp_msp", "pro_gen", "mahalanobis", "vim", "knn"]


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def measure(fn) -> tuple[float, float | None]:
    """(seconds, peak resident memory growth in bytes or None where Linux's VmHWM is missing)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS
        base = _status("VmRSS:")
    except OSError:
        base = None
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return seconds, None if base is None else _status("VmHWM:") - base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default="resnet18")
    parser.add_argument("--size", type=int, nargs=2, default=(720, 1280), metavar=("H", "W"))
    parser.add_argument("--classes", type=int, default=13)
    parser.add_argument("--scorers", nargs="+", default=DEFAULT)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None and sys.platform.startswith("linux"):
        os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"  # glibc reads it at start: re-exec
        os.execv(sys.executable, [sys.executable, *sys.argv])
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(dict(type="PSPNet", encoder=args.encoder, num_classes=args.classes)).eval()
    h, w = args.size
    image = torch.randn(1, 3, h, w)
    settings = InferenceSettings()
    infer(model, image, settings, {"logits"})  # warm-up (library code, allocator)
    t_forward, m_forward = measure(lambda: infer(model, image, settings, {"logits"}))
    outputs = infer(model, image, settings, {"logits", "features", "classifier"})
    outputs["model"], outputs["inputs"] = logits_function(model), image
    d, fh, fw = outputs["features"].shape[1:]
    print(
        f"PSPNet-{args.encoder}, image {h}x{w}, features {d}x{fh}x{fw}, "
        f"{torch.get_num_threads()} thread(s); one forward: {t_forward:.2f} s, "
        f"peak +{(m_forward or 0) / 2**20:.0f} MB\n"
    )
    print(f"{'scorer':<14}{'fit s':>8}{'score s':>10}{'x forward':>11}{'peak MB':>10}")
    for name in args.scorers:
        scorer = scorers.get(name)
        inputs = {k: outputs[k] for k in scorer.requires}
        fit = ""
        if isinstance(scorer, scorers.FittedScorer):
            t_fit, _ = measure(lambda s=scorer, i=inputs: s.update(**i))
            fit = f"{t_fit:.2f}"
            small = {k: v[..., :8, :8] if torch.is_tensor(v) else v for k, v in inputs.items()}
            scorer(**small)  # caches the fit's algebra
        seconds, peak = measure(lambda s=scorer, i=inputs: s(**i))
        peak_text = "n/a" if peak is None else f"{peak / 2**20:.0f}"
        print(f"{name:<14}{fit:>8}{seconds:>10.2f}{seconds / t_forward:>11.2f}{peak_text:>10}")


if __name__ == "__main__":
    main()
