"""Benchmark: segood's exact metrics against scikit-learn, and pooled-accumulator memory.

Part 1 times one 720x1280 score map with ~1% anomalies: segood's AUROC + AUPR + FPR95 against
sklearn's roc_auc_score + average_precision_score + roc_curve (what the CAOS reference calls),
in the same run, and checks that the numbers agree.
Part 2 streams N fresh maps of 720x1280 MSP-like float32 scores (softmax of 13 random
logits) into the pooled accumulator and reports the distinct values it keeps, the peak memory
it allocated (tracemalloc, including the map being added) and the accumulator's time per
image; with --images 1500 this is the StreetHazards test set's 1.38 G pixels.

    python tools/benchmarks/bench_metrics.py [--repeat 5] [--images 100]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from tqdm import tqdm

from segood.metrics import PooledAccumulator, ood_metrics

H, W = 720, 1280


def score_map(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """MSP-like float32 scores with ~1% anomalous pixels in a few blobs that score higher."""
    logits = rng.normal(size=(13, H // 8, W // 8)).astype(np.float32) * 3
    logits = np.repeat(np.repeat(logits, 8, axis=1), 8, axis=2)
    logits += rng.normal(size=logits.shape).astype(np.float32) * 0.5
    labels = np.zeros((H, W), bool)
    for _ in range(4):
        y, x = rng.integers(0, H - 48), rng.integers(0, W - 48)
        labels[y : y + 48, x : x + 48] = True
    logits[:, labels] *= 0.3  # flatter softmax on anomalies
    p = np.exp(logits - logits.max(0))
    scores = -(p.max(0) / p.sum(0)).astype(np.float32)
    return scores, labels


def time_best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_single(repeat: int) -> None:
    rng = np.random.default_rng(0)
    scores, labels = score_map(rng)
    s, y = scores.ravel(), labels.ravel()

    def ours():
        return ood_metrics(scores, labels)

    def sklearn():
        return roc_auc_score(y, s), average_precision_score(y, s), roc_curve(y, s)

    t_ours, t_sk = time_best(ours, repeat), time_best(sklearn, max(1, repeat // 2))
    mine, (auc, ap, _) = ours(), sklearn()
    diff = max(abs(mine["auroc"] - auc), abs(mine["aupr"] - ap))
    print(f"one {H}x{W} map, {labels.mean():.2%} anomalous, best of {repeat}:")
    print(f"  segood ood_metrics (AUROC+AUPR+FPR95): {t_ours * 1e3:8.1f} ms")
    print(f"  sklearn (roc_auc + AP + roc_curve):    {t_sk * 1e3:8.1f} ms")
    print(f"  speed-up: {t_sk / t_ours:.1f}x   max |difference| vs sklearn: {diff:.1e}")


def bench_pooled(n_images: int) -> None:
    rng = np.random.default_rng(1)
    acc = PooledAccumulator()
    tracemalloc.start()
    elapsed = 0.0
    for _ in tqdm(range(n_images), desc="pooled", unit="map", leave=False):
        scores, labels = score_map(rng)  # a fresh map: new distinct values every time
        start = time.perf_counter()
        acc.add(scores, labels)
        elapsed += time.perf_counter() - start
    start = time.perf_counter()
    result = acc.compute()
    elapsed += time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pixels = n_images * H * W
    print(f"pooled accumulator, {n_images} maps of {H}x{W} = {pixels / 1e9:.2f} G pixels:")
    distinct = len(acc.pos.keys) + len(acc.neg.keys)
    print(
        f"  {distinct / 1e6:.1f} M distinct values, state {acc.nbytes / 2**20:.0f} MiB, "
        f"peak allocated {peak / 2**20:.0f} MiB "
        f"({peak / pixels:.3f} bytes/pixel; the raw float32 pixels: {pixels * 4 / 2**30:.1f} GiB)"
    )
    print(f"  {elapsed / n_images * 1e3:.0f} ms per image; AUROC {result['auroc']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--images", type=int, default=100, help="maps for the pooled part")
    args = parser.parse_args()
    bench_single(args.repeat)
    if args.images:
        bench_pooled(args.images)


if __name__ == "__main__":
    main()
