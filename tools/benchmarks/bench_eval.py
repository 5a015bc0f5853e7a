"""Benchmark: where the time of one evaluated image goes, and what MC dropout costs.

For a PSPNet (random weights; the cost does not depend on them) on one image of --size:
- forward: one pass producing the logits every logit scorer reads;
- MC dropout, T passes: segood reruns only dropout + classifier on cached decoder features;
  the naive way reruns the whole network T times. Both are shown as ratios to one forward;
- scorers: every registered logit scorer on that one set of logits;
- metrics: segood's exact AUROC + AUPR + FPR95 per scorer, against sklearn's
  roc_auc_score + average_precision_score + roc_curve in the same run.

    python tools/benchmarks/bench_eval.py [--encoder resnet101] [--size 360 640] [--passes 8]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

import segood.scorers as scorers
from segood.evaluation.inference import InferenceSettings, infer
from segood.metrics import ood_metrics
from segood.models import build_model


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default="resnet101")
    parser.add_argument("--size", type=int, nargs=2, default=(360, 640), metavar=("H", "W"))
    parser.add_argument("--classes", type=int, default=13)
    parser.add_argument("--passes", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = build_model(dict(type="PSPNet", encoder=args.encoder, num_classes=args.classes)).eval()
    h, w = args.size
    image = torch.randn(1, 3, h, w)
    settings = InferenceSettings(mc_passes=args.passes)

    t_forward = best_of(lambda: infer(model, image, settings, {"logits"}), args.repeat)
    t_mc = best_of(lambda: infer(model, image, settings, {"logits", "dropout_logits"}), args.repeat)

    def naive():
        model.decode_head.dropout.train()
        with torch.no_grad():
            for _ in range(args.passes):
                model(image)
        model.decode_head.dropout.eval()

    t_naive = best_of(naive, 1) + t_forward
    outputs = infer(model, image, settings, {"logits", "dropout_logits"})
    names = [n for n in scorers.available() if scorers.get(n).requires == ("logits",)]
    names = [n for n in names if not isinstance(scorers.get(n), scorers.FittedScorer)]
    names = sorted({scorers.get(n).name for n in names})
    t_scorers = {}
    maps = {}
    for name in names:
        scorer = scorers.get(name)
        t_scorers[name] = best_of(lambda s=scorer: s(outputs["logits"]), args.repeat)
        maps[name] = scorer(outputs["logits"])[0].numpy()
    t_mc_score = best_of(
        lambda: scorers.get("mc_dropout")(dropout_logits=outputs["dropout_logits"]), args.repeat
    )
    rng = np.random.default_rng(0)
    anomaly = np.zeros((h, w), bool)
    anomaly[h // 3 : h // 3 + h // 10, w // 2 : w // 2 + w // 10] = True
    anomaly |= rng.random((h, w)) < 0.001
    s0 = maps["msp"]
    t_ours = best_of(lambda: ood_metrics(s0, anomaly), args.repeat)

    def sk():
        y, s = anomaly.ravel(), s0.ravel()
        roc_auc_score(y, s)
        average_precision_score(y, s)
        roc_curve(y, s)

    t_sk = best_of(sk, 1)
    n = len(names)
    print(
        f"PSPNet {args.encoder}, one {h}x{w} image, {args.classes} classes, CPU "
        f"({torch.get_num_threads()} threads), best of {args.repeat}"
    )
    rows = [
        ("forward (logits for every scorer)", t_forward),
        (f"forward + MC dropout T={args.passes} (segood)", t_mc),
        (f"forward + MC dropout T={args.passes} (naive)", t_naive),
    ]
    for label, seconds in rows:
        print(f"  {label:<40} {seconds * 1e3:9.1f} ms   {seconds / t_forward:.2f}x")
    print(f"  {n} logit scorers, all                  {sum(t_scorers.values()) * 1e3:9.1f} ms")
    for name in names:
        print(f"      {name:<12} {t_scorers[name] * 1e3:8.1f} ms")
    print(f"      {'mc_dropout':<12} {t_mc_score * 1e3:8.1f} ms")
    print(
        f"  metrics per scorer: segood {t_ours * 1e3:.1f} ms vs sklearn {t_sk * 1e3:.1f} ms "
        f"({t_sk / t_ours:.1f}x)"
    )
    t_all_scorers = sum(t_scorers.values()) + t_mc_score
    t_metrics = (n + 1) * t_ours
    total = t_mc + t_all_scorers + t_metrics
    print(
        f"  per image, all of the above: {total:.2f} s (forward {t_mc / total:.0%}, "
        f"scorers {t_all_scorers / total:.0%}, metrics {t_metrics / total:.0%})"
    )


if __name__ == "__main__":
    main()
