"""Convert another codebase's trained PSPNet into one segood checkpoint (`segood-convert`,
`tools/convert_checkpoint.py`).

    segood-convert csail --encoder encoder_epoch_20.pth \\
        --decoder decoder_epoch_20.pth --arch resnet101dilated --num-classes 13 --out pspnet_sh.pth
    segood-convert mmseg \\
        --checkpoint pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth \\
        --out pspnet_r101_cityscapes.pth

The output loads with torch.load(weights_only=True), carries its own model description
(`segood.models.load_network(path)` needs nothing else) and evaluates with
`tools/eval_caos.py CONFIG --checkpoint OUT`. Nothing is dropped: a key that does not map or
a shape that disagrees is an error naming it.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from segood.cli.app import command, parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = parser(__doc__)
    sub = p.add_subparsers(dest="source", required=True)
    csail = sub.add_parser(
        "csail", help="the CAOS reference's encoder/decoder files (semantic-segmentation-pytorch)"
    )
    csail.add_argument("--encoder", required=True, help="encoder_epoch_N.pth")
    csail.add_argument("--decoder", required=True, help="decoder_epoch_N.pth")
    csail.add_argument(
        "--arch",
        required=True,
        help="the encoder: resnet18dilated, resnet50dilated or resnet101dilated",
    )
    csail.add_argument("--decoder-arch", default="ppm_deepsup", help="decoder (ppm_deepsup)")
    csail.add_argument(
        "--num-classes", type=int, help="checked against the decoder (default: read from it)"
    )
    csail.add_argument("--out", required=True, help="the segood checkpoint to write")
    mmseg = sub.add_parser(
        "mmseg", help="an mmsegmentation PSPNet R50/R101-d8 checkpoint (ResNetV1c, PSPHead)"
    )
    mmseg.add_argument("--checkpoint", required=True, help="the mmsegmentation .pth file")
    mmseg.add_argument(
        "--num-classes", type=int, help="checked against the checkpoint (default: read from it)"
    )
    mmseg.add_argument("--out", required=True, help="the segood checkpoint to write")
    return p.parse_args(argv)


@command("segood-convert")
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from segood.models.convert import convert_csail, convert_mmseg, save_converted

    if args.source == "csail":
        state, model_cfg, source = convert_csail(
            args.encoder, args.decoder, args.arch, args.num_classes, args.decoder_arch
        )
    else:
        state, model_cfg, source = convert_mmseg(args.checkpoint, args.num_classes)
    out = save_converted(args.out, state, model_cfg, source)
    print(
        f"wrote {out}: PSPNet {model_cfg['encoder']} ({model_cfg['stem']} stem), "
        f"{model_cfg['num_classes']} classes, {len(state)} tensors"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
