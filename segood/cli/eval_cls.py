"""Classification OOD benchmarks with segood's scorers, logits scored as 1x1 images
(`segood-eval-cls`, `tools/eval_cls.py`).

    segood-eval-cls logits --id ID.npz --ood NAME=PATH.npz ... [--fit TRAIN.npz]
        [--scorers msp maxlogit ...] [--set energy.temperature=2] [--convention segood|openood|
        pytorch-ood] [--out DIR]
    segood-eval-cls folders --id-dir DIR --ood-dir NAME=DIR ... --arch resnet18
        --weights W.pth [--timm] [--synthetic gaussian rademacher blobs] [--mc-passes 8] ...
    segood-eval-cls multilabel [--id ID.npz --ood NAME=PATH ... --fit TRAIN.npz]
        (default: the embedded digit-pairs multi-label demo)
    segood-eval-cls holdout [--classes 0 1 ...] [--epochs 8] [--rotation 0.5]
        [--train-dir DIR --test-dir DIR]  (default: scikit-learn's bundled digits)
    segood-eval-cls energy-ft [--m-in -15 --m-out -5 --epochs ...]  (digits demo)

Every run prints a table and writes results.json, run.json (protocol, settings, data sizes),
results.csv and results.md under --out (and ROC/PR PNGs for logits/folders/multilabel).
Errors in the input print one message to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from segood.cli.app import command, parser
from segood.cli.options import add_device


def add_common(p: argparse.ArgumentParser, out: str) -> None:
    from segood.classification.conventions import CONVENTIONS

    p.add_argument("--scorers", nargs="+", help="exactly these registered scorers")
    p.add_argument("--set", nargs="+", default=[], metavar="SCORER.OPTION=VALUE")
    p.add_argument("--convention", default="segood", choices=CONVENTIONS)
    p.add_argument("--out", default=out, help="report folder")
    p.add_argument("--no-plots", action="store_true")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = parser(__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    q = sub.add_parser("logits", help="saved logits (.npz) of any classifier")
    q.add_argument("--id", required=True, help="in-distribution .npz (logits (N, C), ...)")
    q.add_argument("--ood", nargs="+", required=True, metavar="NAME=PATH")
    q.add_argument("--fit", help="in-distribution .npz to fit SML / KL matching / iForest / LOF")
    add_common(q, "outputs/eval_cls/logits")

    q = sub.add_parser("folders", help="a classifier checkpoint + image folders")
    q.add_argument("--id-dir", required=True, help="in-distribution images (ImageFolder layout)")
    q.add_argument("--ood-dir", nargs="*", default=[], metavar="NAME=DIR")
    q.add_argument("--synthetic", nargs="*", default=[], help="gaussian rademacher blobs")
    q.add_argument("--synthetic-count", type=int, default=1000)
    q.add_argument("--arch", required=True, help="torchvision (or, with --timm, timm) model name")
    q.add_argument("--weights", required=True, help="local state dict file (weights_only)")
    q.add_argument("--timm", action="store_true", help="--arch names a timm model")
    q.add_argument("--num-classes", type=int, help="classes of the checkpoint (default: inferred)")
    q.add_argument("--size", type=int, default=224, help="center-crop size")
    q.add_argument("--resize", type=int, help="short side before cropping (default size*8/7)")
    q.add_argument("--mean", type=float, nargs=3, default=(0.485, 0.456, 0.406))
    q.add_argument("--std", type=float, nargs=3, default=(0.229, 0.224, 0.225))
    q.add_argument("--mc-passes", type=int, default=0, help="MC-dropout passes T (0 = off)")
    q.add_argument("--batch-size", type=int, default=64)
    q.add_argument("--max-images", type=int, help="at most N images per set")
    add_device(q)
    q.add_argument("--save-logits", action="store_true", help="also write <set>.npz under --out")
    add_common(q, "outputs/eval_cls/folders")

    q = sub.add_parser("multilabel", help="sigmoid classifiers (CAOS section 4)")
    q.add_argument("--id", help="in-distribution .npz (default: the digit-pairs demo)")
    q.add_argument("--ood", nargs="*", default=[], metavar="NAME=PATH")
    q.add_argument("--fit", help="in-distribution training .npz with features (iForest / LOF)")
    q.add_argument("--epochs", type=int, default=15, help="demo: training epochs")
    q.add_argument("--mc-passes", type=int, default=8, help="demo: MC-dropout passes")
    q.add_argument("--seed", type=int, default=0)
    add_common(q, "outputs/eval_cls/multilabel")

    q = sub.add_parser("holdout", help="hold-out-class benchmark (Ahmed & Courville)")
    q.add_argument("--classes", type=int, nargs="+", help="held-out classes (default: all)")
    q.add_argument("--epochs", type=int, default=8)
    q.add_argument("--rotation", type=float, default=0.0, help="rotation head weight lambda")
    q.add_argument("--train-dir", help="ImageFolder training images (e.g. CIFAR-10 train)")
    q.add_argument("--test-dir", help="ImageFolder test images")
    q.add_argument("--size", type=int, default=32, help="image size for folders")
    q.add_argument("--max-per-class", type=int, help="at most N images per class (folders)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--scorers", nargs="+", default=["msp", "maxlogit", "energy"])
    q.add_argument("--out", default="outputs/eval_cls/holdout")

    q = sub.add_parser("energy-ft", help="energy-bounded fine-tuning (Liu et al. 2020), digits")
    q.add_argument("--m-in", type=float, default=None, help="ID energy margin (default -15)")
    q.add_argument("--m-out", type=float, default=None, help="outlier energy margin (default -5)")
    q.add_argument("--weight", type=float, default=0.1, help="weight of the energy terms")
    q.add_argument("--epochs", type=int, default=10, help="pre-training epochs")
    q.add_argument("--ft-epochs", type=int, default=5, help="fine-tuning epochs")
    q.add_argument("--seed", type=int, default=0)
    add_common(q, "outputs/eval_cls/energy_ft")
    return p.parse_args(argv)


@command("segood-eval-cls")
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if "device" in args:
        from segood.cli.distributed import select_device

        args.device = select_device(args.device) or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(min(torch.get_num_threads(), 4))
    from segood.classification import cli

    result = getattr(cli, args.command.replace("-", "_"))(args)
    print(result["table"])
    if getattr(args, "out", None):
        print(f"reports written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
