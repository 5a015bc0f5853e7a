"""Evaluate anomaly scorers on CAOS and the road-anomaly benchmarks, each by its leaderboard
(`segood-eval`, `tools/eval_caos.py`).

    segood-eval CONFIG --checkpoint CKPT [--ae-checkpoint CKPT]
        [--branch-checkpoint CKPT] [--scorers msp maxlogit ...] [--extra-scorers energy sml]
        [--dataset NAME ... --data-root ROOT ... [--split SPLIT ...]]
        [--protocol caos|pooled|components|all|smiyc-anomaly|smiyc-obstacle]
        [--scales 300 375 450 525 600 | --scales full]
        [--out DIR] [--resume] [--save-scores] [--cfg-options KEY=VALUE ...]
        [--device cpu|cuda|cuda:N] [--launcher none|pytorch|slurm|mpi]
    segood-eval --predictions DIR | NAME=DIR ... --dataset NAME ...
        --data-root ROOT ... [--split SPLIT ...] [--out DIR] ...   (saved predictions, no model)

Datasets: streethazards, bdd_anomaly, smiyc-anomaly, smiyc-obstacle, fishyscapes-laf,
lostandfound, road-anomaly, cityscapes; one --data-root per dataset, in the same order (the
folder its archive extracts to). Default split and protocol: the dataset's leaderboard's.
Several datasets give one table and one results.json.

Default scorers: the paper's (MSP, Branch, Background, MC dropout, AE, MaxLogit), each one
that the given checkpoints make possible. `--cfg-options data_root=DIR` points the config's
datasets and its `evaluation` record at DIR. Multi-GPU / multi-process (the images are sharded
over the processes, the results merged exactly):
    torchrun --nproc-per-node N tools/eval_caos.py ... --launcher pytorch
    srun --ntasks N python tools/eval_caos.py ... --launcher slurm
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from segood.cli.app import command, parser
from segood.cli.options import add_config, add_device, add_launcher, add_progress
from segood.errors import SegoodError
from segood.evaluation.protocols import protocol_names


def build_parser() -> argparse.ArgumentParser:
    p = parser(__doc__)
    add_config(p, "a config from configs/ (names the dataset and the model)", optional=True)
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
        choices=[*protocol_names(), "all"],
        help="default: each dataset's leaderboard protocol (caos for StreetHazards and "
        "BDD-Anomaly, smiyc-* for the SegmentMeIfYouCan datasets); all = caos + pooled + "
        "components",
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
    p.add_argument(
        "--data-root",
        nargs="+",
        metavar="ROOT",
        help="one per --dataset, in the same order (without --dataset: the config's data_root)",
    )
    p.add_argument("--max-images", type=int, help="evaluate only the first N images")
    p.add_argument(
        "--fit-images",
        type=int,
        help="fit SML, KL matching, Mahalanobis, ViM, kNN on N validation images",
    )
    p.add_argument("--panels", type=int, default=4, help="images in the heat-map panel figure")
    p.add_argument("--component-threshold", type=float, help="pixel threshold for 'components'")
    add_device(p)
    add_launcher(p)
    add_progress(p)
    add_prediction_args(p)
    return p


def add_prediction_args(p: argparse.ArgumentParser) -> None:
    """Saved predictions (instead of CONFIG --checkpoint), --save-scores, reference options."""
    p.add_argument(
        "--predictions",
        nargs="+",
        metavar="[NAME=]DIR",
        help="evaluate saved predictions (one .npy/.npz/.hdf5 per image) instead of a model",
    )
    p.add_argument(
        "--dataset",
        nargs="+",
        metavar="NAME",
        help="evaluate these datasets (default with a config: its evaluation block)",
    )
    p.add_argument(
        "--split",
        nargs="+",
        metavar="SPLIT",
        help="one per dataset, or one for all (default: each dataset's leaderboard split)",
    )
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


@command("segood-eval", "rerun with --resume to continue")
def main(argv: Sequence[str] | None = None) -> int:
    from segood.evaluation.options import naming_options_as

    p = build_parser()
    args = p.parse_args(argv)
    with naming_options_as(flag_names(p)):  # the library's messages name our flags
        return run(args)


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """EvalOptions field -> the flag that sets it (CONFIG for the positional config)."""
    flags = {a.dest: a.option_strings[0] if a.option_strings else a.dest.upper()
             for a in parser._actions}  # fmt: skip
    flags.update(scorer_options="--set", full_resolution="--full-res", progress="--no-progress")
    return flags


def run(args: argparse.Namespace) -> int:
    from segood.cli.distributed import init_distributed
    from segood.evaluation.api import evaluate, print_summary
    from segood.evaluation.predictions_api import evaluate_predictions

    check_arguments(args)
    process = init_distributed(args.launcher, args.device)  # each process evaluates a shard
    args.device = process.device
    evaluation = evaluate_predictions if args.predictions else evaluate
    results = evaluation(eval_options(args), process.rank, process.world_size)
    if results is not None:
        print_summary(results, args.out)
    return 0


def eval_options(args: argparse.Namespace):
    """The command line as one `EvalOptions` record (flags named as its fields), checked."""
    from dataclasses import fields

    from segood.evaluation.options import EvalOptions
    from segood.scorers.registry import parse_options

    if args.predictions:
        check_prediction_arguments(args)
    elif not args.config or not args.checkpoint:
        raise SegoodError(
            "give CONFIG --checkpoint CKPT (a model), or --predictions DIR --dataset NAME "
            "--data-root ROOT (saved predictions)"
        )
    scales = None
    if args.scales is not None:
        scales = () if args.scales == ["full"] else tuple(_ints(args.scales, "--scales"))
    if args.dataset and not args.data_root:
        raise SegoodError("--dataset needs --data-root: one folder per dataset, in the same order")
    same_name = {f.name: getattr(args, f.name) for f in fields(EvalOptions) if f.name in vars(args)}
    converted = dict(
        scales=scales,
        scorer_options=parse_options(args.set),
        full_resolution=True if args.full_res else None,
        progress=not args.no_progress,
    )
    return EvalOptions(**{**same_name, **converted})


def check_prediction_arguments(args: argparse.Namespace) -> None:
    """--predictions evaluates files: no model options, and the datasets they belong to."""
    model_only = [f for f in ("config", "checkpoint", "ae_checkpoint", "branch_checkpoint")
                  if getattr(args, f)]  # fmt: skip
    if model_only or args.extra_scorers:
        raise SegoodError(
            "--predictions evaluates saved files without a model; leave out "
            f"{', '.join(model_only) or '--extra-scorers'} (choose logit scorers with --scorers)"
        )
    from segood.evaluation.predictions import parse_predictions

    parse_predictions(args.predictions)  # names and folders first: the first thing to fix
    if not args.dataset or not args.data_root:
        raise SegoodError(
            "--predictions needs --dataset NAME ... and --data-root ROOT ... (one per dataset)"
        )


def check_arguments(args: argparse.Namespace) -> None:
    """The values a run would otherwise fail on late (or deep inside torch), checked first."""
    from segood.arguments import check_count, check_output_dir

    check_output_dir(args.out, "--out")
    check_count(args.mc_passes, "--mc-passes", minimum=2)
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


if __name__ == "__main__":
    raise SystemExit(main())
