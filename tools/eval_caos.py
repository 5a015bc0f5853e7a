#!/usr/bin/env python
"""Evaluate anomaly scorers on StreetHazards / BDD-Anomaly with the CAOS protocol.

    python tools/eval_caos.py CONFIG --checkpoint CKPT [--ae-checkpoint CKPT]
        [--branch-checkpoint CKPT] [--scorers msp maxlogit ...] [--extra-scorers energy sml]
        [--protocol caos|pooled|components|all|smiyc-anomaly|smiyc-obstacle]
        [--scales 300 375 450 525 600 | --scales full]
        [--out DIR] [--resume] [--launcher none|pytorch] [--save-scores]
    python tools/eval_caos.py --predictions DIR | NAME=DIR ... --dataset streethazards|bdd_anomaly
        --data-root ROOT [--split test] [--out DIR] ...     (saved predictions, no model)

Default scorers: the paper's (MSP, Branch, Background, MC dropout, AE, MaxLogit), each one
that the given checkpoints make possible. Multi-GPU / multi-process:
    torchrun --nproc-per-node N tools/eval_caos.py ... --launcher pytorch
"""

from __future__ import annotations

import argparse
import os
import sys

from segood.errors import SegoodError
from segood.evaluation.protocols import protocol_names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "config", nargs="?", help="a config from configs/ (names the dataset and the model)"
    )
    p.add_argument("--checkpoint", help="the segmentation model's checkpoint (with a config)")
    p.add_argument("--ae-checkpoint", help="autoencoder checkpoint (for the AE scorer)")
    p.add_argument("--branch-checkpoint", help="confidence-branch model checkpoint (Branch)")
    p.add_argument("--scorers", nargs="+", help="exactly these scorers (default: the CAOS ones)")
    p.add_argument("--extra-scorers", nargs="+", default=[], help="added to the default scorers")
    p.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="SCORER.OPTION=VALUE",
        help="scorer settings, e.g. odin.eps=0.001 knn.k=20 energy.temperature=2",
    )
    p.add_argument(
        "--protocol",
        default="caos",
        choices=[*protocol_names(), "all"],
        help="all = caos + pooled + components; smiyc-* = the SegmentMeIfYouCan leaderboard's",
    )
    p.add_argument(
        "--scales",
        nargs="+",
        help="short sides of the multi-scale test (reference: 300 375 450 525 600), or 'full' "
        "for the image's own size only; default: the config's evaluation.scales",
    )
    p.add_argument("--full-res", action="store_true", help="also run at full resolution")
    p.add_argument(
        "--average",
        default="logits",
        choices=["logits", "probs"],
        help="average logits over scales (correct) or probabilities (the reference's behaviour)",
    )
    p.add_argument("--mc-passes", type=int, default=8, help="MC-dropout passes T")
    p.add_argument("--out", default="outputs/eval", help="report folder")
    p.add_argument("--resume", action="store_true", help="continue a run in --out")
    p.add_argument("--data-root", help="override the config's data_root")
    p.add_argument("--max-images", type=int, help="evaluate only the first N images")
    p.add_argument(
        "--fit-images",
        type=int,
        help="fit SML, KL matching, Mahalanobis, ViM, kNN on N validation images",
    )
    p.add_argument("--panels", type=int, default=4, help="images in the heat-map panel figure")
    p.add_argument("--component-threshold", type=float, help="pixel threshold for 'components'")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--launcher", default="none", choices=["none", "pytorch"])
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE")
    add_prediction_args(p)
    return p.parse_args(argv)


def add_prediction_args(p: argparse.ArgumentParser) -> None:
    """Saved predictions (instead of CONFIG --checkpoint), --save-scores, reference options."""
    p.add_argument(
        "--predictions",
        nargs="+",
        metavar="[NAME=]DIR",
        help="evaluate saved predictions (one .npy/.npz/.hdf5 per image) instead of a model",
    )
    p.add_argument("--dataset", help="with --predictions: streethazards or bdd_anomaly")
    p.add_argument("--split", default="test", help="with --predictions: the split (test)")
    p.add_argument(
        "--save-scores", action="store_true", help="save every score map (OUT/<dataset>/scores)"
    )
    p.add_argument("--save-dtype", default="float16", choices=["float16", "float32"])
    p.add_argument("--save-format", default="npz", choices=["npz", "hdf5"],
                   help="npz, or hdf5 (SegmentMeIfYouCan's per-frame layout)")  # fmt: skip
    p.add_argument(
        "--exclude-background",
        action="store_true",
        help="drop class 0 before scoring (the reference's --exclude_back)",
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from segood.evaluation.api import EvalOptions, evaluate, print_summary

        check_arguments(args)
        rank, world = 0, 1
        device = args.device
        if args.launcher == "pytorch":
            rank, world, device = init_distributed(args.device)
        if args.predictions:
            return _predictions(args, rank, world)
        if not args.config or not args.checkpoint:
            raise SegoodError(
                "give CONFIG --checkpoint CKPT (a model), or --predictions DIR --dataset NAME "
                "--data-root ROOT (saved predictions)"
            )
        if args.mc_passes < 2:
            raise SegoodError(f"--mc-passes must be at least 2, got {args.mc_passes}")
        scales = None
        if args.scales is not None:
            scales = () if args.scales == ["full"] else tuple(_ints(args.scales, "--scales"))
        options = EvalOptions(
            config=args.config,
            checkpoint=args.checkpoint,
            ae_checkpoint=args.ae_checkpoint,
            branch_checkpoint=args.branch_checkpoint,
            scorers=args.scorers,
            extra_scorers=args.extra_scorers,
            scales=scales,
            full_resolution=True if args.full_res else None,
            average=args.average,
            mc_passes=args.mc_passes,
            data_root=args.data_root,
            fit_images=args.fit_images,
            device=device,
            cfg_options=_options(args.cfg_options),
            **shared_options(args),
        )
        results = evaluate(options, rank, world)
        if results is not None:
            print_summary(results, args.out)
        return 0
    except SegoodError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def shared_options(args: argparse.Namespace) -> dict:
    """The options a model run and a --predictions run take alike."""
    from segood.scorers.registry import parse_options

    return dict(
        protocol=args.protocol,
        out=args.out,
        resume=args.resume,
        max_images=args.max_images,
        panels=args.panels,
        component_threshold=args.component_threshold,
        scorer_options=parse_options(args.set),
        progress=not args.no_progress,
        exclude_background=args.exclude_background,
        save_scores=args.save_scores,
        save_dtype=args.save_dtype,
        save_format=args.save_format,
    )


def _predictions(args: argparse.Namespace, rank: int, world: int) -> int:
    from segood.evaluation.api import print_summary
    from segood.evaluation.predictions_api import PredictionOptions, evaluate_predictions

    model_only = [f for f in ("config", "checkpoint", "ae_checkpoint", "branch_checkpoint")
                  if getattr(args, f)]  # fmt: skip
    if model_only or args.extra_scorers:
        raise SegoodError(
            "--predictions evaluates saved files without a model; leave out "
            f"{', '.join(model_only) or '--extra-scorers'} (choose logit scorers with --scorers)"
        )
    if not args.dataset or not args.data_root:
        raise SegoodError("--predictions needs --dataset streethazards|bdd_anomaly and --data-root")
    options = PredictionOptions(
        predictions=args.predictions,
        dataset=args.dataset,
        data_root=args.data_root,
        split=args.split,
        scorers=args.scorers,
        **shared_options(args),
    )
    results = evaluate_predictions(options, rank, world)
    if results is not None:
        print_summary(results, args.out)
    return 0


def init_distributed(device: str | None) -> tuple[int, int, str]:
    import torch
    import torch.distributed as dist

    if "RANK" not in os.environ:
        raise SegoodError("--launcher pytorch needs torchrun (RANK / WORLD_SIZE are not set)")
    local = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available() and device != "cpu":
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        device = f"cuda:{local}"
    else:
        dist.init_process_group("gloo")
        device = "cpu"
    return dist.get_rank(), dist.get_world_size(), device


def check_arguments(args: argparse.Namespace) -> None:
    """The values a run would otherwise fail on late (or deep inside torch), checked first."""
    from segood.arguments import check_count, check_device, check_output_dir

    check_output_dir(args.out, "--out")
    check_device(args.device)
    check_count(args.max_images, "--max-images")
    check_count(args.fit_images, "--fit-images")
    check_count(args.panels, "--panels", minimum=0)


def _ints(values: list[str], flag: str) -> list[int]:
    try:
        ints = [int(v) for v in values]
    except ValueError:
        raise SegoodError(f"{flag} takes integers (short sides) or 'full', got {values}") from None
    if min(ints) < 1:
        raise SegoodError(f"{flag} takes short sides of at least 1 pixel, got {values}")
    return ints


def _options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise SegoodError(f"--cfg-options takes KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        try:
            import ast

            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    return options


if __name__ == "__main__":
    sys.exit(main())
