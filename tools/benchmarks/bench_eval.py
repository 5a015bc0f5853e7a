"""Benchmark: where the time of one evaluated image goes, stage by stage, on a chosen device.

For a PSPNet (random weights; the cost does not depend on them), its confidence-branch twin and
the autoencoder, on one image of --size with the multi-scale test of --scales (the reference's
five short sides by default) and the eight CAOS scorers of the demo (MSP, Branch, Background,
MC dropout, AE, MaxLogit, energy, SML), it prints the per-image time of:
- the forward pass at each scale (logits for every logit scorer);
- MC dropout, T passes: segood reruns only dropout + classifier on cached decoder features, the
  naive way reruns the whole network T times per scale (both shown, and their ratio);
- the confidence-branch model (a second network) and the autoencoder;
- each scorer on those outputs (including the copy of its map to the CPU);
- each protocol's per-image metric work (caos, pooled, components, the curve sample and the
  confusion matrix), with sklearn's per-image AUROC + AUPR + FPR95 in the same run as the
  reference for "caos";
- --save-scores: writing the eight maps (float16 and float32 .npz, SegmentMeIfYouCan .hdf5);
then the total per image and the estimate for the StreetHazards test split (1,500 images).

    python tools/benchmarks/bench_eval.py --device cuda \\
        --config configs/pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py      # GPU, paper size
    python tools/benchmarks/bench_eval.py --encoder resnet18 --size 180 320 \\
        --scales 75 94 113 131 150                                              # small, on a CPU
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

import segood.scorers as scorers
from segood.evaluation.inference import InferenceSettings, infer, reconstruct
from segood.evaluation.prediction_files import ScoreWriter
from segood.evaluation.runner import _curve_pixels, _sample_weights
from segood.evaluation.sources import score_maps
from segood.metrics import PerImageAccumulator, PooledAccumulator
from segood.metrics.components import ComponentAccumulator
from segood.metrics.segmentation import confusion_matrix
from segood.models import AutoEncoder, build_model

CAOS = ("msp", "branch", "background", "mc_dropout", "ae", "maxlogit", "energy", "sml")
REFERENCE_SCALES = (300, 375, 450, 525, 600)
TEST_IMAGES = 1500


def timer(device: str, repeat: int):
    """best_of(fn): the best wall time of `repeat` calls, synchronising a GPU around each."""

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def best_of(fn) -> float:
        fn()  # warm-up: allocator, kernels, caches
        best = float("inf")
        for _ in range(repeat):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            best = min(best, time.perf_counter() - start)
        return best

    return best_of


def build_networks(args) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
    """(PSPNet, its confidence-branch twin, autoencoder), random weights, eval mode."""
    if args.config:
        from segood.engine.runner import read_config
        from segood.evaluation.api import network_config

        cfg = {**network_config(read_config(args.config).model), "pretrained": None}
    else:
        cfg = dict(type="PSPNet", encoder=args.encoder, num_classes=args.classes)
    nets = [build_model(cfg), build_model({**cfg, "confidence_branch": True}), AutoEncoder()]
    return tuple(net.to(args.device).eval() for net in nets)


def forward_stages(args, nets, best_of) -> tuple[list, list, dict, float]:
    """(rows of the forward per scale, rows of the other model stages, the outputs every scorer
    reads, the time of the forward at every scale)."""
    model, branch, autoencoder = nets
    h, w = args.size
    image = torch.randn(1, 3, h, w, device=args.device)
    settings = InferenceSettings(short_sides=tuple(args.scales), full_resolution=not args.scales,
                                 mc_passes=args.passes)  # fmt: skip
    rows = []
    for size in settings.sizes(h, w):
        one = InferenceSettings(short_sides=(min(size),), full_resolution=False)
        one = one if args.scales else InferenceSettings()
        seconds = best_of(lambda s=one: infer(model, image, s, {"logits"}))
        rows.append((f"forward at {size[0]}x{size[1]}", seconds))
    t_forward = sum(t for _, t in rows)

    def run(net, needs):
        return lambda: infer(net, image, settings, needs)

    other = [
        (f"forward + MC dropout T={args.passes}, all scales",
         best_of(run(model, {"logits", "dropout_logits"}))),
        ("confidence-branch model, all scales", best_of(run(branch, {"confidence"}))),
        ("autoencoder", best_of(lambda: reconstruct(autoencoder, image))),
        (f"naive MC dropout: forward + T={args.passes} full passes",
         t_forward + best_of(naive_dropout(model, image, settings))),
    ]  # fmt: skip
    outputs = infer(model, image, settings, {"logits", "dropout_logits"})
    outputs["confidence"] = infer(branch, image, settings, {"confidence"})["confidence"]
    outputs.update(reconstruct(autoencoder, image))
    return rows, other, outputs, t_forward


def naive_dropout(model, image, settings):
    """T full forward passes per scale with dropout on (what a simple implementation does)."""

    def run() -> None:
        model.decode_head.dropout.train()
        with torch.no_grad():
            for size in settings.sizes(*image.shape[-2:]):
                x = torch.nn.functional.interpolate(image, size=size, mode="bilinear")
                for _ in range(settings.mc_passes):
                    model.upsample(model(x), image.shape[-2:])
        model.decode_head.dropout.eval()

    return run


def scorer_stages(outputs, best_of) -> tuple[list[tuple[str, float]], dict[str, np.ndarray]]:
    built = {name: scorers.get(name) for name in CAOS}
    for _ in range(2):  # SML: a stand-in fit on the image's own logits
        built["sml"].update(outputs["logits"])
    rows, maps = [], {}
    for name, scorer in built.items():
        rows.append((name, best_of(lambda n=name, s=scorer: score_maps({n: s}, outputs))))
        maps.update(score_maps({name: scorer}, outputs))
    return rows, maps


def metric_stages(maps, logits, best_of) -> list[tuple[str, float]]:
    """Per-image metric work of each protocol for every score map (plus sklearn for caos)."""
    h, w = next(iter(maps.values())).shape
    rng = np.random.default_rng(0)
    anomaly = np.zeros((h, w), bool)
    anomaly[h // 3 : h // 3 + h // 10, w // 2 : w // 2 + w // 10] = True
    anomaly |= rng.random((h, w)) < 0.001
    ignore = np.zeros((h, w), bool)
    pred, label = logits[0].argmax(0).cpu().numpy(), rng.integers(0, 14, (h, w))

    def curves_and_confusion():
        pick = _curve_pixels(anomaly, ignore, 2000, 0)
        _sample_weights(anomaly, ~anomaly, anomaly.ravel()[pick])
        [m.ravel()[pick] for m in maps.values()]
        confusion_matrix(pred, label, logits.shape[1])

    def pooled():
        accs = {n: PooledAccumulator() for n in maps}
        for name, m in maps.items():
            accs[name].add(m, anomaly, ignore)
            accs[name].rank_counts()  # the compaction a long run amortises

    def sklearn():
        for m in maps.values():
            y, s = anomaly.ravel(), m.ravel()
            roc_auc_score(y, s), average_precision_score(y, s), roc_curve(y, s)

    def caos():
        for m in maps.values():
            PerImageAccumulator().add("i", m, anomaly, ignore)

    def components():
        for m in maps.values():
            ComponentAccumulator(float(np.quantile(m, 0.99))).add("i", m, anomaly, ignore)

    return [
        ("caos", best_of(caos)),
        ("caos with sklearn (the reference's way)", best_of(sklearn)),
        ("pooled", best_of(pooled)),
        ("components (in their second pass)", best_of(components)),
        ("curve sample + confusion matrix", best_of(curves_and_confusion)),
    ]


def save_stages(maps, best_of) -> list[tuple[str, float]]:
    item = {"image_path": "/data/test/images/test/t5/300.png", "name": "t5/300"}

    class Layout:  # where relative_stem finds the split folder
        root, split = Path("/data"), "test"

        @staticmethod
        def split_dirs(root, split):
            return root / "test/images/test", root / "test/annotations/test"

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for dtype, fmt in (("float16", "npz"), ("float32", "npz"), ("float16", "hdf5")):
            writer = ScoreWriter(Path(folder) / f"{dtype}-{fmt}", dtype, fmt)
            seconds = best_of(lambda wr=writer: wr.write(Layout, item, maps))
            rows.append((f"{dtype} .{fmt}", seconds))
    return rows


def print_section(title: str, rows: list[tuple[str, float]], unit: float | None = None) -> float:
    """Print `rows` (label, seconds) under `title`, with the ratio to `unit`; return the sum."""
    print(f"  {title}")
    for label, seconds in rows:
        ratio = f"  {seconds / unit:6.2f}x forward" if unit else ""
        print(f"    {label:<44} {seconds * 1e3:10.1f} ms{ratio}")
    return sum(seconds for _, seconds in rows)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", help="build the network of this config (e.g. the paper's R101)")
    p.add_argument("--encoder", default="resnet101", help="without --config: PSPNet's encoder")
    p.add_argument("--classes", type=int, default=13)
    p.add_argument("--size", type=int, nargs=2, default=(720, 1280), metavar=("H", "W"))
    p.add_argument("--scales", type=int, nargs="*", default=list(REFERENCE_SCALES),
                   help="multi-scale short sides; none = the image's own size only")  # fmt: skip
    p.add_argument("--passes", type=int, default=8, help="MC-dropout passes T")
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeat", type=int, default=3)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    best_of = timer(args.device, args.repeat)
    nets = build_networks(args)
    name = args.config or f"PSPNet {args.encoder}"
    threads = f", {torch.get_num_threads()} CPU threads" if args.device == "cpu" else ""
    size = f"{args.size[0]}x{args.size[1]}"
    print(f"{name}, one {size} image, scales {args.scales or 'full'}, {args.classes} classes, "
          f"device {args.device}{threads}, best of {args.repeat}")  # fmt: skip
    scale_rows, model_rows, outputs, t_forward = forward_stages(args, nets, best_of)
    scorer_rows, maps = scorer_stages(outputs, best_of)
    metric_rows = metric_stages(maps, outputs["logits"], best_of)
    save_rows = save_stages(maps, best_of)
    print_section("forward pass per scale (logits for every logit scorer)", scale_rows, t_forward)
    t_model = print_section("model (per image)", model_rows[:-1], t_forward)
    print_section("for comparison", model_rows[-1:], t_forward)
    t_scorers = print_section("scorers (per image)", scorer_rows, t_forward)
    metrics = dict(metric_rows)
    print_section("metrics (per image, all eight maps)", metric_rows)
    print_section("--save-scores (per image, eight maps)", save_rows)
    summary(t_model, t_scorers, metrics, save_rows[0][1])


def summary(t_model: float, t_scorers: float, metrics: dict, t_save: float) -> None:
    """Per-image totals and the StreetHazards-test estimate."""
    t_metrics = metrics["caos"] + metrics["pooled"] + metrics["curve sample + confusion matrix"]
    caos = t_model + t_scorers + t_metrics
    full = caos + t_model + t_scorers + metrics["components (in their second pass)"]
    ratio = metrics["caos with sklearn (the reference's way)"] / metrics["caos"]
    print(f"  caos metrics, sklearn / segood: {ratio:.1f}x")
    print(f"  per image: --protocol caos (+ pooled) {caos:.2f} s: model {t_model / caos:.0%}, "
          f"scorers {t_scorers / caos:.0%}, metrics {t_metrics / caos:.0%}")  # fmt: skip
    print(
        f"  per image: --protocol all {full:.2f} s (the components pass scores every image again)"
    )
    n = TEST_IMAGES
    print(f"  StreetHazards test ({n} images): caos {caos * n / 60:.1f} min, "
          f"all {full * n / 60:.1f} min; --save-scores (float16 .npz) adds "
          f"{t_save * n / 60:.1f} min")  # fmt: skip


if __name__ == "__main__":
    main()
